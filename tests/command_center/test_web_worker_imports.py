"""A web worker imports what it serves: no training library (transformers, trl, peft, datasets) on any endpoint.

Python's own import trace (``PYTHONPROFILEIMPORTTIME``) is switched on for a
real gunicorn; every module a process imports is one line of its log, so the
log of workers that served every endpoint says exactly what they loaded. The
import contracts (``lint-imports``) say the same of the code statically.
"""

import re
import time

import pytest

pytestmark = pytest.mark.slow

TRAINING_LIBRARIES = ("transformers", "trl", "peft", "datasets")
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.M)


def test_workers_that_served_every_endpoint_never_imported_a_training_library(gunicorn_server):
    server = gunicorn_server(workers=2, PYTHONPROFILEIMPORTTIME="1")
    started = time.perf_counter()
    status, body, _ = server.request("GET", "/api/layer2/rl-status/")
    first_status_ms = (time.perf_counter() - started) * 1000
    assert status == 200 and body["tier2"]["serving_adapter"] is None
    status, answer, _ = server.request("POST", "/api/layer2/orchestrate/", {"transcript": "show chiller 1 power"})
    assert status == 200
    assert server.request("POST", "/api/layer2/feedback/", {"query_id": answer["query_id"], "rating": "up"})[0] == 200
    assert server.request("GET", "/api/layer2/experiences/?has_feedback=true")[0] == 200
    assert server.request("POST", "/api/layer2/approve-training/", {})[0] == 409  # no planner model here
    assert server.request("GET", "/api/industrial/equipment/chiller_001/")[0] == 200
    for _ in range(4):  # both workers answer rl-status at least once
        assert server.request("GET", "/api/layer2/rl-status/")[0] == 200

    imported = set(IMPORTED.findall(server.log_path.read_text()))
    assert {"django", "rl.status", "layer2.services"} <= imported, "the import trace must cover the served code"
    loaded = sorted(m for m in imported if m.split(".")[0] in TRAINING_LIBRARIES)
    assert loaded == [], f"web workers imported {loaded[:5]}"
    print(f"first rl-status request: {first_status_ms:.0f} ms")
