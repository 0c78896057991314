"""The API over a real gunicorn with several workers sharing one experience journal."""

from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow


def test_feedback_is_found_whichever_worker_recorded_the_answer(gunicorn_server):
    """Concurrent requests keep several workers busy, so answers and feedback land on different ones."""
    server = gunicorn_server(workers=3)
    questions = [f"pump {1 + i % 2} vibration" for i in range(24)]

    def ask(question):
        return server.request("POST", "/api/layer2/orchestrate/", {"transcript": question})

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, questions))
    assert all(status == 200 for status, _, _ in answers)
    recorded_by = {body["query_id"]: worker for _, body, worker in answers}
    assert len(set(recorded_by.values())) >= 2, "concurrent requests should spread over several workers"

    def rate(query_id):
        return query_id, server.request("POST", "/api/layer2/feedback/", {"query_id": query_id, "rating": "up"})

    with ThreadPoolExecutor(6) as pool:
        rated = list(pool.map(rate, recorded_by))
    assert all(status == 200 for _, (status, _, _) in rated), rated
    assert any(worker != recorded_by[q] for q, (_, _, worker) in rated), "some feedback must cross workers"
    status, body, _ = server.request("GET", "/api/layer2/experiences/?has_feedback=true&limit=1000")
    assert status == 200 and body["count"] == 24
    assert server.request("GET", "/api/layer2/rl-status/")[1]["buffer"]["with_feedback"] == 24


def test_the_live_server_refuses_bad_input_and_strangers(gunicorn_server):
    server = gunicorn_server(workers=2)
    assert server.request("POST", "/api/layer2/orchestrate/", {"transcript": "pump 1"}, token=None)[0] == 401
    assert server.request("POST", "/api/layer2/orchestrate/", {"transcript": 5})[0] == 400
    status, body, _ = server.request("POST", "/api/layer2/feedback/", {"query_id": "f" * 32, "rating": "up"})
    assert status == 404
    status, body, _ = server.request("GET", "/api/industrial/equipment/chiller_009/")
    assert status == 404 and "chiller_001" in body["suggestions"]
