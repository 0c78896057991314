"""The Tier 1 feature layout's frozen vocabularies still equal their sources."""

import pytest

from industrial.plant import spec
from layer2.understanding import intent
from rl.tier1 import features

FROZEN = [
    ("INTENT_TYPES", intent.INTENT_TYPES, "layer2.understanding.intent.INTENT_TYPES"),
    ("AGGREGATIONS", intent.AGGREGATIONS, "layer2.understanding.intent.AGGREGATIONS"),
    ("EQUIPMENT_TYPES", tuple(t.name for t in spec.EQUIPMENT_TYPES), "industrial.plant.spec.EQUIPMENT_TYPES"),
]


@pytest.mark.parametrize(("name", "source", "where"), FROZEN, ids=[name for name, _, _ in FROZEN])
def test_each_frozen_vocabulary_equals_its_source(name, source, where):
    assert getattr(features, name) == source, (
        f"{where} is now {source}, but rl.tier1.features.{name} is {getattr(features, name)}. "
        "The copy is the Tier 1 checkpoints' feature layout: change it on purpose (see the docstring of "
        "rl/tier1/features.py; checkpoints of the old layout are then not loaded and Tier 1 relearns)."
    )


def test_an_intent_type_the_layout_lacks_encodes_as_no_known_type():
    known = features.intent_features({"intent_type": "status"})
    unknown = features.intent_features({"intent_type": "forecast"})
    types = slice(0, len(features.INTENT_TYPES))
    assert known[types].sum() == 1 and unknown[types].sum() == 0
    assert (known[types.stop :] == unknown[types.stop :]).all()
