"""What drives what on each type of equipment: the engineering knowledge a diagnosis reads and checks.

For a *symptom* (a metric of a type that reads off), the *drivers* are the
metrics of the same unit that move it by the equipment's physics, each with
the sign of its effect (+1: the driver rising raises the symptom) and the
reason in an operator's words. ``local`` says what it means when no driver
explains the symptom and the unit's peers do not share it: a fault in the
unit itself, in the terms a maintenance engineer would check first.

This is knowledge of plant equipment in general (chiller, tower, pump, ...),
written once, not learned from the demo data: the diagnosis
(``layer2/answering/diagnosis.py``) checks every driver against the unit's
own readings before it names one as a cause, so a driver that did not move
is never blamed. Metrics a type lacks on a customer's database are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Driver:
    metric: str
    sign: int  # +1: the driver rising raises the symptom; -1: lowers it
    why: str  # "the cooling load it carries"


@dataclass(frozen=True)
class Symptom:
    drivers: tuple[Driver, ...]
    local: str  # the unit's own fault when no driver explains it: "oil cooler fouling or low oil"


def _s(local: str, *drivers: tuple[str, int, str]) -> Symptom:
    return Symptom(tuple(Driver(*d) for d in drivers), local)


_STOPPED = ("running_status", 1, "the unit stopped")
_LOAD = "load_percent"

PHYSICS: dict[str, dict[str, Symptom]] = {
    "chiller": {
        "power_consumption_kw": _s(
            "lost efficiency in the chiller itself (fouled tubes or refrigerant charge)",
            (_LOAD, 1, "the cooling load it carries"),
            ("cw_supply_temp_c", 1, "warmer condenser water makes the compressor work harder"),
            ("chw_supply_temp_c", -1, "a colder chilled water setpoint costs power"),
        ),
        "chw_supply_temp_c": _s(
            "the chiller not holding its setpoint (capacity, controls or the sensor)",
            (_LOAD, 1, "more load than it can carry"),
            ("cw_supply_temp_c", 1, "warm condenser water limits its capacity"),
            ("chw_return_temp_c", 1, "warmer water coming back from the building"),
            ("running_status", -1, "the chiller stopped"),
        ),
        "chw_return_temp_c": _s(
            "low chilled water flow or a building load above design",
            (_LOAD, 1, "the building's load"),
            ("chw_flow_m3h", -1, "less chilled water flow"),
        ),
        "cw_return_temp_c": _s(
            "poor heat rejection: condenser water flow or the cooling tower",
            (_LOAD, 1, "the heat it rejects"),
            ("cw_supply_temp_c", 1, "the tower sending back warmer water"),
        ),
        "cw_supply_temp_c": _s(
            "the cooling tower not keeping up (fans, fill or wet bulb)",
            (_LOAD, 1, "the heat it rejects"),
        ),
        "cop": _s(
            "fouled condenser or evaporator tubes, or a refrigerant problem",
            ("cw_supply_temp_c", -1, "warm condenser water lowers efficiency"),
            (_LOAD, 1, "running at part load"),
        ),
        "load_percent": _s("a building load above its usual", ("chw_return_temp_c", 1, "warmer return water")),
    },
    "cooling_tower": {
        "outlet_water_temp_c": _s(
            "fouled fill or nozzles, or a fan problem",
            ("wet_bulb_temp_c", 1, "a higher wet bulb limits how cold the tower can make water"),
            ("inlet_water_temp_c", 1, "more heat coming back from the chillers"),
            ("fan_speed_percent", -1, "a slower fan moves less air"),
            ("running_status", -1, "the tower stopped"),
        ),
        "basin_level_percent": _s("the make-up water valve, or a leak"),
        "power_consumption_kw": _s("a fan or motor fault", ("fan_speed_percent", 1, "a faster fan")),
        "fan_speed_percent": _s(
            "its fan control", ("inlet_water_temp_c", 1, "more heat to reject"), ("wet_bulb_temp_c", 1, "humid air")
        ),
    },
    "pump": {
        "discharge_pressure_bar": _s(
            "a worn impeller, an open bypass or a leak downstream",
            ("speed_rpm", 1, "a slower pump develops less head"),
            ("suction_pressure_bar", 1, "lower pressure on the suction side"),
            ("flow_rate_m3h", -1, "more flow means less head on its curve"),
            _STOPPED,
        ),
        "motor_temp_c": _s(
            "motor cooling or bearing trouble",
            ("power_consumption_kw", 1, "more power drawn heats the motor"),
            ("vibration_mm_s", 1, "mechanical friction"),
        ),
        "vibration_mm_s": _s(
            "bearing wear, misalignment or cavitation",
            ("speed_rpm", 1, "a faster pump"),
            ("flow_rate_m3h", 1, "running far out on its curve"),
        ),
        "power_consumption_kw": _s(
            "a mechanical drag in the pump or motor",
            ("flow_rate_m3h", 1, "more flow"),
            ("speed_rpm", 1, "a faster speed"),
            _STOPPED,
        ),
        "flow_rate_m3h": _s("a closed valve or a blocked strainer", ("speed_rpm", 1, "its speed"), _STOPPED),
    },
    "air_compressor": {
        "discharge_temp_c": _s(
            "a cooling problem in the compressor (fouled aftercooler or low oil)",
            (_LOAD, 1, "more load compresses more air"),
            ("oil_temp_c", 1, "hot oil cools the compression less"),
        ),
        "oil_temp_c": _s(
            "oil cooler fouling, low oil level or a thermostatic valve fault",
            (_LOAD, 1, "a heavier load"),
            ("discharge_temp_c", 1, "hotter compression"),
        ),
        "motor_temp_c": _s(
            "motor cooling or bearing trouble",
            ("power_consumption_kw", 1, "more power drawn"),
            ("vibration_mm_s", 1, "mechanical friction"),
        ),
        "vibration_mm_s": _s("bearing wear, looseness or misalignment", (_LOAD, 1, "a heavier load")),
        "discharge_pressure_bar": _s(
            "an air leak, or an inlet or unloading valve fault",
            (_LOAD, -1, "air demand beyond what it supplies"),
            _STOPPED,
        ),
        "power_consumption_kw": _s("a mechanical drag or worn elements", (_LOAD, 1, "a heavier load"), _STOPPED),
    },
    "ahu": {
        "supply_air_temp_c": _s(
            "the cooling coil not getting enough chilled water (valve or supply temperature), or the sensor",
            ("return_air_temp_c", 1, "warmer air coming back from the space"),
            ("fan_speed_percent", 1, "more air through the coil than it can cool"),
            ("running_status", -1, "the AHU stopped"),
        ),
        "co2_ppm": _s(
            "too little outside air (damper position) or more people than usual",
            ("fan_speed_percent", -1, "less air moved"),
            ("running_status", -1, "the AHU stopped"),
        ),
        "filter_dp_pa": _s("a loading filter due for change", ("fan_speed_percent", 1, "more airflow")),
        "return_air_temp_c": _s("more heat in the space than usual", ("supply_air_temp_c", 1, "warmer supply air")),
        "humidity_percent": _s("the coil not drying the air", ("supply_air_temp_c", 1, "warmer supply air")),
        "power_consumption_kw": _s(
            "a fan or motor fault",
            ("fan_speed_percent", 1, "a faster fan"),
            ("filter_dp_pa", 1, "a clogged filter makes the fan work harder"),
            _STOPPED,
        ),
    },
    "boiler": {
        "flue_gas_temp_c": _s(
            "fouled heat-transfer surfaces (soot or scale)",
            ("fuel_flow_m3h", 1, "a higher firing rate"),
            ("steam_flow_kg_h", 1, "more steam demand"),
        ),
        "steam_pressure_bar": _s(
            "a burner or feedwater problem, or a control fault",
            ("steam_flow_kg_h", -1, "steam drawn faster than it is made"),
            ("fuel_flow_m3h", 1, "its firing rate"),
            _STOPPED,
        ),
        "water_level_percent": _s(
            "feedwater pump or level control trouble", ("steam_flow_kg_h", -1, "a heavy steam draw")
        ),
        "efficiency_percent": _s(
            "burner tuning (excess air) or fouling", ("flue_gas_temp_c", -1, "heat lost up the stack")
        ),
        "fuel_flow_m3h": _s("a burner control fault", ("steam_flow_kg_h", 1, "more steam demand")),
    },
    "transformer": {
        "winding_temp_c": _s(
            "cooling trouble (fans, radiators or oil level)",
            (_LOAD, 1, "load heats the windings"),
            ("oil_temp_c", 1, "hotter oil around them"),
        ),
        "oil_temp_c": _s(
            "cooling trouble (fans, radiators or oil level)",
            (_LOAD, 1, "load heats the transformer"),
            ("winding_temp_c", 1, "hotter windings"),
        ),
        "voltage_v": _s("the supply voltage or the tap setting", (_LOAD, -1, "a heavy load drops the voltage")),
        "load_percent": _s("more load downstream than usual", ("current_a", 1, "more current")),
    },
    "diesel_generator": {
        "coolant_temp_c": _s(
            "cooling trouble (radiator, fan or coolant level)", ("power_output_kw", 1, "load heats the engine")
        ),
        "oil_pressure_bar": _s(
            "low oil level, a worn oil pump or the sensor",
            ("coolant_temp_c", -1, "hot, thin oil"),
            _STOPPED,
        ),
        "battery_voltage_v": _s(
            "a failing battery or charger", ("running_status", 1, "the alternator charges it only while running")
        ),
        "fuel_level_percent": _s(
            "fuel burn since the last refill, or a leak", ("power_output_kw", -1, "running under load burns fuel")
        ),
    },
    "ups": {
        "battery_temp_c": _s("room cooling, or a failing battery", (_LOAD, 1, "a heavier load")),
        "battery_charge_percent": _s(
            "ageing batteries or a charger fault",
            ("input_voltage_v", 1, "running on battery while the mains sags"),
            (_LOAD, -1, "a discharge under load"),
        ),
        "load_percent": _s("more load downstream than usual", ("output_power_kw", 1, "more power delivered")),
        "output_voltage_v": _s("the inverter", ("input_voltage_v", 1, "the mains voltage")),
    },
    "energy_meter": {
        "power_factor": _s(
            "reactive load: lightly loaded motors, or a capacitor bank off",
            ("active_power_kw", 1, "a light load lowers the power factor"),
        ),
        "voltage_v": _s("the supply voltage or a tap changer", ("current_a", -1, "a heavy current drops the voltage")),
        "active_power_kw": _s("more load downstream than usual", ("current_a", 1, "more current")),
    },
    "motor": {
        "motor_temp_c": _s(
            "cooling fan or bearing trouble",
            ("current_a", 1, "current heats the windings"),
            ("vibration_mm_s", 1, "mechanical friction"),
        ),
        "vibration_mm_s": _s("bearing wear, imbalance or misalignment", ("speed_rpm", 1, "a faster speed")),
        "current_a": _s("a mechanical drag on the driven load", ("power_consumption_kw", 1, "more power drawn")),
        "power_consumption_kw": _s(
            "a mechanical drag on the driven load", ("speed_rpm", 1, "a faster speed"), _STOPPED
        ),
    },
}


LOAD_OF = {
    "chiller": Driver(_LOAD, 1, "the cooling load it carries"),
    "cooling_tower": Driver("fan_speed_percent", 1, "its fan speed"),
    "pump": Driver("flow_rate_m3h", 1, "the flow it moves"),
    "air_compressor": Driver(_LOAD, 1, "the load it carries"),
    "ahu": Driver("fan_speed_percent", 1, "the air it moves"),
    "boiler": Driver("steam_flow_kg_h", 1, "the steam drawn from it"),
    "transformer": Driver(_LOAD, 1, "the load it carries"),
    "diesel_generator": Driver("power_output_kw", 1, "the load it carries"),
    "ups": Driver(_LOAD, 1, "the load it carries"),
    "energy_meter": Driver("active_power_kw", 1, "the load it measures"),
    "motor": Driver("current_a", 1, "the load it drives"),
}
"""What a metric with no known drivers is read beside: the unit's load (its sign a guess, its reading a fact)."""


def symptom(equipment_type: str, metric: str, available: list[str]) -> Symptom:
    """What drives ``metric`` on ``equipment_type``, keeping only drivers the unit has (``available``); a metric
    with none known is read beside the unit's load."""
    known = PHYSICS.get(equipment_type, {}).get(metric) or Symptom((), "a fault in the unit or its sensor")
    drivers = tuple(d for d in known.drivers if d.metric in available and d.metric != metric)
    if not any(d.metric != "running_status" for d in drivers) and (load := LOAD_OF.get(equipment_type)):
        drivers += (load,) if load.metric in available and load.metric != metric else ()
    return Symptom(drivers, known.local)
