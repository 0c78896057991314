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
from rl.experiences.records import RATINGS, Feedback, WidgetFeedback

WIDGET_TYPES = sorted(CATALOG)  # one enum in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"])
MAX_TRANSCRIPT = 1000
MAX_TEXT = 4000
MAX_ITEMS = 50
MAX_ITEM_TEXT = 500
HEX_ID = r"[0-9a-f]{32}"  # a query_id or conversation_id
ACCOUNT_SOURCE = rf"operator|judge:{JUDGE_NAME}"  # layer2.rights.feedback_source
TRAINING_METHODS = ["auto", "dpo", "kto"]


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


class ExperienceQuerySerializer(QueryParameters):
    has_feedback = serializers.BooleanField(required=False, allow_null=True, default=None)
    has_evaluation = serializers.BooleanField(required=False, allow_null=True, default=None)
    since = AwareDateTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class ApproveTrainingSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=TRAINING_METHODS, default="auto")


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


class ExperienceListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    experiences = serializers.ListField(
        child=serializers.DictField(), help_text="Recorded answers, oldest first (docs/api.md lists their fields)."
    )


class RLStatusSerializer(serializers.Serializer):
    buffer = serializers.DictField(help_text="The experience journal: size, with_feedback, with_evaluation, ...")
    tier1 = serializers.DictField(help_text="The online widget scorer; available false when it does not run.")
    tier2 = serializers.DictField(help_text="The planner model, its adapters, preference data and training run.")


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


class ConversationNotFoundSerializer(serializers.Serializer):
    conversation_id = serializers.ListField(
        child=serializers.CharField(), help_text="No such conversation of yours (unknown, another's, or expired)."
    )


class NotYourAnswerSerializer(serializers.Serializer):
    query_id = serializers.ListField(
        child=serializers.CharField(), help_text="No such answer of yours (404), or one only its asker rates (403)."
    )
