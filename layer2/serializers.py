"""Request validation and response shapes of the layer2 API."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from command_center.api_fields import (
    AwareDateTimeField,
    QueryParameters,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictRegexField,
)
from layer2.planning.widgets import CATALOG, SIZES
from layer2.rights import JUDGE_NAME
from layer2.understanding.roles import ROLES
from rl.experiences.records import (
    RATINGS,
    SIZE_DIRECTIONS,
    Feedback,
    ImplicitSignals,
    WidgetFeedback,
    WidgetSignals,
)

WIDGET_TYPES = sorted(CATALOG)  # one enum in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"])
MAX_TRANSCRIPT = 1000
MAX_TEXT = 4000
MAX_ITEMS = 50
MAX_ITEM_TEXT = 500
HEX_ID = r"[0-9a-f]{32}"  # a query_id or conversation_id
FEEDBACK_ID = r"[A-Za-z0-9._:-]{1,64}"  # a sender's idempotency key: a UUID, a judge's digest
ACCOUNT_SOURCE = rf"operator|judge:{JUDGE_NAME}"  # layer2.rights.feedback_source
TRAINING_METHODS = ["auto", "dpo", "kto"]
HISTORY_BUCKETS = ["hour", "day"]  # rl/experiences/history.py BUCKETS
MAX_HISTORY_HOURS = 24 * 90
ADAPTER_VERSION = r"v[0-9]{4,12}"  # an adapter version as rl/tier2/adapters.py names them (VERSION)


class OrchestrateRequestSerializer(serializers.Serializer):
    transcript = StrictCharField(max_length=MAX_TRANSCRIPT, trim_whitespace=True, allow_blank=False)
    role = serializers.ChoiceField(choices=ROLES, required=False, help_text="Who asks; absent: the user's profile.")
    conversation_id = StrictRegexField(
        HEX_ID,
        required=False,
        error_messages={"invalid": "must be a conversation_id: 32 hex digits, as an earlier answer returned it"},
        help_text="Ask as the next turn of this conversation (from an earlier answer); absent: a new one.",
    )


class WidgetFeedbackSerializer(serializers.Serializer):
    widget_index = StrictIntegerField(min_value=0, max_value=MAX_ITEMS)
    widget_type = serializers.ChoiceField(choices=WIDGET_TYPES)
    appropriateness_score = StrictFloatField(min_value=0, max_value=1, required=False, allow_null=True)
    size_appropriate = StrictBooleanField(required=False, allow_null=True)
    issues = serializers.ListField(child=StrictCharField(max_length=MAX_ITEM_TEXT), max_length=MAX_ITEMS, default=list)
    strengths = serializers.ListField(
        child=StrictCharField(max_length=MAX_ITEM_TEXT), max_length=MAX_ITEMS, default=list
    )
    size_direction = serializers.ChoiceField(
        choices=SIZE_DIRECTIONS,
        required=False,
        allow_null=True,
        help_text="With size_appropriate false: the widget should be smaller or larger (a size it comes in).",
    )

    def validate(self, data: dict) -> dict:
        if data.get("size_direction") is not None and data.get("size_appropriate") is not False:
            raise serializers.ValidationError(
                {"size_direction": "says which way a wrong size is off: send it with size_appropriate false"}
            )
        return data


@extend_schema_field(
    {
        "type": "string",
        "pattern": f"^(?:{ACCOUNT_SOURCE})$",
        "readOnly": True,
        "description": "Set by the server from the account (operator, or judge:NAME for a judge account; "
        "GET /api/layer2/account/ says which): leave it out, or send exactly that (anything else: 400).",
    }
)
class AccountSourceField(StrictRegexField):
    """A feedback's ``source``: the server's to set, so the schema marks it read-only (a client sending its
    own account's value is still accepted: older judge scripts do)."""


class FeedbackRequestSerializer(serializers.Serializer):
    query_id = StrictRegexField(HEX_ID, error_messages={"invalid": "must be a query_id: 32 hex digits"})
    rating = serializers.ChoiceField(choices=RATINGS)
    evaluation_confidence = StrictFloatField(min_value=0, max_value=1, required=False, allow_null=True)
    evaluation_reasoning = StrictCharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    query_understanding = StrictCharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    per_widget_feedback = serializers.ListField(child=WidgetFeedbackSerializer(), required=False, max_length=MAX_ITEMS)
    missing_widgets = serializers.ListField(
        child=serializers.ChoiceField(choices=WIDGET_TYPES), max_length=MAX_ITEMS, default=list
    )
    suggested_improvements = serializers.ListField(
        child=StrictCharField(max_length=MAX_ITEM_TEXT), max_length=MAX_ITEMS, default=list
    )
    source = AccountSourceField(ACCOUNT_SOURCE, required=False)
    feedback_id = StrictRegexField(
        FEEDBACK_ID,
        required=False,
        error_messages={"invalid": "must be 1 to 64 letters, digits or . _ : -"},
        help_text="The sender's key for this piece of feedback: a retried request with the same key on the same "
        "answer changes nothing (the console sends a UUID, the judge a digest of its evaluation). Leave it out "
        "and every request counts.",
    )

    def validate_source(self, value: str) -> str:
        if value != self.context["source"]:
            raise serializers.ValidationError(
                f"is set by the server from your account, which posts as {self.context['source']!r}; "
                "leave it out (judges post through a judge account: create_api_user NAME --judge)"
            )
        return value

    def to_feedback(self) -> Feedback:
        """The feedback, under the account's source (``context["source"]``, from ``layer2/rights.py``)."""
        data = dict(self.validated_data)
        data.pop("query_id")
        data["source"] = self.context["source"]
        widgets = [WidgetFeedback(**w) for w in data.pop("per_widget_feedback", [])]
        return Feedback(**data, per_widget_feedback=widgets, received_at=timezone.now())


MAX_SIGNAL_MS = 24 * 3600 * 1000  # a day: any longer is a page left open, not attention
MAX_SIGNAL_COUNT = 100_000


class WidgetSignalsSerializer(serializers.Serializer):
    widget_index = StrictIntegerField(min_value=0, max_value=MAX_ITEMS)
    widget_type = serializers.ChoiceField(choices=WIDGET_TYPES, help_text="The type shown at that index.")
    visible_ms = StrictFloatField(
        min_value=0, max_value=MAX_SIGNAL_MS, default=0.0, help_text="Time on screen so far, in milliseconds."
    )
    expansions = StrictIntegerField(min_value=0, max_value=MAX_SIGNAL_COUNT, default=0, help_text="Times expanded.")
    hovers = StrictIntegerField(min_value=0, max_value=MAX_SIGNAL_COUNT, default=0, help_text="Times hovered.")


class SignalsRequestSerializer(serializers.Serializer):
    """The console's totals so far for one answer; a later report replaces this one."""

    query_id = StrictRegexField(HEX_ID, error_messages={"invalid": "must be a query_id: 32 hex digits"})
    widgets = serializers.ListField(child=WidgetSignalsSerializer(), max_length=MAX_ITEMS, default=list)
    next_question_after_ms = StrictFloatField(
        min_value=0,
        max_value=MAX_SIGNAL_MS,
        required=False,
        allow_null=True,
        default=None,
        help_text="Milliseconds from the answer to the asker's next question; null: none yet.",
    )

    def to_signals(self) -> ImplicitSignals:
        """The report, received now."""
        data = self.validated_data
        return ImplicitSignals(
            widgets=[WidgetSignals(**w) for w in data["widgets"]],
            next_question_after_ms=data["next_question_after_ms"],
            reported_at=timezone.now(),
        )


class ExperienceQuerySerializer(QueryParameters):
    has_feedback = serializers.BooleanField(required=False, allow_null=True, default=None)
    has_evaluation = serializers.BooleanField(required=False, allow_null=True, default=None)
    since = AwareDateTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class ApproveTrainingSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=TRAINING_METHODS, default="auto")


class LearningHistoryQuerySerializer(QueryParameters):
    bucket = serializers.ChoiceField(
        choices=HISTORY_BUCKETS, default="hour", help_text="Bucket width: an hour or a day (UTC)."
    )
    hours = serializers.IntegerField(
        min_value=1, max_value=MAX_HISTORY_HOURS, default=48, help_text="How far back from now the window reaches."
    )


class PromoteAdapterSerializer(serializers.Serializer):
    version = StrictRegexField(
        ADAPTER_VERSION,
        max_length=13,
        error_messages={"invalid": "must be an adapter version as rl-status lists it, such as v0003"},
        help_text="The adapter to serve (rl-status lists them).",
    )


class RollbackAdapterSerializer(serializers.Serializer):
    """No fields: a rollback serves what served before the serving adapter (send {})."""


# --------------------------------------------------------------------------- responses (for the schema)


class TimeRangeSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    label = serializers.CharField(help_text="The window in the plant's words and clock: 'since 7:00 am', 'now'.")
    time_zone = serializers.CharField(help_text="PLANT_TIME_ZONE, in which calendar words were read.")


class IntentSerializer(serializers.Serializer):
    intent_type = serializers.CharField()
    equipment_type = serializers.CharField(allow_null=True)
    equipment_ids = serializers.ListField(child=serializers.CharField())
    metrics = serializers.ListField(child=serializers.CharField())
    time_range = TimeRangeSerializer()
    aggregation = serializers.CharField()
    comparison = serializers.BooleanField()
    filters = serializers.DictField()
    top_k = serializers.IntegerField(allow_null=True)
    confidence = serializers.FloatField()
    aggregations = serializers.ListField(child=serializers.CharField(), help_text="Every aggregation asked.")
    not_understood = serializers.ListField(child=serializers.CharField(), help_text="What was heard but not read.")
    refusal = serializers.CharField(allow_null=True, help_text="'command' or 'out_of_domain': no widgets.")
    inherited = serializers.ListField(
        child=serializers.CharField(), help_text="Fields a follow-up took from its conversation ('equipment_ids')."
    )


class WidgetSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=WIDGET_TYPES)
    size = serializers.ChoiceField(choices=SIZES)
    title = serializers.CharField()
    equipment_ids = serializers.ListField(child=serializers.CharField())
    metric = serializers.CharField(allow_null=True)
    data = serializers.DictField()


class AnswerSerializer(serializers.Serializer):
    query_id = serializers.CharField()
    conversation_id = serializers.CharField(help_text="Send it back to ask a follow-up.")
    turn = serializers.IntegerField(help_text="This answer's turn in the conversation, from 1.")
    transcript = serializers.CharField()
    intent = IntentSerializer()
    widgets = WidgetSerializer(many=True)
    voice_response = serializers.CharField()
    processing_time_ms = serializers.FloatField()


class AccountSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_staff = serializers.BooleanField(help_text="Reads everyone's answers; may approve Tier 2 training.")
    is_judge = serializers.BooleanField(help_text="Reads every answer and posts evaluations of any.")
    feedback_source = serializers.CharField(help_text="What its feedback is recorded as: operator or judge:NAME.")
    role = serializers.CharField(allow_null=True, help_text="The role on its operator profile, if any.")


class FeedbackResultSerializer(serializers.Serializer):
    query_id = serializers.CharField()
    rating = serializers.ChoiceField(choices=RATINGS, help_text="The answer's rating now: an operator's thumb wins.")
    has_evaluation = serializers.BooleanField(help_text="It holds a rich evaluation (a judge's, or one posted).")


class ImplicitSignalsSerializer(serializers.Serializer):
    widgets = WidgetSignalsSerializer(many=True)
    next_question_after_ms = serializers.FloatField(allow_null=True)
    rephrased = serializers.BooleanField(help_text="The asker soon asked the same again in other words.")
    reported_at = serializers.DateTimeField(allow_null=True, help_text="When the console's newest report came.")


class SignalsResultSerializer(serializers.Serializer):
    query_id = serializers.CharField()
    signals = ImplicitSignalsSerializer(help_text="What is stored now: the newest report, and whether rephrased.")


class ExperienceListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    experiences = serializers.ListField(
        child=serializers.DictField(), help_text="Recorded answers, oldest first (docs/api.md lists their fields)."
    )


class RLStatusSerializer(serializers.Serializer):
    buffer = serializers.DictField(help_text="The experience journal: size, with_feedback, with_evaluation, ...")
    tier1 = serializers.DictField(help_text="The online widget scorer; available false when it does not run.")
    tier2 = serializers.DictField(help_text="The planner model, its adapters, preference data and training run.")
    signals = serializers.DictField(help_text="How answers were used: viewing times, rephrases, the implicit weight.")


class TrainingApprovalSerializer(serializers.Serializer):
    started = serializers.BooleanField(help_text="true: the run started (202); false: refused (409).")
    detail = serializers.CharField(help_text="'training started', or why not.")
    method = serializers.ChoiceField(choices=TRAINING_METHODS)
    approved_by = serializers.CharField()
    pairs = serializers.IntegerField(help_text="Preference pairs in the journal.")
    min_pairs = serializers.IntegerField(help_text="TIER2_MIN_PAIRS: the least a run needs.")
    run_id = serializers.CharField(
        required=False, allow_null=True, help_text="The run started, or the one already in progress."
    )


class LearningBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The bucket's start, UTC: on the hour, or at midnight for days.")
    answers = serializers.IntegerField(help_text="Answers given in the bucket.")
    ratings_up = serializers.IntegerField(help_text="... of them rated up (whenever the rating came).")
    ratings_down = serializers.IntegerField()
    evaluations = serializers.IntegerField(help_text="... of them with a rich evaluation (the judge's).")
    mean_reward = serializers.FloatField(
        allow_null=True, help_text="Mean plan_reward of the rated ones (rl/experiences/reward.py); null: none rated."
    )


class RecentFeedbackSerializer(serializers.Serializer):
    query_id = serializers.CharField()
    transcript = serializers.CharField()
    created_at = serializers.DateTimeField(help_text="When the answer was given.")
    asked_by = serializers.IntegerField(allow_null=True, help_text="The asker's user id (null: an older answer).")
    username = serializers.CharField(allow_null=True, help_text="The asker's user name, if known.")
    rating = serializers.ChoiceField(choices=RATINGS, help_text="The answer's rating now: an operator's thumb wins.")
    source = serializers.CharField(help_text="Who gave the rating: operator or judge:NAME.")
    has_evaluation = serializers.BooleanField()
    reward = serializers.FloatField(help_text="Its plan_reward.")
    received_at = serializers.DateTimeField(allow_null=True, help_text="When its newest feedback arrived.")


class LossPointSerializer(serializers.Serializer):
    step = serializers.IntegerField(help_text="Tier 1's step count after the last update averaged here.")
    loss = serializers.FloatField(help_text="Mean squared error of up to 20 updates.")


class RewardPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    rated = serializers.IntegerField(help_text="Rated answers Tier 1 ranked in the bucket.")
    mean_reward = serializers.FloatField()


class Tier1HistorySerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="false: Tier 1 does not run here (only enabled and detail).")
    enabled = serializers.BooleanField(required=False, help_text="ENABLE_CONTINUOUS_RL (when not available).")
    detail = serializers.CharField(required=False, help_text="Why not available.")
    steps = serializers.IntegerField(required=False)
    loss_history = LossPointSerializer(many=True, required=False, help_text="This worker's loss, oldest first.")
    reward_trend = RewardPointSerializer(
        many=True, required=False, help_text="Mean reward per bucket of the answers Tier 1 ranked (rated ones)."
    )


class LearningHistorySerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=HISTORY_BUCKETS)
    hours = serializers.IntegerField()
    since = serializers.DateTimeField(help_text="The first bucket's start: now - hours, widened to a whole bucket.")
    until = serializers.DateTimeField(help_text="Now.")
    buckets = LearningBucketSerializer(many=True, help_text="Every bucket of the window, oldest first.")
    recent_feedback = RecentFeedbackSerializer(many=True, help_text="The 20 answers rated last, newest first.")
    tier1 = Tier1HistorySerializer()


class AdapterSummarySerializer(serializers.Serializer):
    version = serializers.CharField()
    method = serializers.CharField(help_text="dpo or kto.")
    promoted = serializers.BooleanField(help_text="Whether the gate promoted it when it was trained.")
    decision = serializers.CharField(help_text="Why it was or was not promoted.")
    metrics = serializers.DictField(help_text="Its held-out metrics (preference_accuracy, reward_margin, ...).")
    created_at = serializers.DateTimeField()


class PlannerAdaptersSerializer(serializers.Serializer):
    serving_adapter = serializers.CharField(allow_null=True, help_text="null: the base model serves alone.")
    history = serializers.ListField(
        child=serializers.CharField(), help_text="Promotions, newest last: a rollback serves the one before the last."
    )
    can_roll_back = serializers.BooleanField(help_text="false: a rollback is refused (409).")
    adapters = AdapterSummarySerializer(many=True, help_text="Every version, oldest first.")
    detail = serializers.CharField(help_text="What this server's planner serves (PLANNER_BACKEND, a pinned adapter).")


class AdapterNotFoundSerializer(serializers.Serializer):
    version = serializers.ListField(child=serializers.CharField(), help_text="No such adapter; the known ones.")


class ConversationNotFoundSerializer(serializers.Serializer):
    conversation_id = serializers.ListField(
        child=serializers.CharField(), help_text="No such conversation of yours (unknown, another's, or expired)."
    )


class NotYourAnswerSerializer(serializers.Serializer):
    query_id = serializers.ListField(
        child=serializers.CharField(), help_text="No such answer of yours (404), or one only its asker rates (403)."
    )
