"""One place that turns expected failures into HTTP responses.

DRF's own errors keep its shape (``{"field": ["message"]}`` for 400s,
``{"detail": "..."}`` otherwise). Our typed errors map as follows: an
unknown equipment in the URL is 404 with close matches; an answer that is not the asker's is 404 (403 to
staff, who can see it) naming ``query_id``; a conversation that is not the asker's (unknown,
expired or another user's) is 404 naming ``conversation_id``; an unknown metric,
type or bad parameter in a query or body is 400 naming the field; a Tier 2
approval that cannot start is 409 with its reason; an unknown planner adapter
is 404 naming ``version``, and a rollback with nothing to roll back to 409.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from industrial.errors import InvalidQuery, UnknownEquipment, UnknownEquipmentType, UnknownMetric
from layer2.errors import ConversationNotFound, InvalidFeedback, NotYours
from rl.experiences.buffer import ExperienceNotFound
from rl.tier2.adapters import NothingToRollBack, UnknownAdapter
from rl.tier2.jobs import TrainingRefused


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, UnknownEquipment):
        body = {"detail": str(exc), "suggestions": exc.suggestions}
        return Response(body, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, ConversationNotFound):
        return Response({"conversation_id": [str(exc)]}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, ExperienceNotFound):
        return Response({"query_id": [str(exc)]}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, NotYours):
        return Response({"query_id": [str(exc)]}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, UnknownMetric):
        return Response({"metric": [str(exc)], "suggestions": exc.suggestions}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, UnknownEquipmentType):
        return Response(
            {"equipment_type": [str(exc)], "suggestions": exc.suggestions}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, InvalidQuery | InvalidFeedback):
        return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, TrainingRefused):
        return Response(exc.body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, UnknownAdapter):
        return Response({"version": [str(exc)]}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, NothingToRollBack):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": str(exc)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return None
