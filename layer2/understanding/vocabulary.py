"""How operators name equipment and metrics: the parser's dictionary.

Equipment types are recognised by aliases ("CH", "genset", "air handler");
metric phrases map to *candidate* columns in order of preference, and the
first candidate that the equipment type actually has (per the introspected
catalog) wins. So "temperature" means ``motor_temp_c`` on a pump,
``discharge_temp_c`` on an air compressor and ``chw_supply_temp_c`` on a
chiller, and "power" means whichever power column the type has. A plural
"temperatures" means every ``*_temp_c`` column of the type.

Longer phrases are tried first, so "chilled water supply temperature" beats
"supply temperature", which beats "temperature".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Equipment type -> regex alternatives (singular stems; plurals are added by the matcher).
TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "chiller": ("chiller", "ch"),
    "cooling_tower": ("cooling tower", "ct", "tower"),
    "pump": ("pump",),
    "air_compressor": ("air compressor", "compressor", "comp"),
    "ahu": ("ahu", "air handler", "air handling unit", "air handling"),
    "boiler": ("boiler",),
    "transformer": ("transformer", "tx", "xfmr", "trafo"),
    "diesel_generator": ("diesel generator", "dg", "genset", "gen set", "generator", "diesel"),
    "ups": ("ups", "u p s"),
    "energy_meter": ("energy meter", "power meter", "meter", "em"),
    "motor": ("motor",),
}

ABSENT = (
    r"total harmonic distortion|harmonic distortion|harmonics?|thd|ph level|ph|conductivity|turbidity|noise level"
    r"|noise|decibels?|torque|refrigerant(?: charge| level| pressure)?|dew point|belt tension"
    r"|bearing temp(?:erature)?|oil quality|wind speed|rainfall|solar|irradiance|nox|emissions?|ammonia(?: level)?"
    r"|h2s|gas leak|radiation(?: level)?|radioactivity"
)
"""What operators may ask that no equipment here measures: said so, never answered with a neighbour."""

_IRREGULAR_PLURALS = {"ahu": "AHUs", "ups": "UPS units"}


def plural(equipment_type: str) -> str:
    """How a fleet of a type is said: "air compressors", "AHUs", "UPS units"."""
    return _IRREGULAR_PLURALS.get(equipment_type, equipment_type.replace("_", " ") + "s")


_POWER = ("power_consumption_kw", "power_output_kw", "output_power_kw", "active_power_kw", "load_kva")
_TEMPERATURE = (
    "chw_supply_temp_c",
    "supply_air_temp_c",
    "outlet_water_temp_c",
    "discharge_temp_c",
    "motor_temp_c",
    "flue_gas_temp_c",
    "coolant_temp_c",
    "battery_temp_c",
    "oil_temp_c",
    "winding_temp_c",
)
ALL_TEMPERATURES = "*_temp_c"
"""Marker candidate: every temperature column of the type (for "temperatures")."""

# (phrase regex, candidate columns in order of preference). Order within the
# list does not matter: the matcher tries longer phrases first.
METRIC_PHRASES: list[tuple[str, tuple[str, ...]]] = [
    # chillers
    (
        r"chilled water supply temp(erature)?s?|chw supply( temp(erature)?)?|leaving (chilled )?water temp(erature)?",
        ("chw_supply_temp_c",),
    ),
    (
        r"chilled water return temp(erature)?s?|chw return( temp(erature)?)?|entering (chilled )?water temp(erature)?",
        ("chw_return_temp_c",),
    ),
    (
        r"condenser water supply( temp(erature)?)?|cw supply( temp(erature)?)?"
        r"|condenser (supply|inlet)( temp(erature)?)?",
        ("cw_supply_temp_c",),
    ),
    (
        r"condenser water return( temp(erature)?)?|cw return( temp(erature)?)?"
        r"|condenser (return|outlet)( temp(erature)?)?",
        ("cw_return_temp_c",),
    ),
    (r"condenser( water)? temp(erature)?", ("cw_supply_temp_c",)),
    (r"chilled water flow|chw flow", ("chw_flow_m3h",)),
    (r"supply water temp(erature)?", ("chw_supply_temp_c",)),
    (r"return water temp(erature)?", ("chw_return_temp_c",)),
    # air handlers
    (r"supply air( temp(erature)?)?|discharge air( temp(erature)?)?", ("supply_air_temp_c", "discharge_temp_c")),
    (r"return air( temp(erature)?)?", ("return_air_temp_c",)),
    (r"supply temp(erature)?s?", ("chw_supply_temp_c", "supply_air_temp_c")),
    (r"return temp(erature)?s?", ("chw_return_temp_c", "return_air_temp_c")),
    (r"filter( dp| differential( pressure)?| pressure drop| pressure)?|differential pressure|dp", ("filter_dp_pa",)),
    (r"(relative )?humidity|rh", ("humidity_percent",)),
    (r"co2|co 2|c o 2|co two|carbon dioxide", ("co2_ppm",)),
    # cooling towers
    (r"inlet( water)? temp(erature)?|hot water temp(erature)?", ("inlet_water_temp_c",)),
    (r"outlet( water)? temp(erature)?|cold water temp(erature)?|leaving temp(erature)?", ("outlet_water_temp_c",)),
    (r"wet bulb( temp(erature)?)?", ("wet_bulb_temp_c",)),
    (r"basin( level)?", ("basin_level_percent",)),
    (r"water level|drum level|level", ("water_level_percent", "basin_level_percent", "fuel_level_percent")),
    # boilers
    (r"steam pressure", ("steam_pressure_bar",)),
    (r"steam( flow| output| production)?", ("steam_flow_kg_h",)),
    (r"fuel flow|gas flow|gas consumption|fuel consumption|fuel (use|usage)", ("fuel_flow_m3h",)),
    (r"flue( gas)? temp(erature)?|stack temp(erature)?|exhaust temp(erature)?|flue gas", ("flue_gas_temp_c",)),
    (r"stack|chimney|smoke", ("flue_gas_temp_c",)),
    (r"efficiency", ("cop", "efficiency_percent")),
    (r"cop|coefficient of performance", ("cop",)),
    # pumps, compressors, motors
    (r"discharge temp(erature)?", ("discharge_temp_c",)),
    (r"discharge pressure|outlet pressure|header pressure|head pressure", ("discharge_pressure_bar",)),
    (r"suction pressure|inlet pressure", ("suction_pressure_bar",)),
    (r"motor temp(erature)?s?|motor winding temp(erature)?", ("motor_temp_c",)),
    (r"oil temp(erature)?", ("oil_temp_c",)),
    (r"oil pressure", ("oil_pressure_bar",)),
    (r"vibrations?|vibrating|shaking", ("vibration_mm_s",)),
    (r"fan speed|fan", ("fan_speed_percent",)),
    (r"speed|rpm|revs", ("speed_rpm", "fan_speed_percent")),
    (r"flow( rate)?s?", ("flow_rate_m3h", "chw_flow_m3h", "steam_flow_kg_h", "fuel_flow_m3h")),
    (r"pressures?", ("discharge_pressure_bar", "steam_pressure_bar", "oil_pressure_bar", "filter_dp_pa")),
    # transformers and electrical
    (r"windings?( temp(erature)?)?", ("winding_temp_c",)),
    (r"kva|load kva|apparent power", ("load_kva",)),
    (r"loads?|loading|utili[sz]ation", ("load_percent", "load_kva", *_POWER, "steam_flow_kg_h")),
    (r"power factor|pf", ("power_factor",)),
    (r"frequency|hz|hertz", ("frequency_hz",)),
    (r"currents?|amps|amperage|amperes", ("current_a",)),
    (r"input voltage", ("input_voltage_v",)),
    (r"output voltage", ("output_voltage_v",)),
    (r"battery voltage", ("battery_voltage_v",)),
    (r"voltages?|volts", ("voltage_v", "output_voltage_v", "battery_voltage_v", "input_voltage_v")),
    # generators and UPS
    (r"coolant( temp(erature)?)?|engine temp(erature)?", ("coolant_temp_c",)),
    (r"fuel( level)?|diesel level|tank level|diesel left|fuel left", ("fuel_level_percent", "fuel_flow_m3h")),
    (r"run(ning)? hours|hours run|engine hours|hour meter", ("run_hours",)),
    (r"battery temp(erature)?", ("battery_temp_c",)),
    (
        r"battery charge|state of charge|soc|charge|battery level|battery",
        ("battery_charge_percent", "battery_voltage_v"),
    ),
    (r"output power|power output", ("output_power_kw", "power_output_kw")),
    # everyday words (how operators say it when they do not name the column)
    (ABSENT, ("absent",)),  # measured nowhere in this plant: "Cooling Tower 1 has no ph; it has ..."
    (r"delivering|delivery|pumping out", ("flow_rate_m3h", "chw_flow_m3h")),
    (r"cubic met(?:re|er)s?(?: an| a| per)? hour|m3 per hour|m3h", ("flow_rate_m3h", "chw_flow_m3h", "fuel_flow_m3h")),
    (r"suction(?: side)?(?: pressure)?|pressure (?:at|on) the suction", ("suction_pressure_bar",)),
    (r"discharge side(?: pressure)?|pressure (?:at|on) the discharge", ("discharge_pressure_bar",)),
    (r"air (?:returning|coming back)(?: to| from)?|returning air", ("return_air_temp_c",)),
    (r"water (?:going into|going in|entering|coming into|flowing into)", ("inlet_water_temp_c", "chw_return_temp_c")),
    (r"water (?:leaving|coming out(?: of)?|going out(?: of)?)", ("outlet_water_temp_c", "chw_supply_temp_c")),
    (r"fresh|stale|freshness", ("co2_ppm",)),
    (r"oil left|oil level|how much oil", ("oil_level_percent",)),  # no type has it: "it has no oil level"
    (r"switched off|turned off|shut down|been off|stopped|tripped off", ("running_status",)),
    (r"overheating|overheated|overheat", _TEMPERATURE),
    (r"chilled water (?:coming back|returning|coming in)|water coming back", ("chw_return_temp_c",)),
    (r"chilled water (?:going out|leaving|sent out)", ("chw_supply_temp_c",)),
    (r"how much chilled water", ("chw_flow_m3h",)),
    (r"sending out|sends out|send out", ("chw_supply_temp_c", "outlet_water_temp_c", "supply_air_temp_c")),
    (r"chilled water return|chilled water coming back", ("chw_return_temp_c",)),
    (r"chilled water supply", ("chw_supply_temp_c",)),
    (r"condenser water (?:going into|entering|going in|coming in)", ("cw_supply_temp_c",)),
    (r"condenser water (?:coming back|returning|leaving|going out|going back)", ("cw_return_temp_c",)),
    (r"power into cooling|cooling per (?:kw|kilowatt)|cooling for the power", ("cop",)),
    (r"\d+(?:\.\d+)? bar", ("discharge_pressure_bar", "steam_pressure_bar", "oil_pressure_bar")),
    (r"shakiest|shakier|shakes", ("vibration_mm_s",)),
    (r"charged|how charged", ("battery_charge_percent",)),
    (r"voltage coming in(?:to)?|incoming voltage", ("input_voltage_v",)),
    (r"coming into|coming in|incoming", ("input_voltage_v",)),
    (r"voltage going out|outgoing voltage|going out", ("output_voltage_v",)),
    (
        r"how much water is in|water in|how much water (?:is )?(?:left|there)",
        ("water_level_percent", "basin_level_percent"),
    ),
    (r"pushing|pumping|how much water", ("flow_rate_m3h", "chw_flow_m3h")),
    (r"how hard|working hard|working", ("load_percent", *_POWER)),
    (r"efficien\w*", ("cop", "efficiency_percent")),
    (r"fuel left|diesel left|fuel remaining|fuel tank|tank|tank level", ("fuel_level_percent",)),
    (r"how much fuel", ("fuel_level_percent", "fuel_flow_m3h")),
    (r"fuel (?:going|flowing) in(?:to)?|fuel (?:going|flowing) to", ("fuel_flow_m3h",)),
    (r"overload\w*", ("load_percent", "load_kva", *_POWER)),
    (r"moving (?:enough )?water|water (?:moving|flowing)|moving", ("flow_rate_m3h", "chw_flow_m3h")),
    (r"comes back|come back|coming back|returning|returns", ("chw_return_temp_c", "return_air_temp_c")),
    (r"sends out|send out|going out|leaving", ("chw_supply_temp_c", "outlet_water_temp_c", "supply_air_temp_c")),
    (r"dirtiest|dirtier|cleanest", ("filter_dp_pa",)),
    (r"chilly|chill", _TEMPERATURE),
    (r"how hot|hot|warm|warmer|warmest|hottest|heat|heating up|cold|colder|coldest|cool|coolest|degrees", _TEMPERATURE),
    (r"vibrating|vibrate[sd]?|shaking|shake|shook|shaky|rattling|rattle[sd]?", ("vibration_mm_s",)),
    (r"humid|moisture|damp|dampness", ("humidity_percent",)),
    (r"air quality|stuffy|fresh air|ppm|parts per million", ("co2_ppm",)),
    (r"clogged|dirty|blocked|choked|pascals", ("filter_dp_pa",)),
    (r"spinning|how fast|rotating|rotation|turning|how quick|how quickly|revving", ("speed_rpm", "fan_speed_percent")),
    (r"engine water|radiator|jacket water", ("coolant_temp_c",)),
    (r"juice|juice left", ("battery_charge_percent",)),
    (r"muggy|sticky|clammy", ("humidity_percent",)),
    (r"gas used|gas use|burning|burn rate|gas|fuel burn|fuel used|fuel consumed", ("fuel_flow_m3h",)),
    (r"backup|backup time|battery left|charge left|how much battery", ("battery_charge_percent",)),
    (r"pulling|pull|current draw|drawing amps", ("current_a", *_POWER)),
    (
        r"producing|generating|putting out|making|production",
        ("power_output_kw", "output_power_kw", "steam_flow_kg_h", *_POWER),
    ),
    (r"how full|full|fullness", ("fuel_level_percent", "basin_level_percent", "water_level_percent")),
    (r"head", ("discharge_pressure_bar",)),
    (r"oil", ("oil_temp_c", "oil_pressure_bar")),
    (r"how loaded|loaded|capacity", ("load_percent", "load_kva", *_POWER)),
    (r"mains|input|getting from the mains|from the mains", ("input_voltage_v",)),
    (r"usage|energy used|energy consumed|units consumed|meter reading|reading of the meter", ("energy_kwh",)),
    # energy and power (generic, so last in specificity)
    (r"energy|kwh|kilowatt hours?|energy consumption|energy use|energy usage", ("energy_kwh", *_POWER)),
    (r"power|drawing|draw|consuming|consumption|kw|kilowatts?|demand|electricity", _POWER),
    (r"output", ("power_output_kw", "output_power_kw", "steam_flow_kg_h", *_POWER)),
    (r"temperatures|temps", (ALL_TEMPERATURES,)),
    (r"temperature|temp", _TEMPERATURE),
    (r"running status|run status|status|on or off|running|switched on|turned on", ("running_status",)),
]


REWRITES = [
    (re.compile(r"\bhow much (fuel|diesel|battery|charge|juice)\b(?=.*\b(?:left|remaining)\b)"), r"\1 left"),
    (re.compile(r"\b(low|lowest|short) on (?:diesel|fuel)\b"), r"\1 fuel level"),
    (re.compile(r"\b(low|lowest|short) on water\b"), r"\1 water level"),
    (re.compile(r"\b(?:running |run )?out of (?:gas|fuel|diesel)\b"), "low fuel level"),
    (
        re.compile(
            r"\b(?:ain'?t|isn'?t|is not|not|hasn'?t|has not|haven'?t|never|won'?t|doesn'?t) "
            r"(?:moving|moved|move|changing|changed|change|budging|budged|budge)\b(?! (?:any|water|air|much))"
        ),
        "stuck",
    ),
]
"""Words apart that mean one metric together ("how much fuel has DG 2 got left" is its fuel level), or no
metric at all ("the reading ain't moving": stuck)."""


@dataclass(frozen=True)
class MetricPhrase:
    pattern: re.Pattern[str]
    candidates: tuple[str, ...]
    specific: bool = True  # False for words every type can be asked ("running"): never "it has no ..."
    weak: bool = False  # an everyday word ("hot", "drawing") that gives way to a column named beside it
    action: bool = False  # a weak verb ("making"), which gives way even to weak words
    required: str = ""  # words every match starts with: a text without them need not be searched


WEAK = re.compile(
    r"how hot|hot|warm|warmer|warmest|hottest|heat|heating up|cold|colder|coldest|cool|coolest|degrees|drawing|draw"
    r"|consuming|burning|pulling|pull|producing|generating|making|loaded|how loaded|mains|input|working|how hard"
    r"|output|power|temperature|temp|gas|demand|electricity|consumption|level|full|how full|fuel|overheating"
    r"|overheated|overheat|chilly|chill|getting from the mains|from the mains|incoming|coming in|coming into"
    r"|sending out|sends out|send out|turning|spinning|rotating|revving|how quick|how quickly|how fast"
)
ACTION_WORDS = re.compile(
    r"drawing|draw|consuming|burning|pulling|pull|producing|generating|making|working|putting out|production"
    r"|pushing"
)
"""Weak words that are verbs: they give way to any other metric word, even a weak one ("how cold ... making")."""
"""Everyday words that mean the column named beside them, if one is ("how hot is the oil": oil temperature)."""


def compile_phrases(columns: list[str]) -> list[MetricPhrase]:
    """The dictionary's phrases, then one per catalog column from its own name ("flue gas temp")."""
    phrases = []
    for alternatives, candidates in METRIC_PHRASES:
        specific = candidates != ("running_status",)
        for alternative in alternatives.split("|") if "(" not in alternatives else [alternatives]:
            weak = not specific or bool(WEAK.fullmatch(alternative))
            action = bool(ACTION_WORDS.fullmatch(alternative))
            pattern = re.compile(rf"\b(?:{alternative})\b")
            phrases.append(MetricPhrase(pattern, candidates, specific, weak, action, _required_prefix(alternative)))
    for column in columns:
        words = _column_words(column)
        if len(words) > 3:
            spoken = re.escape(words).replace("temp", "temp(?:erature)?")
            phrases.append(MetricPhrase(re.compile(rf"\b{spoken}\b"), (column,)))
    return phrases


def _required_prefix(alternative: str) -> str:
    """The literal start every match of ``alternative`` has ("chilled water supply temp" of "chilled water
    supply temp(erature)?s?"), or "" when there is none or the pattern has alternatives of its own."""
    depth = 0
    for char in alternative:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            return ""
    prefix = re.match(r"[a-z0-9 ]*", alternative).group(0)
    if len(prefix) < len(alternative) and alternative[len(prefix)] in "?*{":
        prefix = prefix[:-1]  # "rattles?": the s may be missing
    return prefix.strip() if len(prefix.strip()) >= 2 else ""


def _column_words(column: str) -> str:
    """ "flue_gas_temp_c" -> "flue gas temp": the column's name without its unit."""
    return re.sub(r"_(kw|kva|kwh|c|bar|pa|percent|m3h|kg_h|mm_s|rpm|ppm|v|a|hz)$", "", column).replace("_", " ")


DOMAIN_WORDS = tuple(
    sorted(
        {word for names in TYPE_ALIASES.values() for alias in names for word in alias.split() if len(word) >= 4}
        | {word + "s" for names in TYPE_ALIASES.values() for alias in names for word in alias.split() if len(word) >= 4}
        | set(
            [
                "temperature",
                "temperatures",
                "pressure",
                "pressures",
                "vibration",
                "vibrations",
                "humidity",
                "voltage",
                "current",
                "power",
                "energy",
                "frequency",
                "efficiency",
                "discharge",
                "suction",
                "supply",
                "return",
                "condenser",
                "chilled",
                "battery",
                "charge",
                "coolant",
                "filter",
                "speed",
                "flow",
                "level",
                "steam",
                "fuel",
                "winding",
                "factor",
                "load",
                "alerts",
                "alarms",
                "alert",
                "alarm",
                "critical",
                "average",
                "maximum",
                "minimum",
                "consumption",
                "running",
                "compare",
                "comparison",
                "status",
                "abnormal",
                "anomalies",
                "highest",
                "lowest",
                "kilowatts",
                "generator",
                "generators",
                "winding",
                "outlet",
                "inlet",
                "basin",
                "motor",
            ]
        )
    )
)
"""Words a misheard one may be corrected to (``layer2/understanding/speech.py``)."""


def resolve_metric(candidates: tuple[str, ...], available: list[str]) -> list[str]:
    """The columns ``candidates`` mean for an equipment with ``available`` columns ([] if none fits)."""
    if candidates == (ALL_TEMPERATURES,):
        return [m for m in available if m.endswith("_temp_c")]
    return next(([c] for c in candidates if c in available), [])
