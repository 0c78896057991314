"""Deterministic, believable plant signals for the time-series store.

Everything is a function of ``(seed, equipment, absolute time)``: noise for a
day comes from a generator keyed by the day's index, and slow processes are
either closed-form in time (filter clogging) or carried in a small
:class:`CounterState` read back from the table's last row (cumulative energy,
run hours, diesel in the tank). So generating thirty days at once or one
minute at a time in ``--follow`` mode yields the same rows, and a re-run
resumes where the table stops.

The physics is deliberately simple but coupled: a campus load driven by an
occupancy schedule and the weather (wet bulb) drives chillers, towers, pumps
and meters; load drives power, flow and temperatures; equipment switches on
and off and reads ~0 power when off. Faults of known kinds are injected per
equipment-day and reported as :class:`RaisedAlert` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from industrial.plant.spec import EQUIPMENT_TYPES, READING_INTERVAL, EquipmentType, Limit, limit_for

DAY = 86_400
READING_SECONDS = int(READING_INTERVAL.total_seconds())  # the contract's row interval, in the unix seconds used here
_TYPE_INDEX = {t.name: i for i, t in enumerate(EQUIPMENT_TYPES)}
_KNOTS_PER_DAY = 48  # slow noise changes on a 30-minute scale


@dataclass(frozen=True)
class CounterState:
    """Values that accumulate across rows; read from the last stored row."""

    energy_kwh: float | None = None
    run_hours: float | None = None
    fuel_level_percent: float | None = None


@dataclass(frozen=True)
class RaisedAlert:
    equipment_id: str
    severity: str
    metric: str
    value: float
    threshold: float | None
    message: str
    raised_at: int  # unix seconds
    cleared_at: int | None
    acknowledged: bool


@dataclass
class Block:
    """Rows for one equipment: ``timestamps`` (unix seconds) and one array per metric."""

    timestamps: np.ndarray
    columns: dict[str, np.ndarray]
    alerts: list[RaisedAlert] = field(default_factory=list)
    state: CounterState = field(default_factory=CounterState)

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True)
class Fault:
    kind: str  # overheating | vibration_rise | pressure_drop | sensor_stuck | sensor_spike
    metric: str
    start: int  # index into the day's points
    length: int
    magnitude: float
    acknowledged: bool


# --------------------------------------------------------------------------- drivers


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([abs(int(k)) for k in key])


def _smooth_noise(key: tuple[int, ...], days: np.ndarray, points_per_day: int) -> np.ndarray:
    """Unit-variance noise varying on a 30-minute scale, continuous across days."""
    knots = np.concatenate(
        [_rng(*key, int(d), 1).standard_normal(_KNOTS_PER_DAY) for d in days]
        + [_rng(*key, int(days[-1]) + 1, 1).standard_normal(1)]
    )
    x = np.arange(len(days) * points_per_day) * (_KNOTS_PER_DAY / points_per_day)
    return np.interp(x, np.arange(len(knots)), knots)


@dataclass(frozen=True)
class CampusDrivers:
    """Site-wide signals shared by every equipment at the same instants."""

    hour: np.ndarray  # (n,) hour of day, fractional
    weekday: np.ndarray  # (n,) 0 = Monday
    occupancy: np.ndarray  # (n,) 0..1
    wet_bulb: np.ndarray  # (n,) degC
    load: np.ndarray  # (n,) 0.1..1 campus cooling/electrical load
    outage: np.ndarray  # (n,) bool, grid outage (generators start, UPS discharge)


def campus_drivers(seed: int, days: np.ndarray, timestamps: np.ndarray) -> CampusDrivers:
    points_per_day = len(timestamps) // len(days)
    hour = (timestamps % DAY) / 3600.0
    weekday = ((timestamps // DAY) + 3) % 7
    workday = weekday < 5
    # Smooth ramps at 07:00 and 19:00 on work days; a skeleton shift otherwise.
    day_shape = 1 / (1 + np.exp(-(hour - 7) * 2)) - 1 / (1 + np.exp(-(hour - 19) * 2))
    occupancy = np.where(workday, 0.25 + 0.75 * day_shape, 0.15 + 0.25 * day_shape)
    day_of_year = (timestamps / DAY) % 365.25
    seasonal = 19 + 6 * np.sin(2 * np.pi * (day_of_year - 105) / 365.25)
    diurnal = 3 * np.sin(2 * np.pi * (hour - 9) / 24)
    weather = 1.8 * _smooth_noise((seed, 991), days, points_per_day)
    wet_bulb = seasonal + diurnal + weather
    load = np.clip(0.25 + 0.5 * occupancy + 0.035 * (wet_bulb - 19), 0.1, 1.0)
    outage = np.zeros(len(timestamps), dtype=bool)
    for i, d in enumerate(days):
        rng = _rng(seed, 992, int(d))
        if rng.random() < 0.03:  # about one grid outage a month
            start = i * points_per_day + int(rng.integers(0, points_per_day))
            outage[start : start + max(1, points_per_day // 48)] = True
    return CampusDrivers(hour, weekday, occupancy, wet_bulb, load, outage)


# --------------------------------------------------------------------------- physics


@dataclass
class _Context:
    eq: EquipmentType
    number: int
    seed: int
    ts: np.ndarray
    drivers: CampusDrivers
    noise: np.ndarray  # (n_metrics, n) white noise
    slow: np.ndarray  # (n,) smooth noise
    static: np.random.Generator  # per-equipment constants
    step_h: np.ndarray  # (n,) hours each row adds to counters; 0 before the first emitted row
    state: CounterState  # counters at the row before the first emitted one
    points_per_day: int

    def white(self, metric: str, scale: float) -> np.ndarray:
        return scale * self.noise[self.eq.metrics.index(metric)]


def _staged(ctx: _Context, load: np.ndarray, fleet: int, band: float = 0.04) -> np.ndarray:
    """Run when load exceeds this unit's staging threshold (lead units run most).

    Like a real sequencer it has hysteresis: start above ``threshold + band``,
    stop below ``threshold - band``, otherwise keep going as before. The state
    restarts each midnight from ``load > threshold`` so a day's rows never
    depend on the day before (which keeps resumed seeding identical).
    """
    position = ((ctx.number - 1) % fleet) / fleet
    threshold = 0.12 + 0.8 * position + 0.05 * ctx.slow
    decided = np.where(load > threshold + band, 1.0, np.where(load < threshold - band, 0.0, np.nan))
    points = ctx.points_per_day
    days = decided.reshape(-1, points)
    days[:, 0] = np.where(np.isnan(days[:, 0]), (load > threshold).reshape(-1, points)[:, 0], days[:, 0])
    # Forward-fill the undecided rows within each day: index of the last decided row, per row.
    index = np.where(np.isnan(days), 0, np.arange(points)[None, :])
    np.maximum.accumulate(index, axis=1, out=index)
    return np.take_along_axis(days, index, axis=1).ravel()


def _chiller(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    r = _staged(ctx, d.load, 12)
    part = np.clip(0.45 + 0.5 * d.load + 0.08 * ctx.slow, 0.2, 1.0)
    load_pct = r * part * 100
    supply = np.where(r > 0, 6.7 + ctx.white("chw_supply_temp_c", 0.15), 11.5 + 0.3 * ctx.slow)
    ret = supply + r * 5.5 * part + ctx.white("chw_return_temp_c", 0.15) + (1 - r) * 0.4
    cw_supply = d.wet_bulb + 3.5 + r * 1.5 * part + ctx.white("cw_supply_temp_c", 0.15)
    cw_return = cw_supply + r * 5.0 * part + ctx.white("cw_return_temp_c", 0.15)
    efficiency = 0.92 + 0.16 * ctx.static.random()
    cop = r * efficiency * (6.4 - 0.09 * (cw_supply - 27) - 2.0 * (1 - part) ** 2)
    cop = cop + r * ctx.white("cop", 0.05)
    cooling_kw = load_pct / 100 * ctx.eq.rated_capacity * 3.517
    power = np.where(r > 0, cooling_kw / np.maximum(cop, 1.0), 0.4) + ctx.white("power_consumption_kw", 0.8) * r
    flow = r * (220 + 160 * part) + ctx.white("chw_flow_m3h", 2.0) * r
    return {
        "power_consumption_kw": np.maximum(power, 0.0),
        "chw_supply_temp_c": supply,
        "chw_return_temp_c": ret,
        "cw_supply_temp_c": cw_supply,
        "cw_return_temp_c": cw_return,
        "chw_flow_m3h": np.maximum(flow, 0.0),
        "load_percent": load_pct,
        "cop": cop,
        "running_status": r,
    }


def _cooling_tower(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    r = _staged(ctx, d.load, 12)
    part = np.clip(0.4 + 0.55 * d.load + 0.08 * ctx.slow, 0.2, 1.0)
    fan = r * np.clip(30 + 65 * part + ctx.white("fan_speed_percent", 1.5), 20, 100)
    wet_bulb = d.wet_bulb + ctx.white("wet_bulb_temp_c", 0.1)
    outlet = np.where(r > 0, d.wet_bulb + 3.0 + 1.5 * part, d.wet_bulb + 6.0) + ctx.white("outlet_water_temp_c", 0.15)
    inlet = outlet + r * 5.0 * part + ctx.white("inlet_water_temp_c", 0.15)
    power = r * 30 * (fan / 100) ** 3 + ctx.white("power_consumption_kw", 0.2) * r
    basin = 76 + 3 * ctx.slow + ctx.white("basin_level_percent", 0.4)
    return {
        "power_consumption_kw": np.maximum(power, 0.0),
        "fan_speed_percent": fan,
        "inlet_water_temp_c": inlet,
        "outlet_water_temp_c": outlet,
        "wet_bulb_temp_c": wet_bulb,
        "basin_level_percent": basin,
        "running_status": r,
    }


def _pump(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    r = _staged(ctx, d.load, 4)  # duty/assist/standby groups of four
    speed_frac = r * np.clip(0.6 + 0.4 * d.load + 0.04 * ctx.slow, 0.5, 1.0)
    speed = speed_frac * 1480 + r * ctx.white("speed_rpm", 3.0)
    suction = 1.2 + ctx.white("suction_pressure_bar", 0.02)
    discharge = suction + 3.6 * speed_frac**2 + ctx.white("discharge_pressure_bar", 0.03) * r
    power = 45 * speed_frac**3 + ctx.white("power_consumption_kw", 0.3) * r
    motor_temp = 31 + 0.2 * ctx.slow + 38 * speed_frac**3 + ctx.white("motor_temp_c", 0.3)
    vibration = r * (1.7 + 0.8 * speed_frac) + np.abs(ctx.white("vibration_mm_s", 0.08)) + 0.05
    return {
        "power_consumption_kw": np.maximum(power, 0.0),
        "flow_rate_m3h": r * 250 * speed_frac,
        "discharge_pressure_bar": discharge,
        "suction_pressure_bar": suction,
        "motor_temp_c": motor_temp,
        "vibration_mm_s": vibration,
        "speed_rpm": np.maximum(speed, 0.0),
        "running_status": r,
    }


def _air_compressor(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    demand = np.clip(0.3 + 0.7 * d.occupancy + 0.06 * ctx.slow, 0.1, 1.0)
    r = _staged(ctx, demand, 6)
    load = r * np.clip(45 + 50 * demand + ctx.white("load_percent", 2.0), 20, 100)
    lf = load / 100
    pressure = np.where(r > 0, 7.0 + 0.3 * (1 - lf), 0.4) + ctx.white("discharge_pressure_bar", 0.03)
    return {
        "power_consumption_kw": r * ctx.eq.rated_capacity * (0.3 + 0.7 * lf)
        + r * ctx.white("power_consumption_kw", 0.4),
        "discharge_pressure_bar": pressure,
        "discharge_temp_c": 30 + r * (48 + 25 * lf) + ctx.white("discharge_temp_c", 0.4),
        "oil_temp_c": 30 + r * (37 + 20 * lf) + ctx.white("oil_temp_c", 0.3),
        "motor_temp_c": 30 + r * (30 + 24 * lf) + ctx.white("motor_temp_c", 0.3),
        "load_percent": load,
        "vibration_mm_s": r * (2.0 + 1.0 * lf) + np.abs(ctx.white("vibration_mm_s", 0.08)) + 0.05,
        "running_status": r,
    }


def _ahu(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    always_on = ctx.number % 5 == 0  # labs and server rooms
    r = np.ones_like(d.hour) if always_on else (d.occupancy > 0.3).astype(np.float64)
    fan = r * np.clip(40 + 50 * d.occupancy + 5 * ctx.slow, 25, 100)
    # Filters clog linearly and are replaced on a fixed cycle per unit: a sawtooth in time.
    period_days = 60 + int(ctx.static.integers(0, 30))
    phase = ctx.static.random() * period_days
    days_since = (ctx.ts / DAY + phase) % period_days
    filter_dp = r * (110 + 3.0 * days_since) * (0.5 + 0.5 * (fan / 100) ** 2) + ctx.white("filter_dp_pa", 2.0) * r
    co2 = 420 + 650 * d.occupancy * (1.4 - 0.8 * r) + ctx.white("co2_ppm", 12)
    return {
        "power_consumption_kw": r * 15 * (fan / 100) ** 3 + r * ctx.white("power_consumption_kw", 0.1),
        "supply_air_temp_c": np.where(r > 0, 13.0, 22.0 + d.wet_bulb * 0.1) + ctx.white("supply_air_temp_c", 0.15),
        "return_air_temp_c": 22.5 + 1.5 * d.occupancy + 0.3 * ctx.slow + ctx.white("return_air_temp_c", 0.1),
        "fan_speed_percent": fan,
        "filter_dp_pa": np.maximum(filter_dp, 0.0),
        "humidity_percent": 48 + 2.0 * (d.wet_bulb - 19) + 2 * ctx.slow + ctx.white("humidity_percent", 0.5),
        "co2_ppm": co2,
        "running_status": r,
    }


def _boiler(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    demand = np.clip(0.35 + 0.5 * d.occupancy - 0.02 * (d.wet_bulb - 19) + 0.05 * ctx.slow, 0.1, 1.0)
    r = _staged(ctx, demand, 6)
    steam = r * ctx.eq.rated_capacity * np.clip(0.3 + 0.65 * demand, 0.2, 1.0) + r * ctx.white("steam_flow_kg_h", 15)
    sf = steam / ctx.eq.rated_capacity
    eff = r * (83 + 3 * sf + ctx.white("efficiency_percent", 0.2))
    return {
        "fuel_flow_m3h": r * steam * 0.078 / np.maximum(eff / 100, 0.5),
        "steam_pressure_bar": np.where(r > 0, 8.6, 0.4) + ctx.white("steam_pressure_bar", 0.05),
        "steam_flow_kg_h": np.maximum(steam, 0.0),
        "flue_gas_temp_c": 25 + r * (150 + 50 * sf) + ctx.white("flue_gas_temp_c", 0.8),
        "water_level_percent": 60 + 1.5 * ctx.slow + ctx.white("water_level_percent", 0.5),
        "efficiency_percent": eff,
        "running_status": r,
    }


def _transformer(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    size = 0.8 + 0.4 * ctx.static.random()
    load_pct = np.clip(size * (25 + 55 * d.load) + 2 * ctx.slow + ctx.white("load_percent", 0.5), 5, 120)
    lf = load_pct / 100
    voltage = 418 - 8 * lf + ctx.white("voltage_v", 0.6)
    kva = ctx.eq.rated_capacity * lf
    oil = 22 + 0.4 * d.wet_bulb + 38 * lf**2 + ctx.white("oil_temp_c", 0.2)
    return {
        "load_kva": kva,
        "load_percent": load_pct,
        "oil_temp_c": oil,
        "winding_temp_c": oil + 17 * lf**1.6 + ctx.white("winding_temp_c", 0.2),
        "voltage_v": voltage,
        "current_a": kva * 1000 / (math.sqrt(3) * voltage),
        "power_factor": np.clip(0.91 + 0.05 * lf + ctx.white("power_factor", 0.004), 0.7, 0.995),
    }


def _diesel_generator(ctx: _Context) -> dict[str, np.ndarray]:
    state = ctx.state
    d = ctx.drivers
    # Weekly 30-minute test run on Mondays, staggered per set, plus every grid outage.
    test_start = 9 + (ctx.number - 1) * 0.5
    test = (d.weekday == 0) & (d.hour >= test_start) & (d.hour < test_start + 0.5)
    r = (test | d.outage).astype(np.float64)
    power = r * ctx.eq.rated_capacity * np.clip(0.4 + 0.3 * d.load, 0.2, 0.9) + r * ctx.white("power_output_kw", 3.0)
    burn = power * 0.25 / 2000 * 100 * ctx.step_h  # 0.25 l/kWh from a 2,000 l tank, in percent
    start_fuel = state.fuel_level_percent if state.fuel_level_percent is not None else 70 + 25 * ctx.static.random()
    fuel = start_fuel - np.cumsum(burn)
    while (low := np.flatnonzero(fuel < 30)).size:  # refilled to 95 % when it drops below 30 %
        fuel[low[0] :] += 95 - fuel[low[0]]
    start_hours = state.run_hours if state.run_hours is not None else float(200 + ctx.static.integers(0, 1500))
    hours = start_hours + np.cumsum(r * ctx.step_h)
    return {
        "power_output_kw": np.maximum(power, 0.0),
        "fuel_level_percent": fuel,  # noiseless: the stored value seeds the next run
        "coolant_temp_c": 28 + 0.3 * d.wet_bulb + r * 52 + ctx.white("coolant_temp_c", 0.2),
        "oil_pressure_bar": r * 4.2 + ctx.white("oil_pressure_bar", 0.02) * r,
        "battery_voltage_v": 27.1 - 1.2 * r + ctx.white("battery_voltage_v", 0.03),
        "run_hours": hours,
        "running_status": r,
    }


def _ups(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    load_pct = np.clip(38 + 20 * d.load + 2 * ctx.slow + ctx.white("load_percent", 0.4), 5, 100)
    # Discharge during an outage, recharge afterwards: a short exponential memory.
    discharge = np.convolve(d.outage.astype(float), np.exp(-np.arange(120) / 40.0), mode="full")[: len(d.outage)]
    charge = np.clip(100 - 12 * discharge + ctx.white("battery_charge_percent", 0.1), 0, 100)
    return {
        "output_power_kw": ctx.eq.rated_capacity * 0.9 * load_pct / 100,
        "load_percent": load_pct,
        "battery_charge_percent": charge,
        "input_voltage_v": np.where(d.outage, 0.0, 416 + ctx.white("input_voltage_v", 0.8)),
        "output_voltage_v": 400 + ctx.white("output_voltage_v", 0.3),
        "battery_temp_c": 24 + 0.15 * d.wet_bulb + 0.5 * ctx.slow + ctx.white("battery_temp_c", 0.1),
    }


def _energy_meter(ctx: _Context) -> dict[str, np.ndarray]:
    state = ctx.state
    d = ctx.drivers
    share = 0.3 + 0.7 * ctx.static.random()
    power = np.maximum(
        ctx.eq.rated_capacity * share * (0.2 + 0.7 * d.load) + 8 * ctx.slow + ctx.white("active_power_kw", 2.0), 0
    )
    voltage = 415 + 2 * ctx.slow + ctx.white("voltage_v", 0.7)
    pf = np.clip(0.9 + 0.06 * d.load + ctx.white("power_factor", 0.005), 0.7, 0.999)
    start = state.energy_kwh if state.energy_kwh is not None else float(10_000 + ctx.static.integers(0, 500_000))
    energy = start + np.cumsum(power * ctx.step_h)
    return {
        "active_power_kw": power,
        "energy_kwh": energy,
        "voltage_v": voltage,
        "current_a": power * 1000 / (math.sqrt(3) * voltage * pf),
        "power_factor": pf,
        "frequency_hz": 50 + 0.02 * ctx.slow + ctx.white("frequency_hz", 0.01),
    }


def _motor(ctx: _Context) -> dict[str, np.ndarray]:
    d = ctx.drivers
    shift_start = 5 + (ctx.number % 4)
    r = ((d.weekday < 6) & (d.hour >= shift_start) & (d.hour < shift_start + 12)).astype(np.float64)
    lf = r * np.clip(0.55 + 0.35 * d.load + 0.05 * ctx.slow, 0.3, 1.0)
    power = r * ctx.eq.rated_capacity * lf + r * ctx.white("power_consumption_kw", 0.2)
    return {
        "power_consumption_kw": np.maximum(power, 0.0),
        "current_a": power * 1000 / (math.sqrt(3) * 415 * 0.86),
        "speed_rpm": r * (1475 + ctx.white("speed_rpm", 2.0)),
        "motor_temp_c": 29 + 40 * lf + ctx.white("motor_temp_c", 0.3),
        "vibration_mm_s": r * (1.4 + 0.6 * lf) + np.abs(ctx.white("vibration_mm_s", 0.06)) + 0.04,
        "running_status": r,
    }


_PHYSICS = {
    "chiller": _chiller,
    "cooling_tower": _cooling_tower,
    "pump": _pump,
    "air_compressor": _air_compressor,
    "ahu": _ahu,
    "boiler": _boiler,
    "transformer": _transformer,
    "ups": _ups,
    "motor": _motor,
    "diesel_generator": _diesel_generator,
    "energy_meter": _energy_meter,
}


# --------------------------------------------------------------------------- faults

CARRIED_METRICS = frozenset({"energy_kwh", "run_hours", "fuel_level_percent"})
"""Counters whose last stored value seeds the next run; faults never touch them."""

_FAULT_KINDS = ("overheating", "vibration_rise", "pressure_drop", "sensor_stuck", "sensor_spike")


def _fault_metric(eq: EquipmentType, kind: str, rng: np.random.Generator) -> str | None:
    candidates = [m for m in eq.metrics if m not in CARRIED_METRICS and m != "running_status"]
    limited = [(m, limit_for(eq.name, m)) for m in candidates if limit_for(eq.name, m)]
    if kind == "overheating":
        options = [m for m, lim in limited if m.endswith("_temp_c") and lim.high is not None]
    elif kind == "vibration_rise":
        options = [m for m, _ in limited if m == "vibration_mm_s"]
    elif kind == "pressure_drop":
        options = [m for m, lim in limited if lim.low is not None and ("pressure" in m or "level" in m)]
    elif kind == "sensor_spike":
        options = [m for m, _ in limited]
    else:
        options = candidates
    return str(rng.choice(options)) if options else None


def _day_faults(eq: EquipmentType, number: int, seed: int, day: int, points: int, rate: float) -> list[Fault]:
    rng = _rng(seed, _TYPE_INDEX[eq.name], number, day, 2)
    if rng.random() >= rate:
        return []
    kind = _FAULT_KINDS[int(rng.integers(0, len(_FAULT_KINDS)))]
    metric = _fault_metric(eq, kind, rng)
    if metric is None:  # e.g. no temperature limit on this type: its sensors can still stick
        kind, metric = "sensor_stuck", _fault_metric(eq, "sensor_stuck", rng)
    length = max(2, int(points * rng.uniform(0.02, 0.12)))  # ~30 min to ~3 h at one-minute rows
    start = int(rng.integers(0, points - length))  # faults end inside their day
    return [Fault(kind, metric, start, length, float(rng.uniform(0.05, 0.25)), bool(rng.random() < 0.7))]


def _apply_fault(values: np.ndarray, fault: Fault, limit: Limit | None) -> np.ndarray:
    """Distort ``values`` (the fault's window only) and return the window's slice of it."""
    window = values[fault.start : fault.start + fault.length]
    n = len(window)
    if fault.kind == "sensor_stuck":
        window[:] = window[0]
    elif fault.kind == "sensor_spike":
        spikes = np.arange(0, n, max(1, n // 6))
        peak = limit.high * (1 + fault.magnitude) if limit and limit.high else window.max() * 3 + 1
        if limit and limit.high is None and limit.low is not None:
            peak = limit.low * (1 - fault.magnitude)
        window[spikes] = peak
    else:
        # Ramp in over the first third, hold, ramp out over the last quarter.
        ramp = np.minimum(np.minimum(np.arange(n) / max(1, n // 3), 1.0), (n - np.arange(n)) / max(1, n // 4))
        ramp = np.clip(ramp, 0.0, 1.0)
        if limit and limit.high is not None and fault.kind != "pressure_drop":
            target = limit.high * (1 + fault.magnitude)
        else:
            target = (limit.low if limit and limit.low is not None else window.mean()) * (1 - fault.magnitude)
        window += ramp * (target - window)
    return window


def _alert_span(fault: Fault, window: np.ndarray, limit: Limit | None, stuck_after: int) -> tuple[int, int] | None:
    """Indices (first, last) of the window's rows that show the fault, if any do."""
    if fault.kind == "sensor_stuck":
        return (stuck_after, len(window) - 1) if len(window) > stuck_after else None
    if limit is None:
        return None
    bad = np.flatnonzero(
        (window < (limit.low if limit.low is not None else -np.inf))
        | (window > (limit.high if limit.high is not None else np.inf))
    )
    return (int(bad[0]), int(bad[-1])) if bad.size else None


def _worst(window: np.ndarray, limit: Limit | None) -> tuple[float, float | None]:
    """The reading to report and the threshold it broke."""
    if limit is None:
        return float(window[0]), None
    if limit.high is not None and window.max() > limit.high:
        return float(window.max()), limit.high
    return float(window.min()), limit.low


_FAULT_MESSAGES = {
    "overheating": "{name}: {metric} {value:.1f} above limit {threshold:g}",
    "vibration_rise": "{name}: vibration {value:.1f} mm/s above limit {threshold:g}",
    "pressure_drop": "{name}: {metric} dropped to {value:.1f}, below limit {threshold:g}",
    "sensor_spike": "{name}: {metric} spiked to {value:.1f} (limit {threshold:g})",
    "sensor_stuck": "{name}: {metric} sensor stuck at {value:.1f}",
}


# --------------------------------------------------------------------------- public API


def generate_block(
    eq: EquipmentType,
    number: int,
    *,
    seed: int,
    start: int,
    end: int,
    interval: int = READING_SECONDS,
    state: CounterState = CounterState(),
    fault_rate: float = 0.05,
) -> Block:
    """Rows for ``eq`` number ``number`` at timestamps ``start < t <= end`` on the interval grid.

    ``start`` and ``end`` are unix seconds; ``state`` carries the cumulative
    counters at ``start`` (from the table's last row when resuming).
    """
    if DAY % interval:
        raise ValueError(f"interval must divide a day evenly, got {interval} s")
    first = (start // interval + 1) * interval
    last = end // interval * interval
    if last < first:
        return Block(np.empty(0, dtype=np.int64), {m: np.empty(0) for m in eq.metrics}, [], state)
    days = np.arange(first // DAY, last // DAY + 1)
    points = DAY // interval
    ts = (days[:, None] * DAY + np.arange(points)[None, :] * interval).ravel()
    type_key = _TYPE_INDEX[eq.name]
    keep = (ts >= first) & (ts <= last)
    ctx = _Context(
        eq=eq,
        number=number,
        seed=seed,
        ts=ts,
        drivers=campus_drivers(seed, days, ts),
        noise=np.concatenate(
            [_rng(seed, type_key, number, int(d)).standard_normal((len(eq.metrics), points)) for d in days], axis=1
        ),
        slow=_smooth_noise((seed, type_key, number), days, points),
        static=_rng(seed, type_key, number, 7),
        # Whole days are generated so noise is keyed by day; counters only advance on emitted rows.
        step_h=np.where(keep, interval / 3600, 0.0),
        state=state,
        points_per_day=points,
    )
    columns = _PHYSICS[eq.name](ctx)
    eq_id = eq.equipment_id(number)
    display = f"{eq.display} {number}"
    alerts = []
    for i, day in enumerate(days):
        for fault in _day_faults(eq, number, seed, int(day), points, fault_rate):
            fault = replace(fault, start=fault.start + i * points)
            alert = _raise_alert(eq, eq_id, display, fault, columns[fault.metric], ts, last, interval)
            if alert is not None:
                alerts.append(alert)
    columns = {m: columns[m][keep] for m in eq.metrics}
    return Block(ts[keep], columns, alerts, _final_state(eq, columns, state))


def _raise_alert(
    eq: EquipmentType,
    eq_id: str,
    display: str,
    fault: Fault,
    values: np.ndarray,
    ts: np.ndarray,
    last: int,
    interval: int,
) -> RaisedAlert | None:
    """Inject ``fault`` into ``values`` (in place) and describe the alert it raises by ``last``.

    An alert whose fault is still going at ``last`` is active (no
    ``cleared_at``); the run that later passes its end clears it, which is
    why alerts are upserted on (equipment, metric, raised_at).
    """
    limit = limit_for(eq.name, fault.metric)
    window = _apply_fault(values, fault, limit)
    window_ts = ts[fault.start : fault.start + fault.length]
    span = _alert_span(fault, window, limit, stuck_after=max(1, 1800 // interval))
    if span is None or window_ts[span[0]] > last:
        return None
    seen = window[span[0] : span[1] + 1][window_ts[span[0] : span[1] + 1] <= last]
    value, threshold = _worst(seen, None if fault.kind == "sensor_stuck" else limit)
    cleared_at = int(window_ts[span[1]]) + interval
    cleared_at = cleared_at if cleared_at <= last else None
    message = _FAULT_MESSAGES[fault.kind].format(
        name=display, metric=fault.metric, value=value, threshold=threshold if threshold is not None else 0
    )
    return RaisedAlert(
        equipment_id=eq_id,
        severity=limit.severity if limit else "medium",
        metric=fault.metric,
        value=round(value, 3),
        threshold=threshold,
        message=message,
        raised_at=int(window_ts[span[0]]),
        cleared_at=cleared_at,
        acknowledged=fault.acknowledged and cleared_at is not None,
    )


def _final_state(eq: EquipmentType, columns: dict[str, np.ndarray], state: CounterState) -> CounterState:
    if not len(next(iter(columns.values()))):
        return state
    updates = {m: float(columns[m][-1]) for m in CARRIED_METRICS if m in columns}
    return replace(state, **updates)
