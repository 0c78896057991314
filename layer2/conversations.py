"""Conversations: where a follow-up finds the turn before it, shared by every worker, one user's own.

A conversation is a row of ``layer2.models.Conversation`` holding its last
turn's context. ``resume`` finds it for its owner while it is fresh (touched
within ``CONVERSATION_IDLE_MINUTES``); an unknown, expired or other user's id
is the same ``ConversationNotFound`` (404), so ids cannot be probed. ``record``
writes the new turn; closed conversations are deleted as new ones start (at most once a minute per
process).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from layer2.errors import ConversationNotFound
from layer2.models import Conversation
from layer2.understanding.followup import TurnContext


def idle_limit() -> timedelta:
    return timedelta(minutes=settings.CONVERSATION_IDLE_MINUTES)


def resume(*, conversation_id: str | None, user) -> tuple[str, int, TurnContext | None]:
    """The conversation's id, the number of the turn about to be asked, and the last turn's context.

    ``conversation_id`` None starts a new conversation (turn 1, no context).
    """
    if conversation_id is None:
        return uuid.uuid4().hex, 1, None
    fresh_since = timezone.now() - idle_limit()
    row = (
        Conversation.objects.filter(id=conversation_id, user_id=user.pk, updated_at__gte=fresh_since)
        .values("turns", "context")
        .first()
    )
    if row is None:
        raise ConversationNotFound(conversation_id)
    return conversation_id, row["turns"] + 1, TurnContext.from_dict(row["context"])


def record(*, conversation_id: str, user, turn: int, context: TurnContext) -> None:
    """Store ``context`` as turn ``turn`` of ``conversation_id`` (created on its first turn)."""
    data = context.to_dict()
    if turn == 1:
        Conversation.objects.create(id=conversation_id, user=user, turns=1, context=data)
        _purge_closed()
        return
    Conversation.objects.filter(id=conversation_id, user_id=user.pk).update(
        turns=turn, context=data, updated_at=timezone.now()
    )


_last_purge = [0.0]  # when this process last deleted closed conversations (a schedule, not state)
PURGE_EVERY = 60.0  # seconds


def _purge_closed() -> None:
    """Delete conversations idle past the limit, at most once a minute per process (a new conversation would
    otherwise pay for a delete each time)."""
    if time.monotonic() - _last_purge[0] < PURGE_EVERY:
        return
    _last_purge[0] = time.monotonic()
    Conversation.objects.filter(updated_at__lt=timezone.now() - idle_limit()).delete()
