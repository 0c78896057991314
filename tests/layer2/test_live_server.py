"""The API over a real gunicorn with several workers sharing one experience journal."""

import pytest

pytestmark = pytest.mark.slow


def test_feedback_is_found_whichever_worker_recorded_the_answer(gunicorn_server, plant_db):
    server = gunicorn_server(workers=3)
    answered = {}
    for i in range(12):
        status, body, worker = server.request(
            "POST", "/api/layer2/orchestrate/", {"transcript": f"pump {1 + i % 2} vibration"}
        )
        assert status == 200, body
        answered[body["query_id"]] = worker
    assert len(set(answered.values())) >= 2, "requests should spread over several workers"
    crossed = 0
    for query_id, recorded_by in answered.items():
        status, body, worker = server.request("POST", "/api/layer2/feedback/", {"query_id": query_id, "rating": "up"})
        assert status == 200, body
        crossed += worker != recorded_by
    assert crossed >= 1, "at least one feedback should reach a worker other than the one that answered"
    status, body, _ = server.request("GET", "/api/layer2/experiences/?has_feedback=true&limit=1000")
    assert status == 200 and body["count"] == 12
    assert server.request("GET", "/api/layer2/rl-status/")[1]["buffer"]["with_feedback"] == 12


def test_gunicorn_server_refuses_bad_input_and_strangers(gunicorn_server):
    server = gunicorn_server(workers=2)
    assert server.request("POST", "/api/layer2/orchestrate/", {"transcript": "pump 1"}, token=None)[0] == 401
    assert server.request("POST", "/api/layer2/orchestrate/", {"transcript": 5})[0] == 400
    status, body, _ = server.request("POST", "/api/layer2/feedback/", {"query_id": "f" * 32, "rating": "up"})
    assert status == 404
    status, body, _ = server.request("GET", "/api/industrial/equipment/chiller_009/")
    assert status == 404 and "chiller_001" in body["suggestions"]
