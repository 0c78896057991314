"""Why a unit misbehaves: the symptom, what the physics says drives it, and the likely causes, ranked.

``diagnose`` reads only the unit's data and the engineering knowledge in
``layer2/answering/physics.py`` (never a generator's fault schedule), so it
works the same on a customer's database:

1. **The symptom**: the metric asked ("why is the supply air so warm"), else
   what stands out now (an anomaly), else the unit's newest alert in the
   window asked (default the last 24 hours), else its running state for
   "why did it trip".
2. **The episode**: the last hour if the symptom is off now; else the alert's
   own span (raised to cleared); else the window asked.
3. **The numbers**, each from :meth:`TimeSeriesDataAccess.profile`: the
   symptom's value (now, or its peak in a past episode) against its alarm
   limit and its usual level (the same hours over the previous 7 days); each
   driver's mean in the episode against its own usual; the unit's alerts and
   anomalies; its peers' mean in the same window.
4. **The causes**, ranked: a stuck sensor (flat readings while it usually
   moves), sensor spikes (a peak past the limit while the episode's mean is
   usual), a driver that moved the way the physics says, a cause shared by
   the peers, a stop, and else a fault in the unit itself.

A *deviation* is how far a mean is from its usual in units of the usual's
spread (a floor of 2 % of the level keeps flat signals from exaggerating);
beyond ``MOVED`` a driver counts as moved.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

from industrial.plant.spec import limit_for
from industrial.timeseries.access import Profile, TimeSeriesDataAccess
from layer2.answering import physics
from layer2.planning.planner import primary_metric
from layer2.understanding.intent import Intent

RECENT = timedelta(hours=1)  # "now" for a symptom: the last hour
USUAL_DAYS = 7
MOVED = 2.0  # deviations beyond this count as moved
MAX_DRIVERS = 3
MIN_EPISODE = timedelta(minutes=15)
SPIKE_SHARE = 0.3  # a mean that moved less than this share of the peak's way: the peak was brief


@dataclass(frozen=True)
class Reading:
    """One metric's numbers in the episode, as the answer speaks them."""

    metric: str
    label: str
    unit: str
    value: float | None  # the newest reading (ongoing) or the episode's peak (past)
    peak: float | None  # the episode's extreme on the symptom's side (its max, or min when low)
    mean: float | None
    usual: float | None
    usual_days: int
    deviation: float | None  # (mean - usual) / spread


@dataclass(frozen=True)
class Cause:
    kind: str  # stuck_sensor | sensor_spike | driver | shared | unit_fault | sensor | schedule | unplanned_stop | none
    text: str
    score: float
    metric: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    equipment_id: str
    equipment_type: str
    symptom: Reading
    direction: str  # high | low | flat | stopped | none (as said, else as the data shows)
    start: datetime  # the episode read
    end: datetime
    ongoing: bool  # the episode reaches now
    abnormal: bool  # the data shows the symptom off (past a limit, far from usual, flat, alerted or anomalous)
    limit: float | None  # the alarm limit on the symptom's side
    limit_side: str | None  # "high" or "low": which of the metric's limits that is
    drivers: list[Reading]  # strongest first
    running: float | None  # share of the episode the unit ran (None: no running status)
    alerts: int  # on the unit in the window asked
    newest_alert: str | None
    anomalies: int
    peers: int
    peers_same: int  # peers showing the same
    peer_mean: float | None  # the peers' median of their episode means
    causes: list[Cause] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def diagnose(*, intent: Intent, access: TimeSeriesDataAccess) -> Diagnosis | None:
    """The diagnosis of the first unit ``intent`` names, or None if it names none."""
    if not intent.equipment_ids:
        return None
    eq_id = intent.equipment_ids[0]
    table = access.catalog.table(eq_id)
    available = list(table.metrics)
    now = intent.time_range.end
    said = intent.filters.get("direction")
    anomalies = access.detect_anomalies(eq_id)
    alerts = access.alerts(equipment_id=eq_id, start=intent.time_range.start, end=now, limit=20)
    metric = _symptom_metric(intent, available, anomalies, alerts, said)
    start, end, ongoing = _episode(metric, intent, anomalies, alerts)
    first = access.first_reading(eq_id)
    if first is not None and start < first < end:  # "over the last 1000 years": the years there is data for
        start = first
    knowledge = physics.symptom(table.equipment_type, metric, available)
    read = [metric, *(d.metric for d in knowledge.drivers)]
    if "running_status" in available:
        read.append("running_status")
    profiles = access.profile(eq_id, read, start, end, days=USUAL_DAYS)
    symptom_profile = profiles[metric]
    flagged = any(a.metric == metric for a in anomalies) or any(a.metric == metric for a in alerts)
    direction, abnormal = _which_way(symptom_profile, table.equipment_type, anomalies, said, flagged=flagged)
    limit, limit_side = _limit(table.equipment_type, metric, direction)
    symptom = _reading(access, eq_id, symptom_profile, direction, ongoing)
    drivers = sorted(
        (_reading(access, eq_id, profiles[d.metric], None, ongoing) for d in knowledge.drivers if d.metric != metric),
        key=lambda r: -abs(r.deviation or 0.0),
    )[:MAX_DRIVERS]
    means = _peer_means(access, eq_id, table.equipment_type, metric, start, end)
    running = profiles["running_status"].mean if "running_status" in profiles else None
    diagnosis = Diagnosis(
        equipment_id=eq_id,
        equipment_type=table.equipment_type,
        symptom=symptom,
        direction=direction,
        start=start,
        end=end,
        ongoing=ongoing,
        abnormal=abnormal,
        limit=limit,
        limit_side=limit_side,
        drivers=drivers,
        running=running,
        alerts=len(alerts),
        newest_alert=alerts[0].message if alerts else None,
        anomalies=len(anomalies),
        peers=len(means),
        peers_same=sum(1 for m in means if _same_as(m, symptom_profile, direction, limit)),
        peer_mean=statistics.median(means) if means else None,
    )
    return _with_causes(diagnosis, symptom_profile, knowledge, available)


def _which_way(p: Profile, equipment_type: str, anomalies, said: str | None, *, flagged: bool) -> tuple[str, bool]:
    """Which way the symptom is off (as the data shows it, else as said) and whether the data shows it off."""
    if p.metric == "running_status":  # "why did pump 3 trip": is it stopped now?
        shown = "stopped" if (p.last or 0.0) < 0.5 else "none"
    else:
        shown = _direction_of(p, equipment_type, p.metric, alerted=flagged)
    if shown != "none":
        return shown, True
    return said or (_flagged_side(p.metric, anomalies, p) if flagged else "none"), flagged


def _peer_means(access, eq_id: str, equipment_type: str, metric: str, start, end) -> list[float]:
    """Each peer's mean of ``metric`` over the episode (one statement for the fleet)."""
    peers = [i for i in access.catalog.ids_of_type(equipment_type) if i != eq_id]
    found = access.window_aggregates(peers, metric, start, end) if peers else {}
    return [a.mean for a in found.values() if a.mean is not None]


def _symptom_metric(intent: Intent, available: list[str], anomalies, alerts, said: str | None) -> str:
    asked = [m for m in intent.metrics if m in available and m != "running_status"]
    if asked:
        return asked[0]
    tripped = alerts[0].metric if alerts and alerts[0].metric in available else None
    if said == "stopped" and (tripped or "running_status" in available):
        return tripped or "running_status"  # "why did it trip": the alarm it tripped on, else its stop
    if anomalies:
        return anomalies[0].metric
    if tripped:
        return tripped
    return primary_metric(available) or available[0]


def _episode(metric: str, intent: Intent, anomalies, alerts) -> tuple[datetime, datetime, bool]:
    """The window to read: the last hour if the symptom is off now, else its newest alert's span, else the asked."""
    now = intent.time_range.end
    if any(a.metric == metric for a in anomalies):
        return now - RECENT, now, True
    alert = next((a for a in alerts if a.metric == metric), None)
    if alert is not None:
        end = alert.cleared_at or now
        start = min(alert.raised_at, end - MIN_EPISODE)
        return start, end, alert.cleared_at is None
    if intent.time_range.label in ("last 24 hours", "now"):
        return now - RECENT, now, True
    return intent.time_range.start, now if intent.time_range.end >= now else intent.time_range.end, False


def _direction_of(p: Profile, equipment_type: str, metric: str, *, alerted: bool) -> str:
    """Which way the data shows the symptom off; flat readings count when the metric usually moves or was
    alerted on (a sensor stuck at a stopped unit's constant reading)."""
    if p.count >= 10 and p.min == p.max and ((p.usual_spread or 0) > 0 or alerted):
        return "flat"
    limit = limit_for(equipment_type, metric)
    if limit and limit.high is not None and p.max is not None and p.max > limit.high:
        return "high"
    if limit and limit.low is not None and p.min is not None and p.min < limit.low:
        return "low"
    z = _deviation(p)
    if z is None or abs(z) < MOVED:
        return "none"
    return "high" if z > 0 else "low"


def _limit(equipment_type: str, metric: str, direction: str) -> tuple[float | None, str | None]:
    """The alarm limit on the symptom's side and which side it is (a flat or stopped reading: whichever the
    metric has, the high one first)."""
    limit = limit_for(equipment_type, metric)
    if limit is None:
        return None, None
    if direction == "low" or (direction != "high" and limit.high is None):
        return limit.low, "low"
    return limit.high, "high"


def _flagged_side(metric: str, anomalies, p: Profile) -> str:
    """Which way an alerted or anomalous symptom is off: the anomaly's own side, else the mean's."""
    found = next((a for a in anomalies if a.metric == metric and a.baseline_median is not None), None)
    if found is not None:
        return "high" if found.value > found.baseline_median else "low"
    return "low" if (p.mean or 0.0) < (p.usual or 0.0) else "high"


def _deviation(p: Profile) -> float | None:
    if p.mean is None or p.usual is None:
        return None
    spread = max(p.usual_spread or 0.0, 0.02 * abs(p.usual), 1e-6)
    return (p.mean - p.usual) / spread


def _reading(access, eq_id: str, p: Profile, direction: str | None, ongoing: bool) -> Reading:
    peak = p.min if direction == "low" else p.max
    value = p.last if ongoing or direction in (None, "flat", "none", "stopped") else peak
    label = access.metric(eq_id, p.metric).label
    return Reading(p.metric, label, p.unit, value, peak, p.mean, p.usual, p.usual_days, _round(_deviation(p)))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _same_as(mean: float, p: Profile, direction: str, limit: float | None) -> bool:
    """Whether a peer's mean in the episode is off the same way (past the limit, or as far from the usual)."""
    if limit is not None and direction in ("high", "low"):
        return mean > limit if direction == "high" else mean < limit
    z = _deviation(p)
    if p.usual is None or z is None or abs(z) < MOVED:
        return False
    return (mean - p.usual) * z > 0 and abs(mean - p.usual) >= 0.5 * abs((p.mean or p.usual) - p.usual)


def _with_causes(d: Diagnosis, p: Profile, knowledge: physics.Symptom, available: list[str]) -> Diagnosis:
    causes: list[Cause] = []
    if d.direction == "flat":
        causes.append(Cause("stuck_sensor", "a stuck sensor: the reading has not moved while it usually does", 0.95))
    if d.symptom.metric == "running_status":
        return replace(d, causes=[_stop_cause(d)])
    if d.direction in ("high", "low") and _brief(p, d.direction, d.limit):
        causes.append(Cause("sensor_spike", "sensor spikes or electrical noise: brief readings past the limit while "
                            "its average stayed near usual", 0.85))  # fmt: skip
    sign = 1 if d.direction == "high" else -1 if d.direction == "low" else 0
    for driver, reading in ((k, r) for k in knowledge.drivers for r in d.drivers if r.metric == k.metric):
        moved = reading.deviation is not None and abs(reading.deviation) >= MOVED
        if d.abnormal and sign and moved and (reading.deviation > 0) == (driver.sign * sign > 0):
            score = 0.55 + 0.05 * min(abs(reading.deviation), 6)
            side = "above" if reading.deviation > 0 else "below"
            text = f"{driver.why} (its {reading.label} is {side} its usual)"
            if driver.metric == "running_status":
                text = f"{driver.why}: it ran less than it usually does at these hours"
            causes.append(Cause("driver", text, round(score, 2), driver.metric))
    if d.abnormal and d.peers >= 2 and d.peers_same * 2 >= d.peers and sign:
        causes.append(Cause("shared", "a cause its peers share (the weather or the plant's load)", 0.7))
    if d.abnormal and sign and not any(c.kind in ("stuck_sensor", "sensor_spike", "driver", "shared") for c in causes):
        causes.append(Cause("unit_fault", knowledge.local, 0.75))
    if not causes:
        causes.append(Cause("none", "it is within its limits and near its usual level", 0.5))
    elif d.abnormal and not any(c.kind in ("stuck_sensor", "sensor_spike") for c in causes):
        causes.append(Cause("sensor", "a faulty sensor (check it against a local gauge)", 0.3))
    causes.sort(key=lambda c: -c.score)
    return replace(d, causes=causes)


def _brief(p: Profile, direction: str, limit: float | None) -> bool:
    """A peak past the limit that the episode's mean hardly follows: spikes, not a sustained rise or fall."""
    peak = p.max if direction == "high" else p.min
    if limit is None or peak is None or p.mean is None or p.usual is None:
        return False
    if (peak <= limit) if direction == "high" else (peak >= limit):
        return False
    rise = peak - p.usual
    return rise != 0 and (p.mean - p.usual) / rise < SPIKE_SHARE


def _stop_cause(d: Diagnosis) -> Cause:
    """Why a unit is stopped: its schedule (usually off at these hours) or not (an unplanned stop)."""
    running_now = (d.symptom.value or 0.0) >= 0.5
    if running_now:
        return Cause("none", "it is running now", 0.5)
    if d.symptom.usual is not None and d.symptom.usual < 0.5:
        return Cause("schedule", "its schedule: it is usually off at these hours", 0.8)
    if d.alerts:
        return Cause("unplanned_stop", "an unplanned stop after an alert: it usually runs at these hours", 0.85)
    return Cause("unplanned_stop", "an unplanned stop: it usually runs at these hours", 0.8)
