"""create_api_user: a user and a token that authenticates."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from layer2.models import OperatorProfile


@pytest.mark.django_db
def test_create_api_user_prints_a_working_token_and_is_idempotent(client):
    out = StringIO()
    call_command("create_api_user", "evaluator", "--quiet", stdout=out)
    token = out.getvalue().strip()
    assert Token.objects.get(user__username="evaluator").key == token
    response = client.get("/api/layer2/rl-status/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    again = StringIO()
    call_command("create_api_user", "evaluator", "--staff", stdout=again)
    assert f"token: {token}" in again.getvalue() and "staff" in again.getvalue()
    with pytest.raises(CommandError, match="username"):
        call_command("create_api_user", "   ")


@pytest.mark.django_db
def test_create_api_user_sets_and_keeps_the_role(django_user_model):
    out = StringIO()
    call_command("create_api_user", "ana", "--role", "engineer", stdout=out)
    user = django_user_model.objects.get(username="ana")
    assert OperatorProfile.objects.role_of(user) == "engineer" and "engineer" in out.getvalue()
    call_command("create_api_user", "ana", stdout=StringIO())
    assert OperatorProfile.objects.role_of(user) == "engineer"  # omitted: kept
    call_command("create_api_user", "ana", "--role", "manager", stdout=StringIO())
    assert OperatorProfile.objects.role_of(user) == "manager"
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_api_user", "ana", "--role", "ceo")
    assert OperatorProfile.objects.role_of(user) == "manager"
