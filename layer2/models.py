"""Ratings as rows in Django's own database, beside the experience journal; users' operator profiles;
conversations.

The journal is what the learners read; these rows are what the customer's
reporting (and ``train_from_live_feedback``) read. One row per feedback
received, rich fields included when the judge sent them.
"""

from django.conf import settings
from django.db import models

from layer2.understanding.roles import ROLES


class WidgetRating(models.Model):
    query_id = models.CharField(max_length=64, db_index=True)
    rating = models.CharField(max_length=4, choices=[("up", "up"), ("down", "down")])
    source = models.CharField(max_length=64, default="operator")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    transcript = models.TextField(blank=True)
    evaluation_confidence = models.FloatField(null=True)
    evaluation_reasoning = models.TextField(blank=True)
    query_understanding = models.TextField(blank=True)
    per_widget_feedback = models.JSONField(default=list)
    missing_widgets = models.JSONField(default=list)
    suggested_improvements = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The sender's idempotency key (None: none sent): a retried request makes no second row.
    feedback_id = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["query_id", "feedback_id"], name="one_rating_per_feedback_id"),
        ]
        # Granted by `create_api_user NAME --judge` (layer2/rights.py): read every answer, evaluate any of them.
        permissions = [("judge_answers", "May read every answer and post evaluations of it as judge:<user name>")]

    def __str__(self) -> str:
        return f"{self.query_id}: {self.rating}"


class OperatorProfileManager(models.Manager):
    def role_of(self, user) -> str | None:
        """The role on ``user``'s operator profile; None for an anonymous user or one without a profile."""
        if user is None or not user.is_authenticated:
            return None
        return self.filter(user_id=user.pk).values_list("role", flat=True).first()

    def set_role(self, *, user, role: str) -> None:
        """Give ``user`` the role ``role`` (one of ``ROLES``), creating their profile if needed."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        self.update_or_create(user=user, defaults={"role": role})


class OperatorProfile(models.Model):
    """What the system knows of an API user beyond their login: their role at the plant."""

    objects = OperatorProfileManager()

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_profile")
    role = models.CharField(max_length=16, choices=[(r, r) for r in ROLES])

    def __str__(self) -> str:
        return f"{self.user}: {self.role}"


class Conversation(models.Model):
    """One user's conversation: the context its next question is read in (``layer2/understanding/followup.py``).

    In the default database, so every gunicorn worker reads the turn another wrote. ``context`` is the last
    turn's ``TurnContext`` (resolved intent, the words of each slot, the units it ranked); older turns live in
    the experience journal under the same ``conversation_id``.
    """

    id = models.CharField(primary_key=True, max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    turns = models.PositiveIntegerField(default=0)
    context = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.id} ({self.turns} turns)"


class ResolverDay(models.Model):
    """Calls made to the language-model intent resolver on one UTC day, counted across every worker."""

    day = models.DateField(primary_key=True)
    calls = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.calls} calls"
