"""TimeSeriesRAGProvider against the seeded plant, checked with independent SQL.

Numbers are compared after rounding by the rule the module documents:
2 decimals for power_factor and cop, whole numbers for rpm and ppm, 1 decimal
otherwise. The rule is re-implemented here on purpose, so a change to it
breaks these tests.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from psycopg import sql

from industrial.errors import UnknownEquipment, UnknownMetric
from industrial.management.checks import run_checks
from industrial.timeseries.access import SEVERITIES, Series
from industrial.timeseries.rag import TRUNCATED, TimeSeriesRAGProvider

BUDGETS = [1, 11, 12, 50, 120, 300, 800, 2000, 4000, 20000]


def documented(metric: str, value: float) -> str:
    decimals = 2 if metric in ("power_factor", "cop") else 0 if metric.endswith(("_rpm", "_ppm")) else 1
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text


@pytest.fixture
def rag(access) -> TimeSeriesRAGProvider:
    return TimeSeriesRAGProvider(access)


def latest_row(plant_db, equipment_id: str) -> dict:
    cur = plant_db.execute(
        sql.SQL('SELECT * FROM {} ORDER BY "timestamp" DESC LIMIT 1').format(sql.Identifier(equipment_id))
    )
    return dict(zip([d.name for d in cur.description], cur.fetchone(), strict=True))


def section_titles(text: str) -> list[str]:
    return re.findall(r"^## (.+)$", text, flags=re.MULTILINE)


@pytest.fixture
def reopened_alerts(plant_db) -> list[int]:
    """The six newest alerts made active for one test: the small seed clears every fault before it ends."""
    rows = plant_db.execute(
        "SELECT id, cleared_at FROM alerts WHERE cleared_at IS NOT NULL ORDER BY raised_at DESC, id LIMIT 6"
    ).fetchall()
    assert len(rows) == 6, "the seed should raise (and clear) alerts"
    plant_db.execute("UPDATE alerts SET cleared_at = NULL WHERE id = ANY(%s)", ([i for i, _ in rows],))
    yield [i for i, _ in rows]
    with plant_db.cursor() as cur:
        cur.executemany("UPDATE alerts SET cleared_at = %s WHERE id = %s", [(c, i) for i, c in rows])


@pytest.fixture
def overheated_pump(plant_db) -> float:
    """pump_002's latest motor temperature raised to 150 °C (limit 85 °C) for one test."""
    ts, original = plant_db.execute(
        'SELECT "timestamp", motor_temp_c FROM pump_002 ORDER BY "timestamp" DESC LIMIT 1'
    ).fetchone()
    plant_db.execute('UPDATE pump_002 SET motor_temp_c = 150 WHERE "timestamp" = %s', (ts,))
    yield 150.0
    plant_db.execute('UPDATE pump_002 SET motor_temp_c = %s WHERE "timestamp" = %s', (original, ts))


# --------------------------------------------------------------------------- summary


@pytest.mark.parametrize("equipment_id", ["chiller_001", "pump_002", "ahu_001", "motor_001", "energy_meter_002"])
def test_summary_shows_latest_stored_values(rag, access, plant_db, equipment_id):
    row = latest_row(plant_db, equipment_id)
    text = rag.equipment_summary(equipment_id)
    name, building, zone = plant_db.execute(
        "SELECT display_name, building, zone FROM equipment WHERE equipment_id = %s", (equipment_id,)
    ).fetchone()
    assert text.startswith(f"{name} ({equipment_id})")
    assert f"location {building} / {zone}" in text
    assert f"Latest reading at {row['timestamp'].astimezone(UTC):%Y-%m-%d %H:%M} UTC" in text
    for column in access.metrics(equipment_id):
        if column.name == "running_status":
            assert f"Status: {'running' if row['running_status'] >= 0.5 else 'stopped'}." in text
            continue
        unit = f" {column.unit}" if column.unit else ""
        assert f"- {column.label}: {documented(column.name, row[column.name])}{unit}\n" in text + "\n"


def test_summary_lists_active_alerts_of_the_equipment(rag, plant_db, reopened_alerts):
    equipment_id, count = plant_db.execute(
        "SELECT equipment_id, count(*) FROM alerts WHERE cleared_at IS NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()
    text = rag.equipment_summary(equipment_id)
    assert f"Active alerts ({count}):" in text
    listed = [line for line in text.splitlines() if line.startswith("- [")]
    expected = plant_db.execute(
        "SELECT severity, message, raised_at FROM alerts WHERE equipment_id = %s AND cleared_at IS NULL "
        "ORDER BY raised_at DESC, id DESC LIMIT 10",
        (equipment_id,),
    ).fetchall()
    assert listed == [f"- [{s}] {m} (raised {t.astimezone(UTC):%Y-%m-%d %H:%M} UTC)" for s, m, t in expected]


def test_summary_says_when_no_alerts_are_active(rag, plant_db):
    (equipment_id,) = plant_db.execute(
        "SELECT equipment_id FROM equipment WHERE equipment_id NOT IN "
        "(SELECT equipment_id FROM alerts WHERE cleared_at IS NULL) ORDER BY 1 LIMIT 1"
    ).fetchone()
    assert "Active alerts: none." in rag.equipment_summary(equipment_id)


# --------------------------------------------------------------------------- trend


@pytest.mark.parametrize(
    ("equipment_id", "metric"),
    [("chiller_001", "power_consumption_kw"), ("transformer_002", "power_factor"), ("pump_001", "speed_rpm")],
)
def test_trend_statistics_match_sql_over_the_same_window(rag, plant_db, equipment_id, metric):
    query = sql.SQL(
        'WITH l AS (SELECT max("timestamp") AS t FROM {t}) '
        "SELECT min({c}), avg({c}), max({c}), count({c}), "
        '(array_agg({c} ORDER BY "timestamp"))[1], (array_agg({c} ORDER BY "timestamp" DESC))[1] '
        'FROM {t}, l WHERE "timestamp" > l.t - interval \'24 hours\' AND "timestamp" <= l.t'
    ).format(t=sql.Identifier(equipment_id), c=sql.Identifier(metric))
    low, mean, high, count, first, last = plant_db.execute(query).fetchone()
    text = rag.trend_analysis(equipment_id, metric, hours=24)

    assert count == 24 * 60
    assert f"({count} readings)" in text
    for label, value in (("min", low), ("mean", mean), ("max", high), ("first", first), ("last", last)):
        assert re.search(rf"\b{label} {re.escape(documented(metric, float(value)))}\b", text), (label, value, text)
    change = last - first
    direction = "stable" if abs(change) < 0.10 * (high - low) else "rising" if change > 0 else "falling"
    assert direction in text.splitlines()[2]


def test_trend_reports_the_hour_of_the_peak(rag, plant_db):
    query = """
        WITH l AS (SELECT max("timestamp") AS t FROM chiller_002),
             w AS (SELECT * FROM chiller_002, l WHERE "timestamp" > l.t - interval '6 hours' AND "timestamp" <= l.t)
        SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00+00')
        FROM w ORDER BY chw_return_temp_c DESC, "timestamp" LIMIT 1
    """
    (peak_hour,) = plant_db.execute(query).fetchone()
    text = rag.trend_analysis("chiller_002", "chw_return_temp_c", hours=6)
    assert f"peak in the 1h from {peak_hour.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in text


def test_format_series_downsamples_evenly_keeping_both_ends():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    points = [(start + timedelta(hours=h), float(h)) for h in range(24)]
    series = Series("pump_001", "motor_temp_c", "°C", "1h", "avg", start, start + timedelta(days=1), points)

    text = TimeSeriesRAGProvider.format_series(series, max_points=12)
    pairs = text.split(": ", 1)[1].split("; ")
    assert len(pairs) == 12
    assert pairs[0] == "00:00 0.0" and pairs[-1] == "23:00 23.0"
    hours = [int(p.split(":")[0]) for p in pairs]
    assert max(b - a for a, b in pairwise(hours)) <= 3
    assert "12 of 24 points" in text
    assert len(TimeSeriesRAGProvider.format_series(series, max_points=50).split(": ", 1)[1].split("; ")) == 24


# --------------------------------------------------------------------------- comparison


def test_comparison_ranks_in_sql_order_with_spread(rag, plant_db):
    ids = ["chiller_001", "chiller_002", "pump_001", "pump_002", "motor_001", "motor_002", "ahu_001", "ahu_002"]
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL('(SELECT {i}::text, power_consumption_kw FROM {t} ORDER BY "timestamp" DESC LIMIT 1)').format(
            i=sql.Literal(i), t=sql.Identifier(i)
        )
        for i in ids
    )
    rows = plant_db.execute(sql.SQL("SELECT * FROM ({}) v ORDER BY 2 DESC, 1").format(union)).fetchall()
    text = rag.comparison(ids, "power_consumption_kw")

    ranked = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert len(ranked) == len(rows)
    for rank, (line, (eq_id, value)) in enumerate(zip(ranked, rows, strict=True), 1):
        assert line.startswith(f"{rank}. ") and f"({eq_id}): {documented('power_consumption_kw', value)} kW at" in line
    spread = documented("power_consumption_kw", rows[0][1] - rows[-1][1])
    assert f"spread {spread} kW" in text
    assert re.search(rf"highest .*\({re.escape(documented('power_consumption_kw', rows[0][1]))} kW\)", text)


def test_comparison_needs_equipment_and_known_metric(rag):
    with pytest.raises(ValueError, match="equipment_ids"):
        rag.comparison([], "power_consumption_kw")
    with pytest.raises(UnknownMetric):
        rag.comparison(["chiller_001", "transformer_001"], "cop")


# --------------------------------------------------------------------------- anomalies and alerts


def test_anomaly_context_reports_a_limit_breach(rag, access, overheated_pump):
    text = rag.anomaly_context("pump_002")
    assert "- [critical] Pump 2 (pump_002) motor temp: limit breach, latest 150.0 °C > limit 85.0 °C" in text
    lines = [line for line in text.splitlines() if line.startswith("- [")]
    own = access.detect_anomalies("pump_002")
    assert len(lines) == len(own)
    for anomaly, line in zip(own, lines, strict=True):
        assert f"[{anomaly.severity}]" in line and f"{documented(anomaly.metric, anomaly.value)} {anomaly.unit}" in line
        if anomaly.baseline_median is not None:
            assert f"baseline median {documented(anomaly.metric, anomaly.baseline_median)}" in line
    by_type = rag.anomaly_context(equipment_type="pump")
    assert by_type.count("- [") == len(access.anomaly_scan("pump")) and "(pump_002) motor temp" in by_type
    plant = rag.anomaly_context()
    assert plant.count("\n- [") == sum(len(access.anomaly_scan(t)) for t in access.equipment_types())
    assert "(pump_002) motor temp: limit breach" in plant


def test_anomaly_context_says_when_none(rag, access):
    quiet = next(e.equipment_id for e in access.list_equipment() if not access.detect_anomalies(e.equipment_id))
    assert rag.anomaly_context(quiet).startswith("No anomalies detected")


@pytest.mark.parametrize("equipment_type", [None, "pump", "chiller"])
def test_alerts_context_counts_match_sql(rag, plant_db, reopened_alerts, equipment_type):
    counts = dict(
        plant_db.execute(
            "SELECT a.severity, count(*) FROM alerts a LEFT JOIN equipment e USING (equipment_id) "
            "WHERE a.cleared_at IS NULL AND (%(t)s::text IS NULL OR e.equipment_type = %(t)s) GROUP BY 1",
            {"t": equipment_type},
        ).fetchall()
    )
    text = rag.alerts_context(equipment_type=equipment_type, limit=3)
    total = sum(counts.values())
    if not total:
        assert text.startswith(f"No active alerts of {equipment_type}")
        return
    by_severity = ", ".join(f"{s} {counts.get(s, 0)}" for s in SEVERITIES)
    assert f": {total} ({by_severity})." in text.splitlines()[0]
    assert len([line for line in text.splitlines() if line.startswith("- [")]) == min(3, total)


def test_alerts_context_counts_all_alerts_when_asked(rag, plant_db, reopened_alerts):
    (total,) = plant_db.execute("SELECT count(*) FROM alerts").fetchone()
    assert total > len(reopened_alerts)
    assert rag.alerts_context(active_only=False).startswith(f"Alerts: {total} (")
    assert rag.alerts_context().startswith(f"Active alerts: {len(reopened_alerts)} (")
    with pytest.raises(ValueError, match="limit"):
        rag.alerts_context(limit=0)


# --------------------------------------------------------------------------- build_context


def test_build_context_never_exceeds_the_budget(rag):
    for budget in BUDGETS:
        text = rag.build_context(["chiller_001", "chiller_002"], ["cop"], max_chars=budget)
        assert 0 < len(text) <= budget, budget
    tiny = rag.build_context(["chiller_001"], max_chars=50)
    assert tiny.startswith("## Summary of chiller_001") and tiny.endswith(TRUNCATED)


def test_build_context_drops_lowest_priority_sections_first(rag, reopened_alerts):
    kwargs = {"equipment_ids": ["pump_001", "pump_002"], "metrics": ["motor_temp_c"]}
    full = rag.build_context(**kwargs, max_chars=100_000)
    titles = section_titles(full)
    assert titles == [
        "Summary of pump_001",
        "Summary of pump_002",
        "Trend of motor_temp_c on pump_001",
        "Trend of motor_temp_c on pump_002",
        "Comparison of motor_temp_c",
        "Anomalies",
        "Alerts",
    ]
    sections = full.split("\n\n")
    for keep in range(1, len(sections)):
        prefix = "\n\n".join(sections[:keep])
        budget = len(prefix) + 2 + len(sections[keep]) - 1  # one character short of the next section
        text = rag.build_context(**kwargs, max_chars=budget)
        assert len(text) <= budget
        assert section_titles(text) == titles[:keep]
        assert text.startswith(prefix)
    assert text.endswith("\n\n[omitted for length: Alerts]")


def test_build_context_validates_inputs(rag):
    with pytest.raises(ValueError, match="max_chars"):
        rag.build_context(["chiller_001"], max_chars=0)
    with pytest.raises(UnknownEquipment):
        rag.build_context(["chiller_001", "chiller_999"], max_chars=50)
    with pytest.raises(UnknownMetric):
        rag.build_context(["chiller_001", "pump_001"], ["cop"], max_chars=50)


@pytest.mark.parametrize(
    "call",
    [
        lambda rag: rag.equipment_summary("chiller_099"),
        lambda rag: rag.trend_analysis("chiller_099", "cop"),
        lambda rag: rag.anomaly_context("chiller_099"),
        lambda rag: rag.comparison(["chiller_001", "chiller_099"], "cop"),
    ],
)
def test_unknown_equipment_raises(rag, call):
    with pytest.raises(UnknownEquipment, match="chiller_099"):
        call(rag)


def test_unknown_metric_raises(rag):
    with pytest.raises(UnknownMetric, match="vibration_mm_s"):
        rag.trend_analysis("chiller_001", "vibration_mm_s")


# --------------------------------------------------------------------------- command and runner


def test_run_checks_prints_a_line_per_check_and_counts_failures():
    out = io.StringIO()

    def broken() -> None:
        raise KeyError("nope")

    def wrong() -> None:
        raise AssertionError("2 != 3")

    failures = run_checks([("ok", lambda: None), ("broken", broken), ("wrong", wrong), ("after", lambda: None)], out)
    lines = out.getvalue().splitlines()
    assert failures == 2
    assert re.fullmatch(r"PASS  ok  \(\d+ ms\)", lines[0])
    assert re.fullmatch(r"FAIL  broken  \(\d+ ms\): KeyError: 'nope'", lines[1])
    assert re.fullmatch(r"FAIL  wrong  \(\d+ ms\): 2 != 3", lines[2])
    assert lines[3].startswith("PASS  after")


@pytest.mark.parametrize("equipment_id", ["chiller_001", "pump_002"])
def test_command_passes_every_check_on_the_seeded_plant(configured_plant, equipment_id):
    out = io.StringIO()
    call_command("test_rag_integration", "--equipment", equipment_id, "--max-chars", "1500", stdout=out)
    output = out.getvalue()
    passed = re.findall(r"^PASS  (.+?)  \(\d+ ms\)$", output, flags=re.MULTILINE)
    assert "FAIL" not in output
    assert len(passed) == 7
    assert any(name.startswith("comparison with") for name in passed)
    assert output.rstrip().endswith("7 of 7 checks passed")


def test_command_rejects_unknown_equipment(configured_plant):
    with pytest.raises(CommandError, match="chiller_999"):
        call_command("test_rag_integration", "--equipment", "chiller_999", stdout=io.StringIO())
    with pytest.raises(CommandError, match="max-chars"):
        call_command("test_rag_integration", "--max-chars", "0", stdout=io.StringIO())
