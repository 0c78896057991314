"""The answers to the understanding questions say the numbers independent SQL gives, kind by kind.

Every question of tests/data/understanding_questions.jsonl that carries
``truth`` (queries over the seeded small plant, each one number), forbids
widgets (``expect.widgets == "none"``) or is refused is sent to the
orchestrate API over the small test plant, in the plant zone Asia/Singapore.
A question is numbers-true when every truth number, rounded as speech rounds
(``labels.said``), is among the numbers of ``voice_response`` and no widget is
shown where none may be. Each kind must reach its floor.
"""

import pytest

from tests.layer2.understanding.labels import ZONE, answer_misses, load_questions, needs_answer

ANSWERED = [q for q in load_questions() if needs_answer(q)]

FLOORS = {
    "speech": 0.98,
    "everyday_words": 0.98,
    "windows": 0.98,
    "aggregations": 0.98,
    "fleet": 0.98,
    "alert_history": 0.98,
    "honest": 0.98,
}


@pytest.fixture
def plant_zone(settings):
    settings.PLANT_TIME_ZONE = ZONE


@pytest.mark.parametrize("kind", list(FLOORS))
def test_each_kind_speaks_the_sql_numbers(plant_zone, api_client, serving, plant_db, kind):
    questions = [q for q in ANSWERED if q["kind"] == kind]
    assert questions, f"no checkable question of kind {kind}"
    misses = []
    for q in questions:
        try:
            response = api_client.post("/api/layer2/orchestrate/", {"transcript": q["transcript"]}, format="json")
        except Exception as error:  # the test client re-raises a view's exception: a miss, and the rest still run
            misses.append(f"{q['transcript']!r}: raised {type(error).__name__}: {error}")
            continue
        if response.status_code != 200:
            misses.append(f"{q['transcript']!r}: HTTP {response.status_code}")
            continue
        body = response.json()
        if wrong := answer_misses(q, body, plant_db):
            misses.append(f"{q['transcript']!r}: {'; '.join(wrong)} in {body['voice_response']!r}")
    share = 1 - len(misses) / len(questions)
    assert share >= FLOORS[kind], (
        f"{kind}: {share:.1%} of {len(questions)} numbers-true (floor {FLOORS[kind]:.0%}); misses:\n"
        + "\n".join(misses)
    )
