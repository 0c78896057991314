"""The ``llm`` planner backend: a local causal language model writes the widget plan.

The model is any Hugging Face causal LM folder on disk (``PLANNER_MODEL_PATH``:
the one ``bootstrap_planner`` builds, or e.g. a Qwen2.5-0.5B-Instruct the
customer has), optionally with a LoRA adapter (``PLANNER_ADAPTER_PATH``). It
is loaded once per process on first use with ``local_files_only``: nothing
is ever downloaded. Decoding is greedy, so a choice's propensity is 1.
A plan that is not valid JSON for the offered candidates returns None and
the orchestrator falls back to the rule ranking; the reason is logged.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from layer2.intent import ParsedQuery
from layer2.plan_prompt import build_prompt, parse_plan
from layer2.planner import Candidate, Choice

logger = logging.getLogger(__name__)


class LLMPlanner:
    name = "llm"

    def __init__(self, model_path: str | Path, adapter_path: str | Path | None = None, max_new_tokens: int = 96):
        self.model_path = Path(model_path)
        self.adapter_path = Path(adapter_path) if adapter_path else None
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()  # one generation at a time per process: the model is not thread-safe

    @functools.cached_property
    def _model_and_tokenizer(self):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True, dtype=torch.float32)
        if self.adapter_path:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.adapter_path, local_files_only=True)
        model.eval()
        logger.info("planner model loaded from %s (adapter: %s)", self.model_path, self.adapter_path or "none")
        return model, tokenizer

    def generate(self, prompt: str) -> str:
        import torch

        model, tokenizer = self._model_and_tokenizer
        inputs = tokenizer(prompt, return_tensors="pt")
        with self._lock, torch.no_grad():
            output = model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )  # fmt: skip
        return tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    def choose(self, parsed: ParsedQuery, candidates: list[Candidate], context: str) -> list[Choice] | None:
        text = self.generate(build_prompt(parsed.transcript, parsed.intent, candidates, context))
        plan = parse_plan(text, candidates)
        if plan is None:
            logger.warning("planner model gave no valid plan (%r); using the rule ranking", text[:200])
            return None
        by_slot = {(c.widget_type, c.size): c for c in reversed(candidates)}  # the first slot of each type wins
        return [Choice(by_slot[(i.widget_type, i.size)], 1.0, 1.0) for i in plan]


@functools.cache
def get_llm_planner() -> LLMPlanner:
    from django.conf import settings

    if not settings.PLANNER_MODEL_PATH:
        raise RuntimeError("PLANNER_BACKEND=llm needs PLANNER_MODEL_PATH: a local model folder (see bootstrap_planner)")
    return LLMPlanner(settings.PLANNER_MODEL_PATH, settings.PLANNER_ADAPTER_PATH or None)
