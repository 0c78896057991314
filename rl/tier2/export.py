"""An adapter merged into the base model's weights, as one model folder to ship (``planner_adapters export``)."""

from __future__ import annotations

import json
from pathlib import Path

from layer2.planning.llm_planner import load_planner
from rl.tier2.adapters import Registry


def export_merged(*, registry: Registry, version: str, base_model: Path, out: Path) -> Path:
    """The base model with adapter ``version`` merged into its weights, saved (safetensors) at ``out``."""
    model, tokenizer = load_planner(model_path=base_model, adapter_path=registry.path(version))
    merged = model.merge_and_unload()
    out = Path(out)
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "merged_from.json").write_text(json.dumps({"base_model": str(base_model), "adapter": version}))
    return out
