"""The language-model resolver's daily budget, shared by every worker through the default database."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from layer2.models import ResolverDay


def take_call(*, daily_calls: int) -> bool:
    """Count one resolver call against today's (UTC) budget; False, counting nothing, once it is spent."""
    today = timezone.now().date()
    with transaction.atomic():
        ResolverDay.objects.get_or_create(day=today)
        taken = ResolverDay.objects.filter(day=today, calls__lt=daily_calls).update(calls=F("calls") + 1)
    return taken == 1
