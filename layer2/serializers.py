"""Request validation and response shapes of the layer2 API."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from command_center.api_fields import AwareDateTimeField, StrictCharField
from layer2.planning.widgets import CATALOG, SIZES
from layer2.understanding.roles import ROLES
from rl.experiences.records import RATINGS, Feedback, WidgetFeedback

WIDGET_TYPES = sorted(CATALOG)  # one enum in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"])
MAX_TRANSCRIPT = 1000
MAX_TEXT = 4000
MAX_ITEMS = 50


class OrchestrateRequestSerializer(serializers.Serializer):
    transcript = StrictCharField(max_length=MAX_TRANSCRIPT, trim_whitespace=True, allow_blank=False)
    role = serializers.ChoiceField(choices=ROLES, required=False, help_text="Who asks; absent: the user's profile.")
    conversation_id = serializers.RegexField(
        r"^[0-9a-f]{32}$",
        required=False,
        error_messages={"invalid": "must be a conversation_id: 32 hex digits, as an earlier answer returned it"},
        help_text="Ask as the next turn of this conversation (from an earlier answer); absent: a new one.",
    )


class WidgetFeedbackSerializer(serializers.Serializer):
    widget_index = serializers.IntegerField(min_value=0, max_value=MAX_ITEMS)
    widget_type = serializers.ChoiceField(choices=WIDGET_TYPES)
    appropriateness_score = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    size_appropriate = serializers.BooleanField(required=False, allow_null=True)
    issues = serializers.ListField(child=serializers.CharField(max_length=500), max_length=MAX_ITEMS, default=list)
    strengths = serializers.ListField(child=serializers.CharField(max_length=500), max_length=MAX_ITEMS, default=list)


class FeedbackRequestSerializer(serializers.Serializer):
    query_id = serializers.RegexField(
        r"^[0-9a-f]{32}$", error_messages={"invalid": "must be a query_id: 32 hex digits"}
    )
    rating = serializers.ChoiceField(choices=RATINGS)
    evaluation_confidence = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    evaluation_reasoning = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    query_understanding = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    per_widget_feedback = WidgetFeedbackSerializer(many=True, required=False, max_length=MAX_ITEMS)
    missing_widgets = serializers.ListField(
        child=serializers.ChoiceField(choices=WIDGET_TYPES), max_length=MAX_ITEMS, default=list
    )
    suggested_improvements = serializers.ListField(
        child=serializers.CharField(max_length=500), max_length=MAX_ITEMS, default=list
    )
    source = serializers.RegexField(
        r"^(operator|judge:[\w.-]{1,48})$",
        required=False,
        help_text="Set by the server from the account (operator, or judge:NAME for a judge account); "
        "if sent, it must be that value.",
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


class ExperienceQuerySerializer(serializers.Serializer):
    has_feedback = serializers.BooleanField(required=False, allow_null=True, default=None)
    has_evaluation = serializers.BooleanField(required=False, allow_null=True, default=None)
    since = AwareDateTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class ApproveTrainingSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["auto", "dpo", "kto"], default="auto")


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
