"""A torture run: questions of random plant words, each must get a spoken answer and never raise.

The words mix equipment (real and not), metrics, windows (some impossible:
"25:00", "31 february", "99999 days"), aggregations, speech fillers and
punctuation, so that every reader of the parser meets what it does not
expect, on the plant clock of a zone with DST.
"""

import random

import pytest

_WORDS = """
show what is the how many which top 3 bottom pump 2 pump 7 chiller 1 chiller 12 ahu 2 a h u 30 ups 1
dg 2 meter 1 motor 1 boiler 2 transformer 1 ct 2 compressor 1 power temperature vibration pressure
flow fuel level battery co2 humidity energy kwh usage alarms alerts critical high medium low
acknowledged unacknowledged since at between and pm am 7 10:30 yesterday today last night overnight
this morning week month quarter year in march on 3 november sunday tuesday weekend fortnight half an
hour ago 99999 days 25:00 31 february average max min total change rise drop mean peak running on
off sorted by from highest to lowest above below 90 percent turn off switch who won the match sorry
i mean um uh won to too for ate second third number no. # - , . ? ! ' ; : 0 00 -5 1e9 ph noise
pulling drawing shaking how hot warmest biggest users when did last alarm runtime hours
"""
WORDS = _WORDS.split()


@pytest.fixture
def orchestrator(settings, serving):
    settings.PLANT_TIME_ZONE = "America/New_York"
    return serving


@pytest.mark.parametrize("seed", range(4))
def test_random_plant_words_always_get_an_answer(orchestrator, seed):
    rng = random.Random(seed)
    for _ in range(75):
        transcript = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14)))
        answer = orchestrator.answer(transcript)
        assert answer.voice_response, transcript
