"""The ``llm`` planner backend: a local causal language model writes the widget plan.

The model is any Hugging Face causal LM folder on disk (``PLANNER_MODEL_PATH``:
the one ``bootstrap_planner`` builds, or e.g. a Qwen2.5-0.5B-Instruct the
customer has) with the LoRA adapter that Tier 2 promoted (or a fixed one,
``PLANNER_ADAPTER_PATH``). It is loaded on first use with
``local_files_only``: nothing is ever downloaded. Before each plan the
planner compares the registry's active version with the one it holds and
reloads on a change, so a promotion or rollback reaches every gunicorn
worker on its next question. Decoding is greedy, so a choice's propensity
is 1. Decoding is constrained to the plan grammar of the offered candidates
(``constrained_decoding``), so every plan is valid by construction;
``PLANNER_CONSTRAINED=false`` turns that off, and then a plan that is not
valid JSON for the offer returns None and the orchestrator falls back to the
rule ranking (the reason is logged).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from layer2.planning.constrained_decoding import PlanConstraint
from layer2.planning.plan_grammar import longest_plan
from layer2.planning.plan_prompt import candidate_prompt, offered_slots, parse_plan
from layer2.planning.planner import Candidate, Choice
from layer2.understanding.intent import ParsedQuery

logger = logging.getLogger(__name__)

MAX_NEW_TOKENS = 80  # a four-widget plan is about 40 tokens with the bootstrapped tokenizer


def load_planner(*, model_path: str | Path, adapter_path: str | Path | None = None, device: str = "cpu"):
    """(model, tokenizer) from local folders, in eval mode, tokenizer padding on the left for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True, dtype=torch.float32)
    if adapter_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_path, local_files_only=True)
    return model.to(device).eval(), tokenizer


def generate_plans(
    *,
    model,
    tokenizer,
    prompts: list[str],
    offers: list[frozenset[tuple[str, str]]] | None = None,
    constraint: PlanConstraint | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 32,
):
    """Greedy continuations of ``prompts`` (the text after each prompt), in batches.

    With a ``constraint``, prompt i can only be continued with a valid plan over ``offers[i]``, and the token budget
    grows to the longest such plan where ``max_new_tokens`` would cut one short (a plan cut short is invalid).
    """
    import torch

    if constraint is not None and (offers is None or len(offers) != len(prompts)):
        raise ValueError("constrained decoding needs one offer per prompt")
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    device = next(model.parameters()).device
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        budget, constrained = max_new_tokens, {}
        if constraint is not None:
            chunk = offers[start : start + batch_size]
            budget = max(max_new_tokens, max(longest_plan(o) for o in chunk) + 1)  # + 1: the end token
            constrained = {"logits_processor": [constraint.logits_processor(chunk)]}
        with torch.no_grad():
            output = model.generate(
                **batch,
                max_new_tokens=budget,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **constrained,
            )
        new = output[:, batch["input_ids"].shape[1] :]  # (batch, new tokens)
        texts += tokenizer.batch_decode(new, skip_special_tokens=True)
    return texts


class LLMPlanner:
    def __init__(
        self,
        model_path: str | Path,
        adapter_path: str | Path | None = None,
        active_adapter: Callable[[], Path | None] | None = None,
        max_new_tokens: int = MAX_NEW_TOKENS,
        constrained: bool = True,
    ):
        """``active_adapter`` (when given) names the adapter folder to serve now; it is asked before each plan.

        ``constrained`` decodes within the plan grammar (every plan valid); False lets the model write anything.
        """
        self.model_path = Path(model_path)
        self.fixed_adapter = Path(adapter_path) if adapter_path else None
        self.active_adapter = active_adapter
        self.max_new_tokens = max_new_tokens
        self.constrained = constrained
        self._lock = threading.Lock()  # one generation at a time per process: the model is not thread-safe
        self._loaded: tuple[Path | None, object, object, PlanConstraint | None] | None = None

    def _wanted_adapter(self) -> Path | None:
        return self.active_adapter() if self.active_adapter else self.fixed_adapter

    def _model(self):
        adapter = self._wanted_adapter()
        if self._loaded is None or self._loaded[0] != adapter:
            model, tokenizer = load_planner(model_path=self.model_path, adapter_path=adapter)
            constraint = PlanConstraint.for_model(model, tokenizer) if self.constrained else None
            self._loaded = (adapter, model, tokenizer, constraint)
            logger.info(
                "planner model %s serving with adapter %s (%s decoding)",
                self.model_path,
                adapter or "none",
                "constrained" if constraint else "unconstrained",
            )
        return self._loaded[1:]

    @property
    def name(self) -> str:
        """``llm``, with the serving adapter's version when there is one (recorded with each experience)."""
        return f"llm:{self.adapter.name}" if self.adapter else "llm"

    @property
    def adapter(self) -> Path | None:
        """The adapter serving in this process (None: the base model alone, or nothing loaded yet)."""
        return self._loaded[0] if self._loaded else None

    def generate(self, prompt: str, offered: frozenset[tuple[str, str]]) -> str:
        with self._lock:
            model, tokenizer, constraint = self._model()
            return generate_plans(
                model=model,
                tokenizer=tokenizer,
                prompts=[prompt],
                offers=[offered],
                constraint=constraint,
                max_new_tokens=self.max_new_tokens,
            )[0]

    def choose(self, parsed: ParsedQuery, candidates: list[Candidate], role: str | None = None) -> list[Choice] | None:
        offered = offered_slots(candidates)
        text = self.generate(candidate_prompt(parsed.transcript, parsed.intent, candidates, role), offered)
        plan = parse_plan(text, offered)
        if plan is None:
            logger.warning("planner model gave no valid plan (%r); using the rule ranking", text[:200])
            return None
        by_slot = {(c.widget_type, c.size): c for c in reversed(candidates)}  # the first slot of each type wins
        chosen = sorted((by_slot[(i.widget_type, i.size)] for i in plan), key=lambda c: -c.rule_score)
        # The model chooses the set; the dashboard shows it most relevant first, as the rule ranking would.
        return [Choice(c, 1.0, 1.0) for c in chosen]
