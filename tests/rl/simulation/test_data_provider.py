"""The RL time-series data provider against the seeded test plant, checked by independent SQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from psycopg import sql

from command_center.config_options import config_from_options
from industrial.errors import UnknownEquipmentType
from industrial.plant.spec import limit_for
from industrial.timeseries.access import BUCKET_ORIGIN, TimeSeriesDataAccess
from layer2.planning.plan_prompt import candidate_prompt, offered_slots, parse_plan
from layer2.planning.planner import candidates
from layer2.understanding.intent import PlantVocabulary, parse_intent
from rl.simulation.data_provider import (
    InsufficientData,
    ProviderConfig,
    RLTimeSeriesDataProvider,
    StateSample,
    _row_statement,
)
from rl.simulation.diagnostics import ProviderCheckOptions
from rl.simulation.situation_pairs import SITUATIONS, contrast_plans, situation_pairs
from tests.conftest import TEST_DATABASE

MINUTE = timedelta(minutes=1)


@pytest.fixture
def provider(access) -> RLTimeSeriesDataProvider:
    return RLTimeSeriesDataProvider(access, seed=11)


# --------------------------------------------------------------------------- independent SQL


def row_at(db, equipment_id: str, ts) -> dict[str, object]:
    cur = db.execute(sql.SQL('SELECT * FROM {} WHERE "timestamp" = %s').format(sql.Identifier(equipment_id)), (ts,))
    row = cur.fetchone()
    assert row is not None, f"no row of {equipment_id} at {ts}"
    return dict(zip([d.name for d in cur.description], row, strict=True))


def alerting_at(db, equipment_id: str, ts) -> list[str]:
    rows = db.execute(
        "SELECT DISTINCT metric FROM alerts WHERE equipment_id = %s AND raised_at <= %s "
        "AND (cleared_at IS NULL OR cleared_at > %s) ORDER BY metric",
        (equipment_id, ts, ts),
    ).fetchall()
    return [r[0] for r in rows]


def breaches(equipment_type: str, row: dict[str, object]) -> list[str]:
    running = row.get("running_status")
    return sorted(
        m
        for m, v in row.items()
        if m != "timestamp"
        and (limit := limit_for(equipment_type, m)) is not None
        and limit.violated_by(v, running=running is None or running >= 0.5)
    )


def assert_state_is_its_row(db, state: StateSample) -> None:
    row = row_at(db, state.equipment_id, state.timestamp)
    assert state.values == {m: float(v) for m, v in row.items() if m != "timestamp"}
    assert list(state.alert_metrics) == alerting_at(db, state.equipment_id, state.timestamp)
    assert sorted(state.limit_breaches) == breaches(state.equipment_type, row)


def widget_types(plan: str, offered) -> list[str]:
    items = parse_plan(plan, offered)
    assert items is not None, f"invalid plan {plan}"
    return [i.widget_type for i in items]


# --------------------------------------------------------------------------- states


def test_sampled_states_are_rows_of_the_plant_with_their_alarm_state(provider, plant_db):
    states = provider.sample_states(60)
    assert len(states) == 60
    assert len({s.equipment_id for s in states}) >= 15  # 22 tables: random equipment, not one
    assert len({s.timestamp for s in states}) >= 50  # random instants, not one
    for state in states:
        assert_state_is_its_row(plant_db, state)
        assert (
            state.equipment_type
            == plant_db.execute(
                "SELECT equipment_type FROM equipment WHERE equipment_id = %s", (state.equipment_id,)
            ).fetchone()[0]
        )


def test_states_of_one_type(provider):
    states = provider.sample_states(12, equipment_type="pump")
    assert {s.equipment_type for s in states} == {"pump"}
    assert {s.equipment_id for s in states} == {"pump_001", "pump_002"}


def test_state_lookup_is_an_index_probe_not_a_scan(access, plant_db):
    """What keeps sampling cheap on a 276 GB plant: each state is one probe of the table's primary key."""
    statement = sql.SQL("EXPLAIN ") + _row_statement(access.catalog.table("chiller_001"))
    plan = "\n".join(r[0] for r in plant_db.execute(statement, ([BUCKET_ORIGIN, BUCKET_ORIGIN],)))
    assert "Index Scan using chiller_001_pkey" in plan
    assert "Seq Scan" not in plan and "Sort" not in plan


def test_alarm_states_are_in_alarm_by_the_alerts_table(provider, plant_db):
    for state in provider.alarm_states(15):
        assert_state_is_its_row(plant_db, state)
        assert alerting_at(plant_db, state.equipment_id, state.timestamp), f"{state} is not in alarm"


def test_an_alert_is_active_from_its_raised_minute_until_before_its_cleared_minute(provider, plant_db):
    eq, metric, raised, cleared = plant_db.execute(
        "SELECT equipment_id, metric, raised_at, cleared_at FROM alerts WHERE cleared_at IS NOT NULL "
        "ORDER BY raised_at LIMIT 1"
    ).fetchone()
    before, first, last, after = provider.states_at(
        [(eq, raised - MINUTE), (eq, raised), (eq, cleared - MINUTE), (eq, cleared)]
    )
    assert metric not in before.alert_metrics
    assert metric in first.alert_metrics and metric in last.alert_metrics
    assert metric not in after.alert_metrics
    assert after.timestamp == cleared


def test_an_unknown_type_and_bad_counts_are_refused(provider):
    with pytest.raises(UnknownEquipmentType, match="did you mean pump"):
        provider.sample_states(3, equipment_type="pumps")
    with pytest.raises(ValueError, match="n must be an integer of at least 0, got -1"):
        provider.sample_states(-1)


# --------------------------------------------------------------------------- trajectories


def test_trajectories_are_ordered_inside_their_window_and_match_sql(provider, plant_db):
    window = timedelta(hours=3)
    for t in provider.sample_trajectories(8, window, "15m", metrics=2):
        assert t.end - t.start == window
        assert (t.end - BUCKET_ORIGIN) % timedelta(minutes=15) == timedelta(0), "windows end on a bucket edge"
        assert list(t.timestamps) == sorted(set(t.timestamps))
        assert t.start <= t.timestamps[0] and t.timestamps[-1] < t.end
        assert len(t.metrics) == 2 and "running_status" not in t.metrics
        for metric in t.metrics:
            expected = plant_db.execute(
                sql.SQL(
                    "SELECT date_bin('15 minutes', \"timestamp\", %s) AS b, avg({m}) FROM {t} "
                    'WHERE "timestamp" >= %s AND "timestamp" < %s GROUP BY b ORDER BY b'
                ).format(m=sql.Identifier(metric), t=sql.Identifier(t.equipment_id)),
                (BUCKET_ORIGIN, t.start, t.end),
            ).fetchall()
            assert list(zip(t.timestamps, t.values[metric], strict=True)) == [(b, float(v)) for b, v in expected]
        overlapping = plant_db.execute(
            "SELECT DISTINCT metric FROM alerts WHERE equipment_id = %s AND raised_at < %s "
            "AND (cleared_at IS NULL OR cleared_at > %s) ORDER BY metric",
            (t.equipment_id, t.end, t.start),
        ).fetchall()
        assert list(t.alert_metrics) == [r[0] for r in overlapping]


def test_raw_trajectories_hold_every_row_of_the_window(provider):
    for t in provider.sample_trajectories(4, timedelta(minutes=30), "raw"):
        assert len(t.timestamps) == 30
        assert all(b - a == MINUTE for a, b in zip(t.timestamps, t.timestamps[1:], strict=False))


def test_trajectory_options_are_validated(provider):
    with pytest.raises(ValueError, match="step must be one of"):
        provider.sample_trajectories(1, step="7m")
    with pytest.raises(InsufficientData, match="spanning"):
        provider.sample_trajectories(1, window=timedelta(days=30))


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_training_batches_hold_the_requested_share_of_anomalous_states(provider, plant_db, share):
    batch = provider.training_batch(20, share)
    assert len(batch.states) == 20
    anomalous = [
        s
        for s in batch.states
        if alerting_at(plant_db, s.equipment_id, s.timestamp)
        or breaches(s.equipment_type, row_at(plant_db, s.equipment_id, s.timestamp))
    ]
    assert len(anomalous) == batch.anomalous == round(20 * share)
    assert batch.anomaly_share == pytest.approx(round(20 * share) / 20)


def test_enriched_batches_are_far_richer_than_random_states(provider):
    """The test plant is a few percent anomalous; an enriched batch is what was asked, not that."""
    natural = sum(s.anomalous for s in provider.sample_states(200)) / 200
    assert natural < 0.15
    assert provider.training_batch(40, 0.5).anomaly_share == 0.5


def test_anomaly_share_outside_0_1_is_refused(provider):
    with pytest.raises(ValueError, match=r"anomaly_share must be between 0 and 1, got 1\.5"):
        provider.training_batch(10, 1.5)


# --------------------------------------------------------------------------- situation pairs


def test_situation_pairs_are_valid_distinct_and_grounded_in_the_data(provider, access, plant_db):
    vocabulary = PlantVocabulary.from_catalog(access.catalog)
    pairs = situation_pairs(provider=provider, n=25)
    assert len(pairs) == 25
    assert {p.situation for p in pairs} == set(SITUATIONS)
    assert len({p.prompt for p in pairs}) == 25, "a prompt repeats"
    for p in pairs:
        intent = parse_intent(transcript=p.transcript, vocabulary=vocabulary, now=p.at + MINUTE).intent
        proposed = candidates(intent=intent, vocabulary=vocabulary)
        assert p.prompt == candidate_prompt(p.transcript, intent, proposed), "not the prompt the planner is served"
        assert p.offered == offered_slots(proposed)
        chosen, rejected = widget_types(p.chosen, p.offered), widget_types(p.rejected, p.offered)
        assert len(chosen) == len(rejected)
        # plans are written in type order, so the swapped slot may move: compare what each shows
        assert len(set(chosen) - set(rejected)) == len(set(rejected) - set(chosen)) == 1, "the plans differ in one slot"
        assert_grounded(plant_db, p, intent, chosen, rejected)


def assert_grounded(db, pair, intent, chosen: list[str], rejected: list[str]) -> None:
    """The situation is really in the data, and the chosen plan holds the widget that shows it."""
    eq, at = pair.equipment_id, pair.at
    equipment_type = db.execute("SELECT equipment_type FROM equipment WHERE equipment_id = %s", (eq,)).fetchone()[0]
    fleet = pair.situation.startswith("fleet_")
    assert (intent.equipment_type, intent.equipment_ids) == ((equipment_type, []) if fleet else (equipment_type, [eq]))
    if pair.situation in ("alert", "fleet_alert"):
        assert pair.metric in alerting_at(db, eq, at)
        shows = "alerts_list"
    elif pair.situation in ("anomaly", "fleet_anomaly"):
        assert pair.metric in breaches(equipment_type, row_at(db, eq, at))
        shows = "anomaly_timeline" if pair.situation == "anomaly" else "status_grid"
    else:
        start, end = intent.time_range.start, intent.time_range.end
        p05, p95, median = db.execute(
            sql.SQL(
                "SELECT percentile_cont(0.05) WITHIN GROUP (ORDER BY {m}), percentile_cont(0.95) WITHIN GROUP "
                '(ORDER BY {m}), percentile_cont(0.5) WITHIN GROUP (ORDER BY {m}) FROM {t} WHERE "timestamp" >= %s '
                'AND "timestamp" < %s'
            ).format(m=sql.Identifier(pair.metric), t=sql.Identifier(eq)),
            (start, end),
        ).fetchone()
        assert end - start >= timedelta(hours=6) and intent.metrics == [pair.metric]
        assert p95 - p05 >= 0.15 * max(abs(p05), abs(p95), abs(median)), "the window did not change"
        assert "kpi" in rejected and "kpi" not in chosen
        shows = "trend_line"
    assert shows in chosen and shows not in rejected, f"{pair.situation}: {chosen} / {rejected}"


def test_situation_pairs_repeat_by_seed(access):
    def draw(seed: int):
        return situation_pairs(provider=RLTimeSeriesDataProvider(access, seed), n=10)

    assert draw(4) == draw(4)
    assert draw(4) != draw(5)


def test_a_quiet_plant_gives_no_alarm_pairs(access):
    """Kinds with no situation in the data are dropped, not invented: here only trends are asked for."""
    pairs = situation_pairs(provider=RLTimeSeriesDataProvider(access, 2), n=6, kinds=("trend_change",))
    assert {p.situation for p in pairs} == {"trend_change"}
    with pytest.raises(ValueError, match="kinds must be among"):
        situation_pairs(provider=RLTimeSeriesDataProvider(access, 2), n=1, kinds=("quiet",))


def test_contrast_plans_swap_one_slot_and_keep_the_rule_order(access):
    vocabulary = PlantVocabulary.from_catalog(access.catalog)
    intent = parse_intent(transcript="show the alerts for pump 1", vocabulary=vocabulary, now=BUCKET_ORIGIN).intent
    shown, alternative = contrast_plans(candidates(intent=intent, vocabulary=vocabulary), "alerts_list")
    assert [i.widget_type for i in shown] == ["alerts_list", "kpi", "anomaly_timeline", "table"]
    assert [i.widget_type for i in alternative] == ["text_summary", "kpi", "anomaly_timeline", "table"]
    assert shown[0].size == "full"  # the best-scoring size for an alerts question
    assert (
        contrast_plans(candidates(intent=intent, vocabulary=vocabulary), "status_grid") is None
    )  # not offered for one pump


# --------------------------------------------------------------------------- statistics


def test_statistics_match_sql(provider, plant_db):
    stats = provider.statistics()
    tables = [
        r[0]
        for r in plant_db.execute(
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'timestamp'"
        )
    ]
    counts, firsts, lasts = {}, [], []
    for table in tables:
        count, first, last = plant_db.execute(
            sql.SQL('SELECT count(*), min("timestamp"), max("timestamp") FROM {}').format(sql.Identifier(table))
        ).fetchone()
        counts[table], firsts, lasts = count, [*firsts, first], [*lasts, last]
    assert stats.tables == len(tables) == 22 and stats.empty_tables == 0
    assert stats.rows == sum(counts.values()) and stats.rows_exact
    assert (stats.first, stats.last) == (min(firsts), max(lasts))
    assert stats.by_type["pump"].rows == counts["pump_001"] + counts["pump_002"]
    assert stats.by_type["pump"].tables == 2
    total, active = plant_db.execute(
        "SELECT count(*), count(*) FILTER (WHERE cleared_at IS NULL) FROM alerts"
    ).fetchone()
    assert (stats.alerts, stats.active_alerts) == (total, active) and total > 0
    by_severity = dict(plant_db.execute("SELECT severity, count(*) FROM alerts GROUP BY severity").fetchall())
    assert {s: n for s, n in stats.alerts_by_severity.items() if n} == by_severity
    pump_alerts = plant_db.execute("SELECT count(*) FROM alerts WHERE equipment_id LIKE 'pump%'").fetchone()[0]
    assert stats.by_type["pump"].alerts == pump_alerts
    assert stats.equipment_days == pytest.approx(sum(counts.values()) / 1440)
    assert stats.alerts_per_equipment_day == pytest.approx(total / stats.equipment_days)
    assert stats.alarm_time_share == pytest.approx(rows_in_alarm(plant_db, tables) / sum(counts.values()), abs=1e-12)
    assert 0 < stats.alarm_time_share < 0.2
    assert stats.sample_size == 200 and 0 <= stats.sampled_anomaly_share < 0.2


def rows_in_alarm(db, tables: list[str]) -> int:
    """Rows (minutes) with at least one alert of their equipment active: a scan, fine on the test plant."""
    return sum(
        db.execute(
            sql.SQL(
                "SELECT count(*) FROM {t} r WHERE EXISTS (SELECT 1 FROM alerts a WHERE a.equipment_id = %s AND "
                'a.raised_at <= r."timestamp" AND (a.cleared_at IS NULL OR a.cleared_at > r."timestamp"))'
            ).format(t=sql.Identifier(table)),
            (table,),
        ).fetchone()[0]
        for table in tables
    )


def test_estimated_rows_are_exact_once_analysed(provider, plant_db):
    plant_db.execute("ANALYZE")
    assert provider.statistics(exact_rows=False).rows == provider.statistics(exact_rows=True).rows


def test_statistics_are_the_same_every_call_and_leave_other_draws_alone(access):
    one, other = RLTimeSeriesDataProvider(access, 9), RLTimeSeriesDataProvider(access, 9)
    assert one.statistics() == one.statistics()
    assert one.sample_states(5) == other.sample_states(5)


def test_same_seed_same_draws_other_seed_other_draws(access):
    def draws(seed: int):
        p = RLTimeSeriesDataProvider(access, seed)
        return p.sample_states(8), p.sample_trajectories(3), p.training_batch(10, 0.5)

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_config_is_validated():
    with pytest.raises(ValueError, match=r"trend_change must be positive, got -0\.1"):
        ProviderConfig(trend_change=-0.1)
    with pytest.raises(ValueError, match="draw_rounds must be at least 1, got 0"):
        ProviderConfig(draw_rounds=0)


def test_an_empty_table_gives_insufficient_data(scratch_database):
    conninfo = scratch_database("rl_provider_empty")
    access = TimeSeriesDataAccess(conninfo, max_size=1)
    try:
        with access.connection() as conn:
            conn.execute('CREATE TABLE pump_001 ("timestamp" timestamptz PRIMARY KEY, power_consumption_kw real)')
        with pytest.raises(InsufficientData, match="no equipment table has rows"):
            RLTimeSeriesDataProvider(access, 0).sample_states(3)
    finally:
        access.close()


# --------------------------------------------------------------------------- the command


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("test_rl_data_provider", *args, stdout=out)
    return out.getvalue()


def test_command_passes_every_check_on_a_healthy_plant(configured_plant):
    lines = run_command("--pairs", "6", "--states", "20", "--seed", "3").strip().splitlines()
    assert [line.split("  ")[0] for line in lines[:-1]] == ["PASS"] * 7
    assert "PASS  6 situation pairs" in "\n".join(lines)
    assert lines[-1] == "7 of 7 checks passed"


def test_command_fails_with_command_error_on_an_empty_database(scratch_database, use_timeseries_database):
    scratch_database("rl_provider_cmd")
    use_timeseries_database(f"{TEST_DATABASE}_rl_provider_cmd")
    out = StringIO()
    with pytest.raises(CommandError, match="7 of 7 checks failed"):
        call_command("test_rl_data_provider", stdout=out)
    assert "FAIL  dataset statistics" in out.getvalue()
    assert "no equipment tables" in out.getvalue()


def test_command_refuses_bad_options(configured_plant):
    with pytest.raises(CommandError, match=r"anomaly_share must be between 0 and 1, got 1\.5"):
        run_command("--anomaly-share", "1.5")
    with pytest.raises(CommandError, match="step must be one of"):
        run_command("--step", "7m")


def test_command_options_are_the_check_options_fields():
    """Every ``ProviderCheckOptions`` field is an option with its help, and parses back into the options."""
    parser = load_command_class("rl", "test_rl_data_provider").create_parser("manage.py", "test_rl_data_provider")
    text = " ".join(parser.format_help().split())
    for f in dataclasses.fields(ProviderCheckOptions):
        assert f"--{f.name.replace('_', '-')} " in text and f"{f.metadata['help']} (default: {f.default})" in text
    parsed = vars(parser.parse_args(["--exact-rows", "--window-hours", "2", "--step", "1h", "--seed", "4"]))
    expected = ProviderCheckOptions(seed=4, window_hours=2.0, step="1h", exact_rows=True)
    assert config_from_options(ProviderCheckOptions, parsed) == expected
    assert not config_from_options(ProviderCheckOptions, vars(parser.parse_args(["--no-exact-rows"]))).exact_rows
