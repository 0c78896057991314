"""Which constrained-decoding library fits the planner? Speed, validity and fit, one run, same prompts.

    python bench/constrained_decoding.py                       # bootstrap a planner here (~2 min), 200 prompts
    python bench/constrained_decoding.py --model /path/to/planner --prompts 100

The planner model (``bootstrap_planner``'s, on a scratch plant) writes plans
for prompts that offer a random subset of widgets (where an unconstrained
model is weakest) and for prompts as served. Each library constrains greedy
decoding to the plan grammar of the prompt's offer
(``layer2/planning/plan_grammar.py``: EBNF; the regex form below for the
libraries that take only regular expressions), one prompt at a time as the
planner serves; xgrammar also in batches of 32 with one grammar per row, as
the gate evaluates. Reported per library: valid plans (``parse_plan``),
agreement with the unconstrained plan where that one was valid (a constraint
must not change a plan the model already wrote right), first-use set-up,
grammar compile time, and milliseconds per plan. Libraries that are not
installed are reported as such (only the adopted one is a requirement):

    .venv/bin/pip install outlines lm-format-enforcer transformers-cfg

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="cc-constrained-bench-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP / 'default.sqlite3'}")

from common import machine, seed_scratch_plant, setup_django  # noqa: E402


def plan_regex(offered: frozenset[tuple[str, str]], max_widgets: int) -> str:
    """The plan grammar as one regular expression (for outlines and lm-format-enforcer), written out as a tree."""
    import re

    sizes: dict[str, list[str]] = {}
    for widget_type, size in sorted(offered):
        sizes.setdefault(widget_type, []).append(size)
    types = sorted(sizes)
    items = [re.escape(f'{{"type":"{t}","size":"') + f"({'|'.join(sizes[t])})" + re.escape('"}') for t in types]

    def rest(start: int, left: int) -> str:
        if left == 0 or start == len(types):
            return ""
        return "(" + "|".join(f",{items[j]}{rest(j + 1, left - 1)}" for j in range(start, len(types))) + ")?"

    first = "|".join(f"{items[i]}{rest(i + 1, max_widgets - 1)}" for i in range(len(types)))
    return re.escape('{"widgets":[') + f"({first})" + re.escape("]}")


class Library:
    """One library's way of constraining ``model.generate``: ``setup`` once, ``processor`` per prompt."""

    name = ""
    module = ""  # the import name, to tell "not installed" from "does not import"
    batch = 1

    def setup(self, model, tokenizer) -> None: ...

    def generate_kwargs(self, offers: list[frozenset]) -> dict: ...


class XGrammar(Library):
    name = "xgrammar"
    module = "xgrammar"

    def __init__(self, batch: int = 1):
        self.batch = batch
        self.name = "xgrammar" if batch == 1 else f"xgrammar_batch{batch}"

    def setup(self, model, tokenizer):
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=model.config.vocab_size)
        self.compiler = xgr.GrammarCompiler(info, cache_enabled=True)

    def compile(self, offered):
        from layer2.planning.plan_grammar import plan_ebnf

        return self.compiler.compile_grammar(plan_ebnf(offered))

    def generate_kwargs(self, offers):
        from xgrammar.contrib.hf import LogitsProcessor

        return {"logits_processor": [LogitsProcessor([self.compile(o) for o in offers])]}


class Outlines(Library):
    name = "outlines"
    module = "outlines"

    def setup(self, model, tokenizer):
        import outlines
        from outlines.backends.outlines_core import OutlinesCoreBackend

        self.backend = OutlinesCoreBackend(outlines.from_transformers(model, tokenizer))

    def generate_kwargs(self, offers):
        from layer2.planning.planner import MAX_WIDGETS

        return {"logits_processor": [self.backend.get_regex_logits_processor(plan_regex(offers[0], MAX_WIDGETS))]}


class FormatEnforcer(Library):
    name = "lm-format-enforcer"
    module = "lmformatenforcer"

    def setup(self, model, tokenizer):
        from lmformatenforcer.integrations.transformers import build_token_enforcer_tokenizer_data

        self.data = build_token_enforcer_tokenizer_data(tokenizer)

    def generate_kwargs(self, offers):
        from lmformatenforcer import RegexParser
        from lmformatenforcer.integrations.transformers import build_transformers_prefix_allowed_tokens_fn

        from layer2.planning.planner import MAX_WIDGETS

        parser = RegexParser(plan_regex(offers[0], MAX_WIDGETS))
        return {"prefix_allowed_tokens_fn": build_transformers_prefix_allowed_tokens_fn(self.data, parser)}


class TransformersCFG(Library):
    name = "transformers-cfg"
    module = "transformers_cfg"

    def setup(self, model, tokenizer):
        self.tokenizer = tokenizer

    def generate_kwargs(self, offers):
        from transformers_cfg.generation.logits_process import GrammarConstrainedLogitsProcessor
        from transformers_cfg.grammar_utils import IncrementalGrammarConstraint

        from layer2.planning.plan_grammar import plan_ebnf

        grammar = IncrementalGrammarConstraint(plan_ebnf(offers[0]), "root", self.tokenizer)
        return {"logits_processor": [GrammarConstrainedLogitsProcessor(grammar)]}


LIBRARIES = {"xgrammar": XGrammar, "outlines": Outlines, "lm-format-enforcer": FormatEnforcer,
             "transformers-cfg": TransformersCFG}  # fmt: skip


def generate(model, tokenizer, prompts: list[str], **kwargs) -> list[str]:
    import torch

    from layer2.planning.llm_planner import MAX_NEW_TOKENS

    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        output = model.generate(
            **batch,
            max_new_tokens=MAX_NEW_TOKENS,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **kwargs,
        )
    return tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)


def run_library(library: Library, model, tokenizer, examples, reference: list[str]) -> dict:
    """Figures of one library on ``examples`` (``reference``: the unconstrained plans)."""
    from layer2.planning.plan_prompt import parse_plan

    started = time.perf_counter()
    try:
        library.setup(model, tokenizer)
    except ImportError as error:  # not installed, or installed but does not import beside transformers 5
        installed = importlib.util.find_spec(library.module) is not None
        return {"installed": installed, "imports": False, "error": str(error)}
    setup_s = time.perf_counter() - started
    texts, seconds, errors = [], [], []
    for start in range(0, len(examples), library.batch):
        chunk = examples[start : start + library.batch]
        began = time.perf_counter()
        try:
            texts += generate(
                model, tokenizer, [e.prompt for e in chunk], **library.generate_kwargs([e.offered for e in chunk])
            )
        except Exception as error:  # a library that does not fit this model or transformers 5 is a finding
            errors.append(f"{type(error).__name__}: {error}"[:300])
            texts += [""] * len(chunk)
        seconds.append((time.perf_counter() - began) / len(chunk))
    valid = [parse_plan(t, e.offered) is not None for t, e in zip(texts, examples, strict=True)]
    kept = [t == r for t, r, e in zip(texts, reference, examples, strict=True) if parse_plan(r, e.offered)]
    return {
        "installed": True,
        "imports": True,
        "valid_rate": round(sum(valid) / len(valid), 4),
        "same_as_valid_unconstrained": round(sum(kept) / max(len(kept), 1), 4),
        "setup_s": round(setup_s, 3),
        "ms_per_plan_p50": round(statistics.median(seconds) * 1000, 2),
        "ms_per_plan_mean": round(statistics.fmean(seconds) * 1000, 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "invalid_example": next((t for t, ok in zip(texts, valid, strict=True) if not ok), None),
    }


def planner_and_examples(args):
    """(model folder, prompts with a random subset offered, prompts as served), bootstrapping when not given."""
    from industrial.database.connection import drop_database
    from industrial.plant.spec import EQUIPMENT_TYPES
    from industrial.timeseries.access import TimeSeriesDataAccess
    from layer2.understanding.intent import PlantVocabulary
    from rl.tier2.bootstrap import BootstrapConfig, bootstrap_planner, rule_examples

    if args.vocabulary:
        vocabulary = pickle.loads(Path(args.vocabulary).read_bytes())
    else:
        name = "plant_bench_constrained"
        seeded = seed_scratch_plant(name=name, days=1, counts={t.name: 3 for t in EQUIPMENT_TYPES}, seed=7,
                                    end=datetime(2026, 3, 4, 14, 30, tzinfo=UTC))  # fmt: skip
        access = TimeSeriesDataAccess(seeded["conninfo"], max_size=1)
        vocabulary = PlantVocabulary.from_catalog(access.catalog)
        access.close()
        drop_database(name)
    model_path = Path(args.model) if args.model else None
    if model_path is None:
        report = bootstrap_planner(vocabulary=vocabulary, out=_TMP / "base", config=BootstrapConfig(device="cpu"),
                                   progress=False)  # fmt: skip
        model_path = report.path
    restricted = rule_examples(vocabulary=vocabulary, count=args.prompts, seed=31_000, restricted_share=1.0)
    served = rule_examples(vocabulary=vocabulary, count=args.prompts, seed=32_000, restricted_share=0.0)
    return model_path, restricted, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="A planner model folder (default: bootstrap one here).")
    parser.add_argument("--vocabulary", help="A pickled PlantVocabulary (default: from a scratch plant).")
    parser.add_argument("--prompts", type=int, default=200, help="Prompts of each kind (default 200).")
    parser.add_argument("--libraries", default=",".join(LIBRARIES), help="Comma-separated (default: all four).")
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    from layer2.planning.llm_planner import load_planner
    from layer2.planning.plan_prompt import parse_plan

    call_command("migrate", verbosity=0)
    figures: dict = {"machine": machine(), "date": datetime.now(UTC).date().isoformat()}
    try:
        model_path, restricted, served = planner_and_examples(args)
        model, tokenizer = load_planner(model_path=model_path)
        for kind, examples in (("restricted", restricted), ("served", served)):
            began = time.perf_counter()
            reference = [t for e in examples for t in generate(model, tokenizer, [e.prompt])]
            per_plan = (time.perf_counter() - began) / len(examples)
            valid = sum(parse_plan(t, e.offered) is not None for t, e in zip(reference, examples, strict=True))
            unconstrained = {
                "valid_rate": round(valid / len(examples), 4),
                "ms_per_plan_mean": round(per_plan * 1000, 2),
            }
            figures[kind] = {"prompts": len(examples), "unconstrained": unconstrained}
            names = args.libraries.split(",")
            libraries = [LIBRARIES[n]() for n in names] + ([XGrammar(batch=32)] if "xgrammar" in names else [])
            for library in libraries:
                figures[kind][library.name] = run_library(library, model, tokenizer, examples, reference)
                print(f"{kind} {library.name}: {figures[kind][library.name]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(_TMP, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
