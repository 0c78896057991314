"""Check the RAG context builder against the configured time-series database, one line per check."""

from __future__ import annotations

from functools import partial

from django.core.management.base import BaseCommand, CommandError

from industrial.errors import UnknownEquipment
from industrial.management.checks import Check, run_checks
from industrial.timeseries.access import EquipmentInfo, TimeSeriesDataAccess, get_timeseries_access
from industrial.timeseries.rag import STATUS_METRIC, TimeSeriesRAGProvider, format_value

BUDGETS = (200, 50)  # tiny budgets tried besides --max-chars


def check_summary_names(rag: TimeSeriesRAGProvider, info: EquipmentInfo) -> None:
    text = rag.equipment_summary(info.equipment_id)
    assert text.strip(), "summary is empty"
    for name in (info.display_name, info.equipment_id):
        assert name in text, f"summary does not name {name!r}"


def check_summary_values(rag: TimeSeriesRAGProvider, access: TimeSeriesDataAccess, info: EquipmentInfo) -> None:
    text = rag.equipment_summary(info.equipment_id)
    reading = access.latest(info.equipment_id)
    assert reading is not None, f"{info.equipment_id} has no readings"
    missing = [
        c.name
        for c in info.metrics
        if c.name != STATUS_METRIC and f"{c.label}: {format_value(c.name, reading.values[c.name], c.unit)}" not in text
    ]
    assert not missing, f"latest values missing for {', '.join(missing)}"


def check_trend(rag: TimeSeriesRAGProvider, access: TimeSeriesDataAccess, equipment_id: str, metric: str) -> None:
    text = rag.trend_analysis(equipment_id, metric)
    stats = access.stats(equipment_id, metric, *rag.window(equipment_id, 24))
    for label, value in (("min", stats.min), ("mean", stats.mean), ("max", stats.max)):
        expected = f"{label} {format_value(metric, value)}"
        assert expected in text, f"{expected!r} not in the trend"
    assert any(word in text for word in ("rising", "falling", "stable")), "no direction in the trend"


def check_anomalies(rag: TimeSeriesRAGProvider, access: TimeSeriesDataAccess, equipment_id: str) -> None:
    text = rag.anomaly_context(equipment_id)
    found = access.detect_anomalies(equipment_id)
    if not found:
        assert "No anomalies detected" in text, "no anomalies, but the text does not say so"
    lines = [line for line in text.splitlines() if line.startswith("- [")]
    assert len(lines) == len(found), f"{len(found)} anomalies but {len(lines)} lines"


def check_comparison(rag: TimeSeriesRAGProvider, access: TimeSeriesDataAccess, ids: list[str], metric: str) -> None:
    text = rag.comparison(ids, metric)
    values = {i: access.latest(i, [metric]).values[metric] for i in ids}
    expected = sorted(ids, key=lambda i: (-values[i], i))
    shown = sorted(ids, key=lambda i: text.index(f"({i}): "))
    assert shown == expected, f"ranked {shown}, expected {expected}"
    assert "spread" in text, "no spread in the comparison"


def check_alerts(rag: TimeSeriesRAGProvider, access: TimeSeriesDataAccess) -> None:
    text = rag.alerts_context()
    active = access.alerts(active_only=True, limit=10_000)  # listed, not counted: an independent check
    if not active:
        assert text.startswith("No active alerts"), "no active alerts, but the text does not say so"
        return
    assert text.startswith(f"Active alerts: {len(active)} ("), f"count {len(active)} not in {text.splitlines()[0]!r}"


def check_budget(rag: TimeSeriesRAGProvider, equipment_id: str, metrics: list[str], budgets: list[int]) -> None:
    for budget in budgets:
        text = rag.build_context([equipment_id], metrics, max_chars=budget)
        assert text, f"empty context at {budget} chars"
        assert len(text) <= budget, f"{len(text)} chars over a budget of {budget}"


def rag_checks(access: TimeSeriesDataAccess, info: EquipmentInfo, peer: str | None, max_chars: int) -> list[Check]:
    """The checks for one equipment (and, if given, a ``peer`` of its type to compare with)."""
    rag, eq = TimeSeriesRAGProvider(access), info.equipment_id
    metric = next((c.name for c in info.metrics if c.name != STATUS_METRIC), None)
    checks: list[Check] = [
        ("summary names the equipment", partial(check_summary_names, rag, info)),
        ("summary shows every latest value", partial(check_summary_values, rag, access, info)),
    ]
    if metric:
        checks.append((f"trend analysis of {metric}", partial(check_trend, rag, access, eq, metric)))
    checks.append(("anomaly context", partial(check_anomalies, rag, access, eq)))
    if peer and metric:
        checks.append((f"comparison with {peer}", partial(check_comparison, rag, access, [eq, peer], metric)))
    checks.append(("alerts context", partial(check_alerts, rag, access)))
    budgets = [max_chars, *(b for b in BUDGETS if b < max_chars)]
    metrics = [metric] if metric else []
    checks.append((f"build_context within {budgets} chars", partial(check_budget, rag, eq, metrics, budgets)))
    return checks


class Command(BaseCommand):
    help = "Check the RAG context builder (industrial.timeseries.rag) against the configured time-series database."

    def add_arguments(self, parser):
        parser.add_argument(
            "--equipment", default="chiller_001", help="Equipment id to build context for (default chiller_001)."
        )
        parser.add_argument(
            "--max-chars", type=int, default=4000, help="Character budget given to build_context (default 4000)."
        )

    def handle(self, *args, **options):
        if options["max_chars"] <= 0:
            raise CommandError(f"--max-chars must be positive, got {options['max_chars']}")
        access = get_timeseries_access()
        try:
            info = access.equipment(options["equipment"])
        except UnknownEquipment as exc:
            raise CommandError(f"--equipment: {exc}") from exc
        peers = [i for i in access.catalog.ids_of_type(info.equipment_type) if i != info.equipment_id]
        if not peers:
            self.stdout.write(f"SKIP  comparison  (no other {info.equipment_type})")
        checks = rag_checks(access, info, peers[0] if peers else None, options["max_chars"])
        failures = run_checks(checks, self.stdout)
        self.stdout.write(f"{len(checks) - failures} of {len(checks)} checks passed")
        if failures:
            raise CommandError(f"{failures} of {len(checks)} checks failed")
