"""The generator: deterministic, resumable, physically coherent, and faults that raise alerts."""

import numpy as np
import pytest

from industrial.plant.generator import DAY, CounterState, generate_block
from industrial.plant.spec import EQUIPMENT_TYPES, TOTAL_EQUIPMENT, TYPES_BY_NAME, limit_for

END = 1_772_409_600  # 2026-03-02T00:00Z
CHILLER, METER, DG = TYPES_BY_NAME["chiller"], TYPES_BY_NAME["energy_meter"], TYPES_BY_NAME["diesel_generator"]


def test_contract_counts_and_ids():
    assert TOTAL_EQUIPMENT == 363
    assert len(EQUIPMENT_TYPES) == 11
    assert TYPES_BY_NAME["ahu"].ids()[-1] == "ahu_060"
    assert TYPES_BY_NAME["energy_meter"].ids(3) == ["energy_meter_001", "energy_meter_002", "energy_meter_003"]


@pytest.mark.parametrize("eq", EQUIPMENT_TYPES, ids=lambda t: t.name)
def test_same_seed_same_rows_other_seed_other_rows(eq):
    a = generate_block(eq, 1, seed=3, start=END - DAY, end=END)
    b = generate_block(eq, 1, seed=3, start=END - DAY, end=END)
    c = generate_block(eq, 1, seed=4, start=END - DAY, end=END)
    assert len(a) == 1440 and a.timestamps[-1] == END and a.timestamps[0] == END - DAY + 60
    assert set(a.columns) == set(eq.metrics)
    for metric in eq.metrics:
        np.testing.assert_array_equal(a.columns[metric], b.columns[metric])
    assert any(not np.array_equal(a.columns[m], c.columns[m]) for m in eq.metrics)
    assert all(np.isfinite(v).all() for v in a.columns.values())


@pytest.mark.parametrize("eq", EQUIPMENT_TYPES, ids=lambda t: t.name)
def test_resumed_generation_equals_one_shot(eq):
    """Seeding in two runs (the second from the first's last row and counters) gives the same rows."""
    whole = generate_block(eq, 2, seed=9, start=END - 2 * DAY, end=END, fault_rate=0.5)
    split = END - DAY - 333 * 60
    first = generate_block(eq, 2, seed=9, start=END - 2 * DAY, end=split, fault_rate=0.5)
    second = generate_block(eq, 2, seed=9, start=split, end=END, state=first.state, fault_rate=0.5)
    np.testing.assert_array_equal(np.concatenate([first.timestamps, second.timestamps]), whole.timestamps)
    for metric in eq.metrics:
        np.testing.assert_allclose(
            np.concatenate([first.columns[metric], second.columns[metric]]), whole.columns[metric], rtol=1e-12
        )


def test_cumulative_counters_never_decrease_and_carry_over():
    block = generate_block(METER, 1, seed=1, start=END - 3 * DAY, end=END)
    energy = block.columns["energy_kwh"]
    assert (np.diff(energy) >= 0).all()
    # Energy added per row is power x interval: the counter integrates the meter's own power.
    np.testing.assert_allclose(np.diff(energy), block.columns["active_power_kw"][1:] / 60, rtol=1e-9)
    resumed = generate_block(METER, 1, seed=1, start=END, end=END + 600, state=block.state)
    assert resumed.columns["energy_kwh"][0] == pytest.approx(energy[-1] + resumed.columns["active_power_kw"][0] / 60)


def test_diesel_runs_weekly_test_and_burns_fuel():
    block = generate_block(DG, 1, seed=1, start=END - 7 * DAY, end=END, fault_rate=0)
    running = block.columns["running_status"] > 0.5
    assert 25 <= running.sum() <= 120  # a 30-minute Monday test, plus the odd grid outage
    hours = block.columns["run_hours"]
    assert hours[-1] - hours[0] == pytest.approx(running[1:].sum() / 60)
    fuel = block.columns["fuel_level_percent"]
    assert (np.diff(fuel)[running[1:]] < 0).all()  # burns while running
    assert block.state.run_hours == pytest.approx(hours[-1])


def test_off_equipment_draws_no_power_and_load_drives_power():
    block = generate_block(CHILLER, 6, seed=2, start=END - 7 * DAY, end=END, fault_rate=0)
    on = block.columns["running_status"] > 0.5
    assert 0 < on.mean() < 1, "a mid-stage chiller should cycle over a week"
    assert block.columns["power_consumption_kw"][~on].max() < 1.0
    corr = np.corrcoef(block.columns["load_percent"][on], block.columns["power_consumption_kw"][on])[0, 1]
    assert corr > 0.8
    ret, sup = block.columns["chw_return_temp_c"][on], block.columns["chw_supply_temp_c"][on]
    assert (ret > sup).mean() > 0.99


def test_ahu_filter_clogs_between_replacements():
    ahu = TYPES_BY_NAME["ahu"]
    block = generate_block(ahu, 1, seed=1, start=END - 120 * DAY, end=END, interval=3600, fault_rate=0)
    on = block.columns["running_status"] > 0.5
    dp = block.columns["filter_dp_pa"][on] / (0.5 + 0.5 * (block.columns["fan_speed_percent"][on] / 100) ** 2)
    drops = np.flatnonzero(np.diff(dp) < -60)
    assert len(drops) >= 1, "a filter replacement within 120 days"
    assert np.polyfit(np.arange(drops[0] + 1), dp[: drops[0] + 1], 1)[0] > 0, "pressure drop rises as it clogs"


def test_faults_raise_alerts_that_match_the_data():
    alerts = []
    for eq in EQUIPMENT_TYPES:
        block = generate_block(eq, 1, seed=11, start=END - 5 * DAY, end=END, fault_rate=1.0)
        for alert in block.alerts:
            alerts.append(alert)
            at = np.flatnonzero(block.timestamps == alert.raised_at)[0]
            value = float(block.columns[alert.metric][at])
            limit = limit_for(eq.name, alert.metric)
            if alert.threshold is not None:
                assert limit.violated_by(value), f"{alert} but the row reads {value}"
            else:
                assert "stuck" in alert.message
                assert np.ptp(block.columns[alert.metric][at - 30 : at + 1]) == 0
            if alert.cleared_at is not None:
                assert alert.cleared_at > alert.raised_at
    phrases = ("above limit", "dropped to", "spiked to", "stuck at")
    kinds = {phrase for a in alerts for phrase in phrases if phrase in a.message}
    assert len(alerts) >= 20
    assert {a.severity for a in alerts} >= {"critical", "high", "medium"}
    assert len(kinds) > 3


def test_an_alert_active_at_the_end_is_cleared_by_the_next_run():
    eq = TYPES_BY_NAME["pump"]
    whole = generate_block(eq, 1, seed=11, start=END - 5 * DAY, end=END, fault_rate=1.0)
    alert = next(a for a in whole.alerts if a.cleared_at is not None and a.threshold is not None)
    mid = alert.raised_at + 60
    early = generate_block(eq, 1, seed=11, start=END - 5 * DAY, end=mid, fault_rate=1.0)
    pending = next(a for a in early.alerts if a.raised_at == alert.raised_at)
    assert pending.cleared_at is None and not pending.acknowledged
    later = generate_block(eq, 1, seed=11, start=mid, end=END, fault_rate=1.0, state=early.state)
    cleared = next(a for a in later.alerts if a.raised_at == alert.raised_at)
    assert cleared.cleared_at == alert.cleared_at


def test_interval_must_divide_a_day():
    with pytest.raises(ValueError, match="interval"):
        generate_block(CHILLER, 1, seed=1, start=END - DAY, end=END, interval=7)


def test_empty_window_yields_no_rows_and_keeps_state():
    state = CounterState(energy_kwh=5.0)
    block = generate_block(METER, 1, seed=1, start=END, end=END, state=state)
    assert len(block) == 0 and block.state == state
