"""The plant's data contract (``shared/plant.md``) as data.

This module is the single place that knows which equipment types exist, how
many of each, their metric columns and their engineering limits. The
generator builds tables from it; the access layer does *not* read it for
table or column names (those come from introspection, so a customer database
of the same shape works), only for domain knowledge such as alarm limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

READING_INTERVAL = timedelta(minutes=1)
"""One row a minute in every equipment table: the generator's grid, and how far "now" sits past the newest reading."""

DOUBLE_COLUMNS = frozenset({"energy_kwh", "run_hours"})
"""Cumulative counters need double precision; every other metric is ``real``."""


@dataclass(frozen=True)
class EquipmentType:
    name: str
    count: int
    display: str  # "Chiller" -> display names "Chiller 1"
    metrics: tuple[str, ...]
    rated_unit: str
    rated_capacity: float

    def equipment_id(self, number: int) -> str:
        return f"{self.name}_{number:03d}"

    def ids(self, count: int | None = None) -> list[str]:
        return [self.equipment_id(n) for n in range(1, (count or self.count) + 1)]


EQUIPMENT_TYPES: tuple[EquipmentType, ...] = (
    EquipmentType(
        "chiller",
        12,
        "Chiller",
        (
            "power_consumption_kw",
            "chw_supply_temp_c",
            "chw_return_temp_c",
            "cw_supply_temp_c",
            "cw_return_temp_c",
            "chw_flow_m3h",
            "load_percent",
            "cop",
            "running_status",
        ),
        "TR",
        500.0,
    ),
    EquipmentType(
        "cooling_tower",
        12,
        "Cooling Tower",
        (
            "power_consumption_kw",
            "fan_speed_percent",
            "inlet_water_temp_c",
            "outlet_water_temp_c",
            "wet_bulb_temp_c",
            "basin_level_percent",
            "running_status",
        ),
        "TR",
        600.0,
    ),
    EquipmentType(
        "pump",
        48,
        "Pump",
        (
            "power_consumption_kw",
            "flow_rate_m3h",
            "discharge_pressure_bar",
            "suction_pressure_bar",
            "motor_temp_c",
            "vibration_mm_s",
            "speed_rpm",
            "running_status",
        ),
        "kW",
        45.0,
    ),
    EquipmentType(
        "air_compressor",
        24,
        "Air Compressor",
        (
            "power_consumption_kw",
            "discharge_pressure_bar",
            "discharge_temp_c",
            "oil_temp_c",
            "motor_temp_c",
            "load_percent",
            "vibration_mm_s",
            "running_status",
        ),
        "kW",
        75.0,
    ),
    EquipmentType(
        "ahu",
        60,
        "AHU",
        (
            "power_consumption_kw",
            "supply_air_temp_c",
            "return_air_temp_c",
            "fan_speed_percent",
            "filter_dp_pa",
            "humidity_percent",
            "co2_ppm",
            "running_status",
        ),
        "CFM",
        20000.0,
    ),
    EquipmentType(
        "boiler",
        6,
        "Boiler",
        (
            "fuel_flow_m3h",
            "steam_pressure_bar",
            "steam_flow_kg_h",
            "flue_gas_temp_c",
            "water_level_percent",
            "efficiency_percent",
            "running_status",
        ),
        "kg/h",
        5000.0,
    ),
    EquipmentType(
        "transformer",
        20,
        "Transformer",
        ("load_kva", "load_percent", "oil_temp_c", "winding_temp_c", "voltage_v", "current_a", "power_factor"),
        "kVA",
        2000.0,
    ),
    EquipmentType(
        "diesel_generator",
        8,
        "Diesel Generator",
        (
            "power_output_kw",
            "fuel_level_percent",
            "coolant_temp_c",
            "oil_pressure_bar",
            "battery_voltage_v",
            "run_hours",
            "running_status",
        ),
        "kW",
        1000.0,
    ),
    EquipmentType(
        "ups",
        16,
        "UPS",
        (
            "output_power_kw",
            "load_percent",
            "battery_charge_percent",
            "input_voltage_v",
            "output_voltage_v",
            "battery_temp_c",
        ),
        "kVA",
        200.0,
    ),
    EquipmentType(
        "energy_meter",
        112,
        "Energy Meter",
        ("active_power_kw", "energy_kwh", "voltage_v", "current_a", "power_factor", "frequency_hz"),
        "kW",
        500.0,
    ),
    EquipmentType(
        "motor",
        45,
        "Motor",
        ("power_consumption_kw", "current_a", "speed_rpm", "motor_temp_c", "vibration_mm_s", "running_status"),
        "kW",
        30.0,
    ),
)

TYPES_BY_NAME: dict[str, EquipmentType] = {t.name: t for t in EQUIPMENT_TYPES}
TOTAL_EQUIPMENT = sum(t.count for t in EQUIPMENT_TYPES)  # 363


@dataclass(frozen=True)
class Limit:
    """Alarm limits of one metric: outside [low, high] an operator is alerted."""

    low: float | None = None
    high: float | None = None
    severity: str = "high"
    process: bool = False  # a process value (chilled water, condenser water): judged only while running

    def violated_by(self, value: float, running: bool = True) -> bool:
        """Low limits (pressure, level, efficiency) and process limits only mean something while running.

        A stopped chiller's chilled water drifts warm and a stopped pump has no
        discharge pressure: that is idle, not a fault. A hot motor is hot either way.
        """
        if not running and self.process:
            return False
        too_low = running and self.low is not None and value < self.low
        return too_low or (self.high is not None and value > self.high)


# Engineering alarm limits, keyed by (equipment_type, metric). The generator
# raises alerts when a value crosses them and the anomaly scan flags any
# reading outside them whatever its history says.
METRIC_LIMITS: dict[tuple[str, str], Limit] = {
    ("chiller", "chw_supply_temp_c"): Limit(4.0, 10.0, "high", process=True),
    ("chiller", "cw_return_temp_c"): Limit(None, 38.0, "high", process=True),
    ("chiller", "cop"): Limit(3.0, None, "medium"),
    ("cooling_tower", "outlet_water_temp_c"): Limit(None, 33.0, "high", process=True),
    ("cooling_tower", "basin_level_percent"): Limit(40.0, None, "medium"),
    ("pump", "motor_temp_c"): Limit(None, 85.0, "critical"),
    ("pump", "vibration_mm_s"): Limit(None, 7.1, "high"),
    ("pump", "discharge_pressure_bar"): Limit(2.0, None, "high"),
    ("air_compressor", "discharge_temp_c"): Limit(None, 105.0, "critical"),
    ("air_compressor", "oil_temp_c"): Limit(None, 95.0, "high"),
    ("air_compressor", "motor_temp_c"): Limit(None, 90.0, "high"),
    ("air_compressor", "vibration_mm_s"): Limit(None, 7.1, "high"),
    ("air_compressor", "discharge_pressure_bar"): Limit(5.5, None, "high"),
    ("ahu", "filter_dp_pa"): Limit(None, 350.0, "medium"),
    ("ahu", "co2_ppm"): Limit(None, 1200.0, "medium"),
    ("boiler", "steam_pressure_bar"): Limit(6.0, 11.0, "critical"),
    ("boiler", "flue_gas_temp_c"): Limit(None, 260.0, "high", process=True),
    ("boiler", "water_level_percent"): Limit(35.0, None, "critical"),
    ("transformer", "oil_temp_c"): Limit(None, 90.0, "high"),
    ("transformer", "winding_temp_c"): Limit(None, 110.0, "critical"),
    ("diesel_generator", "fuel_level_percent"): Limit(20.0, None, "high"),
    ("diesel_generator", "coolant_temp_c"): Limit(None, 100.0, "critical"),
    ("diesel_generator", "battery_voltage_v"): Limit(22.5, None, "medium"),
    ("ups", "battery_temp_c"): Limit(None, 40.0, "high"),
    ("ups", "battery_charge_percent"): Limit(50.0, None, "high"),
    ("energy_meter", "power_factor"): Limit(0.85, None, "low"),
    ("energy_meter", "voltage_v"): Limit(380.0, 440.0, "medium"),
    ("motor", "motor_temp_c"): Limit(None, 90.0, "critical"),
    ("motor", "vibration_mm_s"): Limit(None, 7.1, "high"),
}


def limit_for(equipment_type: str, metric: str) -> Limit | None:
    return METRIC_LIMITS.get((equipment_type, metric))
