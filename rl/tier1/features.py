"""The Tier 1 scorer's feature layout: what each input of its two towers means.

``intent_features`` describes the question (intent type, equipment type,
aggregation, how many equipment, the metric's family, the time window) and
the asker's role as one-hot blocks; ``widget_features`` describes a widget
(type, size, whether the size is its smallest or largest, its rule score,
whether it shows the asked metric). Index *i* of either vector means the same
thing in every checkpoint saved with this layout.

**Frozen vocabularies.** ``INTENT_TYPES``, ``EQUIPMENT_TYPES`` and
``AGGREGATIONS`` are deliberate copies of ``layer2.understanding.intent`` and
``industrial.plant.spec`` as they were when the layout was fixed, not imports:
a value added to the source (a new intent type) would otherwise shift every
feature index after it, and a saved checkpoint would read each input as its
neighbour's. Until the copy is changed, a value it lacks encodes as none of
the known ones (an all-zero block), which a trained scorer handles like any
unseen question. ``tests/rl/tier1/test_features.py`` fails as soon as a source
differs from its copy, so that the layout is changed on purpose.

**Changing the layout.** Edit the tuple here, on purpose, and the test with
it. The sizes ``INTENT_FEATURES``/``WIDGET_FEATURES`` are saved in every
checkpoint (``Tier1Learner.state``) and ``Tier1Learner.load_state`` refuses a
checkpoint of other sizes, so ``Tier1Service._restore`` does not load one
saved under the old layout: the scorer starts from the rules and relearns from
the journal, and its next checkpoint (``CheckpointStore``) has the new layout.
A change that keeps both sizes (a rename, a reorder) would not be caught that
way: avoid it, or make ``state`` and ``load_state`` also record and compare
something that does change.

``METRIC_FAMILIES`` is this module's own vocabulary. Widget types, sizes and
roles are read live from layer2; a change to them changes the sizes, with the
same effect on old checkpoints.
"""

from __future__ import annotations

import numpy as np

from layer2.planning.widgets import CATALOG, SIZES
from layer2.understanding.roles import ROLES

INTENT_TYPES = ("status", "trend", "comparison", "ranking", "anomaly", "alerts", "summary", "energy",
                "diagnosis")  # fmt: skip  # diagnosis: issue 13 (a new layout: older checkpoints are not loaded)
EQUIPMENT_TYPES = ("chiller", "cooling_tower", "pump", "air_compressor", "ahu", "boiler", "transformer",
                   "diesel_generator", "ups", "energy_meter", "motor")  # fmt: skip
AGGREGATIONS = ("latest", "avg", "min", "max", "sum", "delta", "count", "runtime")  # runtime: issue 12
METRIC_FAMILIES = ("power", "temp", "pressure", "flow", "percent", "electrical", "other")
WIDGET_TYPES = tuple(sorted(CATALOG))
INTENT_FEATURES = (len(INTENT_TYPES) + len(EQUIPMENT_TYPES) + 1 + len(AGGREGATIONS) + 4 + len(METRIC_FAMILIES) + 1 + 4
                   + len(ROLES) + 1)  # fmt: skip
WIDGET_FEATURES = len(WIDGET_TYPES) + len(SIZES) + 2 + 2


def _index(values: tuple[str, ...]) -> dict[str, int]:
    return {v: i for i, v in enumerate(values)}


_INTENT_TYPE, _EQ_TYPE, _AGG = _index(INTENT_TYPES), _index(EQUIPMENT_TYPES), _index(AGGREGATIONS)
_WIDGET, _SIZE, _FAMILY, _ROLE = _index(WIDGET_TYPES), _index(SIZES), _index(METRIC_FAMILIES), _index(ROLES)


def metric_family(metric: str | None) -> str:
    if metric is None:
        return "other"
    for family, suffixes in (("power", ("_kw", "_kva")), ("temp", ("_temp_c",)), ("pressure", ("_bar", "_pa")),
                             ("flow", ("_m3h", "_kg_h")), ("percent", ("_percent",)),
                             ("electrical", ("_v", "_a", "_hz", "power_factor", "_kwh"))):  # fmt: skip
        if metric.endswith(suffixes):
            return family
    return "other"


def intent_features(intent: dict, role: str | None = None) -> np.ndarray:
    """(INTENT_FEATURES,) one-hot description of an intent (the API's dict form) and of the asker's role."""
    x = np.zeros(INTENT_FEATURES, dtype=np.float32)
    offset = 0

    def hot(table: dict[str, int], value, size: int) -> None:
        nonlocal offset
        if value in table:
            x[offset + table[value]] = 1.0
        offset += size

    hot(_INTENT_TYPE, intent["intent_type"], len(INTENT_TYPES))
    hot(_EQ_TYPE, intent.get("equipment_type"), len(EQUIPMENT_TYPES))
    x[offset] = 1.0 if intent.get("equipment_type") is None else 0.0
    offset += 1
    hot(_AGG, intent.get("aggregation"), len(AGGREGATIONS))
    x[offset + min(len(intent.get("equipment_ids", [])), 3)] = 1.0
    offset += 4
    metrics = intent.get("metrics") or []
    hot(_FAMILY, metric_family(metrics[0]) if metrics else None, len(METRIC_FAMILIES))
    x[offset] = 1.0 if metrics else 0.0
    offset += 1
    label = intent.get("time_range", {}).get("label", "now")
    window = 0 if label == "now" else 1 if "hour" in label or label == "today" else 2 if "24" in label else 3
    x[offset + window] = 1.0
    offset += 4
    hot(_ROLE, role, len(ROLES))
    x[offset] = 1.0 if role is None else 0.0
    return x


def widget_features(widget_type: str, size: str, rule_score: float, metric_matches: bool) -> np.ndarray:
    """(WIDGET_FEATURES,) one-hot widget type and size, whether the size is the widget's smallest and its
    largest, its rule score, whether it shows the asked metric."""
    x = np.zeros(WIDGET_FEATURES, dtype=np.float32)
    x[_WIDGET[widget_type]] = 1.0
    x[len(WIDGET_TYPES) + _SIZE[size]] = 1.0
    # "Larger" means a different size for a KPI than for a table: these say it across widgets.
    sizes = CATALOG[widget_type].sizes
    x[-4] = 1.0 if size == sizes[0] else 0.0
    x[-3] = 1.0 if size == sizes[-1] else 0.0
    x[-2] = rule_score
    x[-1] = 1.0 if metric_matches else 0.0
    return x
