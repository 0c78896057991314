"""The layer2 API: orchestrate, feedback, signals, experiences, RL status, training approval, the learning view.

Each view validates with a serializer, calls one service function and
returns its result; expected failures are raised and mapped to HTTP in
``command_center/api_errors.py``.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from layer2 import rights, services
from layer2.serializers import (
    AccountSerializer,
    AdapterNotFoundSerializer,
    AnswerSerializer,
    ApproveTrainingSerializer,
    ConversationNotFoundSerializer,
    ExperienceListSerializer,
    ExperienceQuerySerializer,
    FeedbackRequestSerializer,
    FeedbackResultSerializer,
    LearningHistoryQuerySerializer,
    LearningHistorySerializer,
    NotYourAnswerSerializer,
    OrchestrateRequestSerializer,
    PlannerAdaptersSerializer,
    PromoteAdapterSerializer,
    RLStatusSerializer,
    RollbackAdapterSerializer,
    SignalsRequestSerializer,
    SignalsResultSerializer,
    TrainingApprovalSerializer,
)

# The errors every operation shares (401, 406, 413, 414, 415, 429, 431; 400 for a body that is not JSON) are
# added to the schema by command_center.api_schema.document_global_responses.
BAD_REQUEST = OpenApiResponse(
    {"$ref": "#/components/schemas/FieldErrors"}, description='A field is invalid: {"field": ["..."]}.'
)
FORBIDDEN = OpenApiResponse({"$ref": "#/components/schemas/ErrorDetail"}, description="Staff only.")


def _valid(serializer_class, data, **context):
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer


class OrchestrateView(APIView):
    """A question in, a widget plan for the asker's role and a spoken answer out (recorded as an experience)."""

    @extend_schema(
        request=OrchestrateRequestSerializer,
        responses={
            200: AnswerSerializer,
            400: BAD_REQUEST,
            404: OpenApiResponse(ConversationNotFoundSerializer, description="No such conversation of yours."),
        },
    )
    def post(self, request):
        data = _valid(OrchestrateRequestSerializer, request.data).validated_data
        answer = services.answer_question(
            transcript=data["transcript"],
            role=data.get("role"),
            user=request.user,
            conversation_id=data.get("conversation_id"),
        )
        return Response(answer.to_dict())


class FeedbackView(APIView):
    """A rating (up/down) of one's own earlier answer; a judge account's rich evaluation of any answer."""

    @extend_schema(
        request=FeedbackRequestSerializer,
        responses={
            200: FeedbackResultSerializer,
            400: BAD_REQUEST,
            403: OpenApiResponse(NotYourAnswerSerializer, description="Staff rating another user's answer."),
            404: OpenApiResponse(NotYourAnswerSerializer, description="No such answer of yours."),
        },
    )
    def post(self, request):
        serializer = _valid(FeedbackRequestSerializer, request.data, source=rights.feedback_source(request.user))
        query_id = serializer.validated_data["query_id"]
        experience = services.submit_feedback(query_id=query_id, feedback=serializer.to_feedback(), user=request.user)
        return Response(
            {"query_id": query_id, "rating": experience.rating, "has_evaluation": experience.has_evaluation}
        )


class SignalsView(APIView):
    """How the asker used their answer: the console's totals so far (a later report replaces this one)."""

    @extend_schema(
        request=SignalsRequestSerializer,
        responses={
            200: SignalsResultSerializer,
            400: BAD_REQUEST,
            403: OpenApiResponse(NotYourAnswerSerializer, description="Staff or a judge reporting another's answer."),
            404: OpenApiResponse(NotYourAnswerSerializer, description="No such answer of yours."),
        },
    )
    def post(self, request):
        serializer = _valid(SignalsRequestSerializer, request.data)
        query_id = serializer.validated_data["query_id"]
        experience = services.submit_signals(query_id=query_id, signals=serializer.to_signals(), user=request.user)
        return Response({"query_id": query_id, "signals": experience.signals.to_dict()})


class ExperiencesView(APIView):
    """Recorded experiences, oldest first: one's own (staff and judges: everyone's); filter by feedback, evaluation,
    since."""

    @extend_schema(parameters=[ExperienceQuerySerializer], responses={200: ExperienceListSerializer, 400: BAD_REQUEST})
    def get(self, request):
        query = _valid(ExperienceQuerySerializer, request.query_params).validated_data
        experiences = services.list_experiences(**query, user=request.user)
        return Response({"count": len(experiences), "experiences": [e.to_dict() for e in experiences]})


class AccountView(APIView):
    """Who the token belongs to and what it may do (a judge script checks it is a judge before it spends tokens)."""

    @extend_schema(responses={200: AccountSerializer})
    def get(self, request):
        return Response(AccountSerializer(services.account(user=request.user)).data)


class RLStatusView(APIView):
    """What the learning loop knows and has done so far."""

    @extend_schema(responses={200: RLStatusSerializer})
    def get(self, request):
        return Response(services.rl_status(user=request.user))


class ApproveTrainingView(APIView):
    """Staff approval to train the planner model on preference feedback (Tier 2)."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        request=ApproveTrainingSerializer,
        responses={
            202: OpenApiResponse(TrainingApprovalSerializer, description="Started: follow it in rl-status."),
            400: BAD_REQUEST,
            403: FORBIDDEN,
            409: OpenApiResponse(
                TrainingApprovalSerializer,
                description="Refused (started false): too few pairs, no planner model, or a run in progress.",
            ),
        },
    )
    def post(self, request):
        method = _valid(ApproveTrainingSerializer, request.data).validated_data["method"]
        body = services.approve_training(method=method, approved_by=request.user.get_username())
        return Response(body, status=status.HTTP_202_ACCEPTED)  # a refusal is TrainingRefused: 409


class LearningHistoryView(APIView):
    """Staff's view of the learning loop over time: answers, ratings and rewards per bucket, the answers rated last,
    and this worker's Tier 1 loss and reward trend."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[LearningHistoryQuerySerializer],
        responses={200: LearningHistorySerializer, 400: BAD_REQUEST, 403: FORBIDDEN},
    )
    def get(self, request):
        query = _valid(LearningHistoryQuerySerializer, request.query_params).validated_data
        return Response(LearningHistorySerializer(services.learning_history(**query)).data)


class PromoteAdapterView(APIView):
    """Staff: serve this planner adapter (every worker's llm planner follows from its next question)."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        request=PromoteAdapterSerializer,
        responses={
            200: OpenApiResponse(PlannerAdaptersSerializer, description="Promoted: the registry now."),
            400: BAD_REQUEST,
            403: FORBIDDEN,
            404: OpenApiResponse(AdapterNotFoundSerializer, description="No such adapter version."),
        },
    )
    def post(self, request):
        version = _valid(PromoteAdapterSerializer, request.data).validated_data["version"]
        return Response(PlannerAdaptersSerializer(services.promote_adapter(version=version, user=request.user)).data)


class RollbackAdapterView(APIView):
    """Staff: serve the adapter that served before the serving one (or the base model alone)."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        request=RollbackAdapterSerializer,
        responses={
            200: OpenApiResponse(PlannerAdaptersSerializer, description="Rolled back: the registry now."),
            400: BAD_REQUEST,
            403: FORBIDDEN,
            409: OpenApiResponse(
                {"$ref": "#/components/schemas/ErrorDetail"}, description="Nothing to roll back: none was promoted."
            ),
        },
    )
    def post(self, request):
        _valid(RollbackAdapterSerializer, request.data)
        return Response(PlannerAdaptersSerializer(services.rollback_adapter(user=request.user)).data)
