"""The console's pages through Django's test client: who gets which page, the sign-in throttle, the page's
configuration, and the password option of create_api_user."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from industrial.timeseries.rag import decimals_for
from layer2.planning.widgets import CATALOG

PASSWORD = "a-good-long-password"


@pytest.fixture
def users(db):
    make = get_user_model().objects.create_user
    return {"ana": make("ana", password=PASSWORD), "sam": make("sam", password=PASSWORD, is_staff=True)}


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="console-config" type="application/json">') + len(
        '<script id="console-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_a_signed_out_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/")
    assert client.get("/learning/").status_code == 302
    assert client.get("/accounts/login/").status_code == 200


def test_the_console_page_carries_the_catalog_the_decimals_and_the_clock(client, users, configured_plant, settings):
    settings.PLANT_TIME_ZONE = "Asia/Kolkata"
    client.force_login(users["ana"])
    config = config_of(client.get("/"))
    assert config["account"]["username"] == "ana" and not config["account"]["is_staff"]
    assert [w["type"] for w in config["widgets"]] == list(CATALOG)
    assert config["time_zone"] == "Asia/Kolkata"
    assert config["decimals"]["cop"] == 2 == decimals_for("cop")
    assert config["decimals"]["power_consumption_kw"] == 1
    assert config["urls"]["feedback"] == "/api/layer2/feedback/"


def test_only_staff_get_the_learning_view_and_its_link(client, users, configured_plant):
    client.force_login(users["ana"])
    assert b'href="/learning/"' not in client.get("/").content
    assert client.get("/learning/").status_code == 403
    client.force_login(users["sam"])
    assert b'href="/learning/"' in client.get("/").content
    assert client.get("/learning/").status_code == 200


def test_wrong_passwords_from_one_address_are_throttled_like_wrong_tokens(client, users):
    for _ in range(10):
        response = client.post("/accounts/login/", {"username": "ana", "password": "wrong"})
        assert response.status_code == 200 and b"correct username and password" in response.content
    refused = client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    assert refused.status_code == 429
    assert b"Too many failed sign-ins" in refused.content
    assert "_auth_user_id" not in client.session  # even the right password waits


def test_create_api_user_sets_a_console_password_from_the_environment(db, monkeypatch, capsys):
    monkeypatch.setenv("NEW_PASSWORD", PASSWORD)
    call_command("create_api_user", "lee", "--password-env", "NEW_PASSWORD", "--quiet")
    assert get_user_model().objects.get(username="lee").check_password(PASSWORD)
    monkeypatch.setenv("NEW_PASSWORD", "short")
    with pytest.raises(CommandError, match="at least 8 characters"):
        call_command("create_api_user", "lee", "--password-env", "NEW_PASSWORD", "--quiet")
    call_command("create_api_user", "lee", "--quiet")  # without the option the password is kept
    assert get_user_model().objects.get(username="lee").check_password(PASSWORD)
