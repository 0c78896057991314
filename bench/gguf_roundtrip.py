"""Does llama.cpp, reading our GGUF export, write the same plans as transformers?

    python bench/gguf_roundtrip.py                    # bootstrap (default size), export f32 GGUF, 200 fresh prompts
    python bench/gguf_roundtrip.py --quick            # a smaller bootstrap (2,400 examples), 60 prompts
    python bench/gguf_roundtrip.py --gguf-type f16    # the half-size file

Needs llama-cpp-python, which is not a project requirement: it compiles
llama.cpp from source (about 7 minutes on 2 cores):

    CMAKE_BUILD_PARALLEL_LEVEL=2 pip install llama-cpp-python==0.3.36

Steps, through the project's own code: build and teach a planner model
(``bootstrap_planner``'s service function) over a vocabulary of the plant
contract's equipment (no database); write it as GGUF
(``rl/tier2/gguf_export.py``, the writer behind ``planner_adapters export
--gguf``); load that file with llama.cpp; decode greedily, one prompt at a
time, on prompts of questions neither model was taught on. Two ways:
``ids`` gives llama.cpp the HF tokenizer's prompt ids (model equality alone),
``text`` lets llama.cpp tokenize the prompt from the GGUF's vocabulary
(model and tokenizer). Reported: share of prompts tokenized identically,
share of generations with identical tokens and plans, the largest gap of a
next-token logit, new tokens per second of both (wall time with the prompt's
evaluation, one thread each by default), load times, and which of a few probe
texts (widget words inside longer words) the two tokenize differently.
Then the served case: prompts offering a random subset of widgets, decoded
within the plan grammar by both (xgrammar in transformers; the same EBNF,
``plan_ebnf``, as a llama.cpp GBNF grammar), with valid and same-plan shares.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import machine, setup_django

INSTALL = "CMAKE_BUILD_PARALLEL_LEVEL=2 pip install llama-cpp-python==0.3.36"
# Widget and size words inside longer words. HF matches the added widget tokens only as whole words
# (single_word); GGUF has no key for that, and llama.cpp matches a USER_DEFINED token anywhere in the text.
PROBES = ("a stable table", "fully full", "smaller small", "kpis kpi", "gauges", "comparisons", "untabled")


def plant_vocabulary(per_type: int = 3):
    """The parser's vocabulary for ``per_type`` pieces of each equipment type of the plant contract."""
    from industrial.plant.spec import EQUIPMENT_TYPES
    from layer2.understanding.intent import PlantVocabulary

    return PlantVocabulary(
        {t.name: t.ids(per_type) for t in EQUIPMENT_TYPES}, {t.name: list(t.metrics) for t in EQUIPMENT_TYPES}
    )


def hf_greedy(model, tokenizer, ids: list[int], max_new: int) -> list[int]:
    """transformers' greedy continuation of ``ids`` (without the end token), as the planner decodes."""
    import torch

    with torch.no_grad():
        output = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=max_new,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    return until_end(output[0, len(ids) :].tolist(), tokenizer.eos_token_id)


def cpp_greedy(llm, ids: list[int], max_new: int) -> list[int]:
    """llama.cpp's greedy continuation of ``ids`` (temperature 0, no penalties), from an empty cache."""
    llm.reset()  # no prefix reuse from the previous prompt: each one is timed whole
    new = []
    for token in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True):
        if token == llm.token_eos() or len(new) == max_new:
            break
        new.append(token)
    return new


def until_end(ids: list[int], eos: int) -> list[int]:
    return ids[: ids.index(eos)] if eos in ids else ids


def logit_gap(model, llm, ids: list[int]) -> float:
    """The largest |difference| between the two models' next-token logits after ``ids``."""
    import llama_cpp
    import numpy as np
    import torch

    with torch.no_grad():
        hf = model(torch.tensor([ids])).logits[0, -1].numpy()
    llm.reset()
    llm.eval(ids)
    cpp = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    return float(np.abs(cpp - hf).max())


def first_difference(tokenizer, hf: list[int], cpp: list[int]) -> str:
    """Where two tokenizations of one text part: the HF pieces and the llama.cpp pieces from there."""
    at = next((i for i, (a, b) in enumerate(zip(hf, cpp, strict=False)) if a != b), min(len(hf), len(cpp)))
    pieces = lambda ids: [tokenizer.decode([t]) for t in ids[at : at + 6]]  # noqa: E731
    return f"HF {pieces(hf)} vs llama.cpp {pieces(cpp)}"


def compare(*, model, tokenizer, llm, examples, max_new: int) -> dict:
    """Greedy plans of both for every example, with llama.cpp given HF's ids and its own tokenization."""
    from layer2.planning.plan_prompt import parse_plan

    figures = {"prompts": len(examples), "same_tokenization": 0, "differences": [], "hf_valid": 0}
    modes = {m: {"same_tokens": 0, "same_plan": 0, "valid": 0} for m in ("ids", "text")}
    hf_time = cpp_time = hf_tokens = cpp_tokens = 0.0
    gaps = []
    for example in examples:
        ids = tokenizer(example.prompt)["input_ids"]
        started = time.perf_counter()
        hf_new = hf_greedy(model, tokenizer, ids, max_new)
        hf_time += time.perf_counter() - started
        hf_tokens += len(hf_new)
        hf_plan = parse_plan(tokenizer.decode(hf_new, skip_special_tokens=True), example.offered)
        figures["hf_valid"] += hf_plan is not None
        cpp_ids = llm.tokenize(example.prompt.encode(), add_bos=True, special=True)
        if cpp_ids == ids:
            figures["same_tokenization"] += 1
        elif len(figures["differences"]) < 5:
            figures["differences"].append(first_difference(tokenizer, ids, cpp_ids))
        for mode, prompt_ids in (("ids", ids), ("text", cpp_ids)):
            started = time.perf_counter()
            new = cpp_greedy(llm, prompt_ids, max_new)
            cpp_time += time.perf_counter() - started
            cpp_tokens += len(new)
            plan = parse_plan(llm.detokenize(new).decode("utf-8", errors="replace"), example.offered)
            modes[mode]["same_tokens"] += new == hf_new
            modes[mode]["same_plan"] += plan == hf_plan
            modes[mode]["valid"] += plan is not None
        gaps.append(logit_gap(model, llm, ids))
    n = len(examples)
    return {
        "prompts": n,
        "same_tokenization": round(figures["same_tokenization"] / n, 4),
        "tokenization_differences": figures["differences"],
        "hf_valid": round(figures["hf_valid"] / n, 4),
        **{m: {k: round(v / n, 4) for k, v in counts.items()} for m, counts in modes.items()},
        "max_logit_gap": round(max(gaps), 6),
        "probes_tokenized_differently": [
            t for t in PROBES if llm.tokenize(t.encode(), special=True) != tokenizer(t)["input_ids"]
        ],
        "hf_new_tokens_per_s": round(hf_tokens / hf_time),
        "llama_cpp_new_tokens_per_s": round(cpp_tokens / cpp_time),
    }


def compare_constrained(*, model, tokenizer, llm, examples, max_new: int) -> dict:
    """Plans of both decoded within the plan grammar of each example's offer (llama.cpp given HF's ids)."""
    import llama_cpp

    from layer2.planning.constrained_decoding import PlanConstraint
    from layer2.planning.llm_planner import generate_plans
    from layer2.planning.plan_grammar import plan_ebnf
    from layer2.planning.plan_prompt import parse_plan

    constraint = PlanConstraint.for_model(model, tokenizer)
    same = hf_valid = cpp_valid = 0
    for example in examples:
        hf_text = generate_plans(model=model, tokenizer=tokenizer, prompts=[example.prompt], offers=[example.offered],
                                 constraint=constraint)[0]  # fmt: skip
        grammar = llama_cpp.LlamaGrammar.from_string(plan_ebnf(example.offered), verbose=False)
        llm.reset()
        new = []
        for token in llm.generate(tokenizer(example.prompt)["input_ids"], temp=0.0, top_k=1, top_p=1.0, min_p=0.0,
                                  repeat_penalty=1.0, reset=True, grammar=grammar):  # fmt: skip
            if token == llm.token_eos() or len(new) == max_new:
                break
            new.append(token)
        hf_plan = parse_plan(hf_text, example.offered)
        cpp_plan = parse_plan(llm.detokenize(new).decode("utf-8", errors="replace"), example.offered)
        same, hf_valid, cpp_valid = same + (hf_plan == cpp_plan), hf_valid + bool(hf_plan), cpp_valid + bool(cpp_plan)
    n = len(examples)
    return {"prompts": n, "same_plan": round(same / n, 4), "hf_valid": round(hf_valid / n, 4),
            "llama_cpp_valid": round(cpp_valid / n, 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=200, help="Fresh prompts to decode (default 200).")
    parser.add_argument("--quick", action="store_true", help="2,400 bootstrap examples, 60 prompts.")
    parser.add_argument("--gguf-type", default="f32", choices=["f32", "f16"], help="GGUF weight type (default f32).")
    parser.add_argument("--threads", type=int, default=1, help="Threads of torch and of llama.cpp (default 1).")
    parser.add_argument("--seed", type=int, default=0, help="Bootstrap seed (default 0).")
    args = parser.parse_args()
    try:
        import llama_cpp
    except ImportError:
        raise SystemExit(
            f"llama-cpp-python is not installed (not a project requirement). Install it:\n  {INSTALL}"
        ) from None
    if args.quick:
        args.prompts = min(args.prompts, 60)

    setup_django()
    import torch

    from layer2.planning.llm_planner import MAX_NEW_TOKENS, load_planner
    from rl.tier2.bootstrap import BootstrapConfig, bootstrap_planner, rule_examples
    from rl.tier2.gguf_export import write_gguf

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="cc-gguf-bench-"))
    figures: dict[str, object] = {"machine": machine(), "date": datetime.now(UTC).date().isoformat()}
    try:
        vocabulary = plant_vocabulary()
        config = BootstrapConfig(
            **({"examples": 2400, "epochs": 4} if args.quick else {}), seed=args.seed, device="cpu"
        )
        base = bootstrap_planner(vocabulary=vocabulary, out=tmp / "base", config=config, progress=False)
        figures["bootstrap"] = {"seconds": base.seconds, "parameters": base.parameters,
                                "valid_json_rate": base.valid_json_rate}  # fmt: skip
        print(f"bootstrap: {base.parameters:,} parameters in {base.seconds:.0f} s", file=sys.stderr, flush=True)

        started = time.perf_counter()
        report = write_gguf(model_dir=base.path, out=tmp / "planner.gguf", dtype=args.gguf_type)
        figures["gguf"] = {"type": report.dtype, "tensors": report.tensors, "bytes": report.bytes,
                           "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip

        started = time.perf_counter()
        model, tokenizer = load_planner(model_path=base.path)
        hf_load = time.perf_counter() - started
        started = time.perf_counter()
        llm = llama_cpp.Llama(
            model_path=str(report.path), n_ctx=model.config.max_position_embeddings, n_batch=512,
            n_threads=args.threads, n_threads_batch=args.threads, verbose=False,
        )  # fmt: skip
        figures["load_seconds"] = {"hf": round(hf_load, 3), "llama_cpp": round(time.perf_counter() - started, 3)}
        try:
            fresh = rule_examples(
                vocabulary=vocabulary, count=args.prompts, seed=args.seed + 30_000, restricted_share=0
            )
            figures["roundtrip"] = compare(model=model, tokenizer=tokenizer, llm=llm, examples=fresh,
                                           max_new=MAX_NEW_TOKENS)  # fmt: skip
            restricted = rule_examples(
                vocabulary=vocabulary, count=args.prompts, seed=args.seed + 31_000, restricted_share=1.0
            )
            figures["constrained"] = compare_constrained(model=model, tokenizer=tokenizer, llm=llm,
                                                         examples=restricted, max_new=MAX_NEW_TOKENS)  # fmt: skip
        finally:
            llm.close()  # before interpreter shutdown, which would free the model after llama.cpp's library
        figures["threads"] = args.threads
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _print(figures)


def _print(f: dict) -> None:
    r, g = f["roundtrip"], f["gguf"]
    print()
    print(f"  GGUF {g['type']}: {g['tensors']} tensors, {g['bytes'] / 1e6:.2f} MB, written in {g['seconds']} s")
    print(f"  load: transformers {f['load_seconds']['hf']} s, llama.cpp {f['load_seconds']['llama_cpp']} s")
    print(f"  {r['prompts']} prompts: tokenized alike {r['same_tokenization']:.1%}; max next-token logit gap "
          f"{r['max_logit_gap']:.2e}")  # fmt: skip
    print(f"  transformers: valid plans {r['hf_valid']:.1%}")
    for mode in ("ids", "text"):
        m = r[mode]
        print(f"  llama.cpp given {mode:4s}: same tokens {m['same_tokens']:.1%}, same plan {m['same_plan']:.1%}, "
              f"valid plans {m['valid']:.1%}")  # fmt: skip
    for difference in r["tokenization_differences"]:
        print(f"    tokenization differs: {difference}")
    print(f"  probes tokenized differently: {r['probes_tokenized_differently']}")
    c = f["constrained"]
    print(f"  within the plan grammar, {c['prompts']} prompts offering a subset: same plan {c['same_plan']:.1%}, "
          f"valid: transformers {c['hf_valid']:.1%}, llama.cpp {c['llama_cpp_valid']:.1%}")  # fmt: skip
    print(f"  new tokens/s ({f['threads']} thread, prompt included): transformers {r['hf_new_tokens_per_s']:,}, "
          f"llama.cpp {r['llama_cpp_new_tokens_per_s']:,}")  # fmt: skip
    print(json.dumps(f))


if __name__ == "__main__":
    main()
