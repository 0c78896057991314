"""A follow-up is read as the standalone question it stands for (layer2/understanding/followup.py)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from layer2.understanding.followup import TurnContext, understand

NOW = datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Singapore")


@pytest.fixture
def converse(full_plant_vocabulary):
    """``converse(*questions, ranked=[])``: each question read after the ones before; the last intent."""

    def run(*questions: str, ranked: list[str] = ()):
        context, parsed = None, None
        for q in questions:
            parsed = understand(transcript=q, vocabulary=full_plant_vocabulary, now=NOW, zone=ZONE, context=context)
            context = TurnContext(parsed.intent, parsed.heard, list(ranked) if parsed.intent.intent_type == "ranking"
                                  else (context.ranked if context else []))  # fmt: skip
        return parsed.intent

    return run


def test_the_week_before_steps_back_from_the_window_before(converse):
    intent = converse("average power of chiller 3 last week", "and the week before?")
    assert intent.equipment_ids == ["chiller_003"] and intent.metrics == ["power_consumption_kw"]
    assert intent.aggregation == "avg" and "time_range" in intent.inherited
    assert (intent.time_range.start, intent.time_range.end) == (
        datetime(2026, 2, 15, 16, tzinfo=UTC),
        datetime(2026, 2, 22, 16, tzinfo=UTC),
    )
    twice = converse("average power of chiller 3 last week", "and the week before?", "and the week before that")
    assert twice.time_range.end == datetime(2026, 2, 15, 16, tzinfo=UTC)


def test_a_ranking_reference_names_the_ranked_unit(converse):
    ranked = ["pump_017", "pump_004", "pump_031"]
    assert converse("top 3 pumps by vibration", "what's its flow", ranked=ranked).equipment_ids == ["pump_017"]
    second = converse("top 3 pumps by vibration", "and the second one's flow", ranked=ranked)
    assert second.equipment_ids == ["pump_004"] and second.metrics == ["flow_rate_m3h"]
    last = converse("top 3 pumps by vibration", "is the last one running", ranked=ranked)
    assert last.equipment_ids == ["pump_031"] and last.metrics == ["running_status"]


def test_a_bare_number_names_a_unit_of_the_type_in_play(converse):
    intent = converse("discharge pressure on compressor 3", "how does that compare to number 5")
    assert intent.intent_type == "comparison"
    assert intent.equipment_ids == ["air_compressor_003", "air_compressor_005"]
    assert intent.metrics == ["discharge_pressure_bar"]


def test_a_metric_swap_keeps_the_unit_and_a_window_swap_keeps_the_rest(converse):
    oil = converse("compressor 3 discharge temperature", "how about its oil?")
    assert oil.equipment_ids == ["air_compressor_003"] and oil.metrics == ["oil_temp_c"]
    assert oil.inherited == ["equipment_ids"]
    month = converse("compressor 3 discharge temperature", "what about last month?")
    assert month.intent_type == "status" and month.aggregation == "avg" and month.time_range.label == "last month"
    assert month.metrics == ["discharge_temp_c"]


def test_an_everyday_word_gives_way_to_the_metric_before(converse):
    intent = converse("winding temperature on transformer 14", "why's it so hot")
    assert intent.intent_type == "diagnosis" and intent.metrics == ["winding_temp_c"]


def test_alert_follow_ups_keep_scope_and_add_filters(converse):
    critical = converse("any alarms on chiller 2 this week", "and the critical ones?")
    assert critical.intent_type == "alerts" and critical.equipment_ids == ["chiller_002"]
    assert critical.filters["severity"] == ["critical"] and critical.time_range.label == "this week"


def test_a_question_with_its_own_subject_starts_afresh(converse):
    intent = converse("average power of chiller 1 yesterday", "what's the vibration on pump 3")
    assert intent.inherited == [] and intent.time_range.label == "now" and intent.equipment_ids == ["pump_003"]
    plant = converse("chiller 1 power", "show me all critical alerts")
    assert plant.equipment_ids == [] and plant.intent_type == "alerts" and plant.inherited == []
    command = converse("chiller 1 power", "turn it off")
    assert command.refusal == "command"


def test_a_metric_the_new_unit_lacks_is_said_not_guessed(converse, full_plant_vocabulary):
    parsed = understand(
        transcript="and pump 2?",
        vocabulary=full_plant_vocabulary,
        now=NOW,
        zone=ZONE,
        context=_context(full_plant_vocabulary, "chiller 1 chilled water supply temperature"),
    )
    assert parsed.intent.equipment_ids == ["pump_002"] and parsed.intent.not_understood


def _context(vocabulary, question: str) -> TurnContext:
    parsed = understand(transcript=question, vocabulary=vocabulary, now=NOW, zone=ZONE)
    return TurnContext(parsed.intent, parsed.heard)


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # the floor of every window (time_windows.EARLIEST)


def test_stepping_back_from_a_window_at_the_floor_never_overflows(converse):
    """ "the last million days" starts at the floor; each "period before" stays representable (issue 14)."""
    turns = ["average power of chiller 3 over the last 1000000 days", *["and the period before that"] * 40]
    intent = converse(*turns)
    assert intent.time_range.start < intent.time_range.end <= EARLIEST
    year = converse(turns[0], "and the year before").time_range
    assert year.end == EARLIEST and year.start < year.end
