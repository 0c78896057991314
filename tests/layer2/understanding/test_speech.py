"""Speech repairs on their own: each names a real unit, or leaves the words as they were."""

import pytest

from layer2.understanding.speech import repair


def twelve_of_each(equipment_type: str, number: int) -> bool:
    return 1 <= number <= 12


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("pump won flow", "pump 1 flow"),
        ("which pump to check", "which pump to check"),  # not a homophone after "which"
        ("compressor 9 no compressor 10 load", "compressor 10 load"),
        ("is there no pump 3", "is there no pump 3"),  # a bare "no" takes nothing back without a unit before it
        ("pump 3 sorry pump 4 i mean pump 5 flow", "pump 5 flow"),
        ("restart compressor 9", "restart compressor 9"),  # a verb is never read as a misheard type word
        ("boyler 2 steam", "boiler 2 steam"),
        ("boyler 20 steam", "boyler 20 steam"),  # no boiler 20: the word is left as heard
    ],
)
def test_repairs(heard, meant):
    assert repair(heard, is_real=twelve_of_each) == meant
