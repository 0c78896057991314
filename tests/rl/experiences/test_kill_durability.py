"""Nothing a live gunicorn acknowledged is lost when it is killed (SIGKILL, master and workers) under load.

Runs tests/rl/experiences/server_kills.py: 20 kills at random moments while six clients ask and rate,
a restart on the same state folder after each; ``bench/kill_torture.py`` runs the same with more.
"""

import json

import pytest

from tests.rl.experiences.server_kills import kill_torture

pytestmark = pytest.mark.slow


def test_every_acknowledged_answer_and_rating_survives_twenty_kills_of_the_server(plant_conninfo, tmp_path):
    report = kill_torture(
        timeseries_url=plant_conninfo,
        state_dir=tmp_path / "state",
        kills=20,
        clients=6,
        workers=2,
        seed=14,
        load_seconds=(0.2, 1.2),
        progress=print,
    )
    print(json.dumps(report.as_dict()))
    assert report.kills == 20
    # Not vacuous: the load was real and the kills cut requests short.
    assert report.orchestrate_acked > 50 and report.feedback_acked > 20, report
    assert report.connection_errors >= report.kills, report
    assert report.unexpected_connection_errors == 0, report
    assert all(key.endswith(" 200") for key in report.statuses), report.statuses  # no 404 for an acked answer
    assert (report.lost_orchestrate, report.lost_feedback) == (0, 0), report.examples
    assert report.duplicates == 0 and report.phantom_feedback == 0, report.examples
    assert report.unparseable_lines == 0 and report.journal_experiences == report.journal_query_ids, report
