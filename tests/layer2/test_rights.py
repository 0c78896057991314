"""Who may see and change what (layer2/rights.py), over HTTP against a real gunicorn.

Each rule of docs/api.md "Rights": an operator reads and rates only their own answers; staff read all and
rate only their own; a judge account reads all and evaluates any, recorded under its name; the source is the
account's, never the body's; non-staff see no server paths.
"""

from __future__ import annotations

import re

import pytest

ORCHESTRATE, FEEDBACK, EXPERIENCES = "/api/layer2/orchestrate/", "/api/layer2/feedback/", "/api/layer2/experiences/"
EVALUATION = {
    "evaluation_confidence": 0.7,
    "evaluation_reasoning": "The KPI answers it.",
    "query_understanding": "Chiller 1's power now.",
    "per_widget_feedback": [{"widget_index": 0, "widget_type": "kpi", "appropriateness_score": 0.9}],
}


@pytest.fixture(scope="module")
def accounts(plant_conninfo, tmp_path_factory):
    """A live server with two operators, a staff user (the server's own 'tester') and a judge; an answer each."""
    from command_center.local_server import start_local_server

    server = start_local_server(timeseries_url=plant_conninfo, state_dir=tmp_path_factory.mktemp("rights"))
    tokens = {
        "ann": server.create_user("ann"),
        "bob": server.create_user("bob"),
        "staff": server.token,
        "judge": server.create_user("claude", "--judge"),
    }
    asked = {}
    for name in ("ann", "bob", "staff"):
        status, body, _ = server.request("POST", ORCHESTRATE, {"transcript": "Show chiller 1 power"}, tokens[name])
        assert status == 200, body
        asked[name] = body["query_id"]
    yield server, tokens, asked
    server.stop()


def listed(server, token) -> set[str]:
    status, body, _ = server.request("GET", EXPERIENCES + "?limit=1000", token=token)
    assert status == 200, body
    return {e["query_id"] for e in body["experiences"]}


def test_an_operator_reads_only_their_own_answers_staff_and_judges_read_all(accounts):
    server, tokens, asked = accounts
    assert listed(server, tokens["ann"]) == {asked["ann"]}
    assert listed(server, tokens["bob"]) == {asked["bob"]}
    assert listed(server, tokens["staff"]) >= set(asked.values())
    assert listed(server, tokens["judge"]) >= set(asked.values())


def test_an_operator_cannot_rate_another_users_answer_it_is_not_found_to_them(accounts):
    server, tokens, asked = accounts
    assert server.request("POST", FEEDBACK, {"query_id": asked["staff"], "rating": "up"}, tokens["staff"])[0] == 200
    status, body, _ = server.request("POST", FEEDBACK, {"query_id": asked["staff"], "rating": "down"}, tokens["bob"])
    assert status == 404 and asked["staff"] in body["query_id"][0]
    unknown = server.request("POST", FEEDBACK, {"query_id": "f" * 32, "rating": "down"}, tokens["bob"])
    assert unknown[0] == 404 and set(unknown[1]) == set(body)  # the same answer as for an id that does not exist
    _, mine, _ = server.request("GET", EXPERIENCES + "?has_feedback=true&limit=1000", token=tokens["staff"])
    [rated] = [e for e in mine["experiences"] if e["query_id"] == asked["staff"]]
    assert (rated["feedback"]["rating"], rated["feedback"]["source"]) == ("up", "operator")


def test_staff_see_every_answer_but_rate_only_their_own(accounts):
    server, tokens, asked = accounts
    status, body, _ = server.request("POST", FEEDBACK, {"query_id": asked["ann"], "rating": "down"}, tokens["staff"])
    assert status == 403 and "only its asker" in body["query_id"][0]
    assert server.request("POST", FEEDBACK, {"query_id": asked["ann"], "rating": "up"}, tokens["ann"])[0] == 200


def test_the_source_is_the_accounts_an_operator_cannot_post_as_the_judge(accounts):
    server, tokens, asked = accounts
    forged = {"query_id": asked["bob"], "rating": "down", "source": "judge:claude", **EVALUATION}
    status, body, _ = server.request("POST", FEEDBACK, forged, tokens["bob"])
    assert status == 400 and "'operator'" in body["source"][0]
    status, body, _ = server.request("POST", FEEDBACK, {**forged, "source": "operator"}, tokens["bob"])
    assert status == 200 and body["has_evaluation"], body  # the operator may say what they think, as the operator
    _, rl, _ = server.request("GET", "/api/layer2/rl-status/", token=tokens["staff"])
    assert "judge:claude" not in rl["buffer"]["evaluations_by_source"]


def test_a_judge_account_evaluates_anyones_answer_recorded_under_its_name(accounts):
    server, tokens, asked = accounts
    status, account, _ = server.request("GET", "/api/layer2/account/", token=tokens["judge"])
    assert status == 200 and (account["is_judge"], account["feedback_source"]) == (True, "judge:claude")
    status, body, _ = server.request("POST", FEEDBACK, {"query_id": asked["ann"], "rating": "up", **EVALUATION},
                                     tokens["judge"])  # fmt: skip
    assert status == 200 and body["has_evaluation"], body
    _, rl, _ = server.request("GET", "/api/layer2/rl-status/", token=tokens["staff"])
    assert rl["buffer"]["evaluations_by_source"].get("judge:claude") == 1
    assert server.request("GET", "/api/layer2/account/", token=tokens["ann"])[1]["feedback_source"] == "operator"


def test_non_staff_see_no_server_paths(accounts):
    server, tokens, _ = accounts
    state = str(server.state_dir)
    _, for_staff, _ = server.request("GET", "/api/layer2/rl-status/", token=tokens["staff"])
    assert state in str(for_staff)  # staff do see where the planner lives
    for name in ("ann", "judge"):
        status, body, _ = server.request("GET", "/api/layer2/rl-status/", token=tokens[name])
        assert status == 200
        text = str(body)
        assert state not in text and not re.search(r"(?<![\w.])/(?:root|home|tmp|work|srv|var|opt)\b", text), text
