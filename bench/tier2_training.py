"""Does Tier 2 make the planner model better? Simulated feedback → preference pairs → LoRA DPO → gate.

    python bench/tier2_training.py                    # CPU: bootstrap, 2,500 simulated answers, DPO, before/after
    python bench/tier2_training.py --quick            # a smaller run (a minute or two)
    python bench/tier2_training.py --device cuda --planner-size large --scale-pairs 340,7546   # on a GPU
    python bench/tier2_training.py --situation-pairs 300   # add 300 pairs from situations in the plant's data
    python bench/tier2_training.py --seeds 3          # train, gate and measure at training seeds 0, 1, 2

Steps, all through the project's own code: seed a scratch plant; build and
teach a planner model (``bootstrap_planner``'s service function); answer
simulated operators' questions (``rl/simulation/operators.py``) with the exploring
Tier 1 ranker and record their feedback through ``record_feedback``; build
preference pairs (``rl/tier2/preference_data.py``); train and gate a LoRA adapter
(``rl/tier2/training.py``). Reported: pairs by source, training time and
tokens/s, held-out preference accuracy (by source) and reward margin before
and after, the gate's plan quality on the held-out questions (offline judge
and the simulated operators' hidden utility, constrained plans), and the
simulated-operator reward of the plans the planner model serves for fresh
questions before and after (constrained, as served) with the valid-JSON rate
the same model would have unconstrained (the training's health figure).
``--widget-pairs`` adds the ``judge_widget`` source (one widget changed,
ordered by the judge's mean scores for the prompt). ``--seeds N`` repeats
training, gate and measures at training seeds 0..N-1 over the same history
and reports each figure's mean and spread. ``--scale-pairs`` times
DPO alone on that many pairs (sampled with replacement from the simulated
ones). ``--situation-pairs N`` adds N pairs drawn from situations in the
scratch plant's data (``rl/simulation/situation_pairs.py``) as a third
source, ``situation``, split by the same prompt rule, with the asker's role
drawn into each prompt as the bench serves (``--situation-roles-unknown``:
``ROLE: -``); it also reports how many of them the simulated operators'
hidden utility agrees with. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="cc-tier2-bench-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP / 'default.sqlite3'}")

from common import machine, seed_scratch_plant, setup_django  # noqa: E402

PLANNER_SIZES = {  # PlannerModelConfig overrides
    "small": {},
    "large": {
        "hidden_size": 256,
        "intermediate_size": 768,
        "num_hidden_layers": 4,
        "num_attention_heads": 8,
        "vocab_size": 2048,
    },
}


def simulate(orchestrator, vocabulary, count: int, seed: int, people_seed: int) -> list[float]:
    """Answer ``count`` simulated questions and record each asker's feedback; returns the plan rewards."""
    from rl.experiences.reward import plan_reward
    from rl.simulation.operators import QuestionBank, SimulatedOperators, ask_and_rate

    bank, people, rewards = QuestionBank(vocabulary, seed), SimulatedOperators(people_seed), []
    for _ in range(count):
        _, feedback, _ = ask_and_rate(orchestrator=orchestrator, people=people, question=bank.draw())
        rewards.append(plan_reward(feedback))
    return rewards


def planner_on_fresh_questions(access, vocabulary, model_path, adapter, count: int, seed: int) -> dict:
    """Simulated reward of the plans the planner model serves (constrained), and the share of valid plans it writes
    unconstrained (an invalid one falls back to the rules)."""
    from layer2.orchestrator import Orchestrator
    from layer2.planning.llm_planner import LLMPlanner
    from rl.experiences.buffer import ExperienceBuffer

    figures = {}
    for constrained in (True, False):
        buffer = ExperienceBuffer(Path(tempfile.mkdtemp(dir=_TMP)) / "fresh.jsonl")
        planner = LLMPlanner(model_path, adapter, constrained=constrained)
        rewards = simulate(Orchestrator(access, buffer, backend=planner), vocabulary, count, seed, people_seed=seed)
        served = [e for e in buffer.iter_all() if e.candidates]
        valid = round(sum(e.planner.startswith("llm") for e in served) / len(served), 4)
        if constrained:
            figures.update(reward=round(statistics.fmean(rewards), 4), valid_json_rate=valid)
        else:
            figures.update(
                unconstrained_valid_json_rate=valid, unconstrained_reward=round(statistics.fmean(rewards), 4)
            )
    return figures


def simulated_operators_scorer():
    """The gate's second plan scorer here: the simulated askers' noise-free hidden utility of a plan."""
    from types import SimpleNamespace

    from rl.simulation.operators import Question, SimulatedOperators
    from rl.tier2.plan_quality import PlanScorer

    people = SimulatedOperators(0)

    def score(experience, items) -> float:
        intent = SimpleNamespace(**experience.intent)
        answer = SimpleNamespace(intent=intent, widgets=items)
        return people.quality(Question(experience.transcript, experience.user_role or "operator"), answer)

    return PlanScorer("simulated_operators", score)


def situation_figures(pairs, vocabulary) -> dict:
    """Situation pairs by kind, and the share the simulated askers' hidden utility agrees with.

    A pair agrees for a role when that role's plan quality (``SimulatedOperators.quality``) is higher for the
    chosen plan than for the rejected one; a pair with no role is counted once for each role.
    """
    from types import SimpleNamespace

    from industrial.plant.spec import READING_INTERVAL
    from layer2.planning.plan_prompt import parse_plan
    from layer2.understanding.intent import parse_intent
    from layer2.understanding.roles import ROLES
    from rl.simulation.operators import Question, SimulatedOperators

    people, agree, judged = SimulatedOperators(0), Counter(), Counter()
    for p in pairs:
        intent = parse_intent(transcript=p.transcript, vocabulary=vocabulary, now=p.at + READING_INTERVAL).intent
        plans = [SimpleNamespace(intent=intent, widgets=parse_plan(plan, p.offered)) for plan in (p.chosen, p.rejected)]
        for role in (p.role,) if p.role else ROLES:
            chosen, rejected = (people.quality(Question(p.transcript, role), plan) for plan in plans)
            judged[p.situation] += 1
            agree[p.situation] += chosen > rejected
    return {
        "drawn": len(pairs),
        "by_kind": dict(sorted(Counter(p.situation for p in pairs).items())),
        "roles_in_prompts": sorted({p.role or "-" for p in pairs}),
        "hidden_utility_agrees": round(sum(agree.values()) / max(sum(judged.values()), 1), 4),
        "hidden_utility_agrees_by_kind": {k: round(agree[k] / judged[k], 4) for k in sorted(judged)},
    }


def scale_timings(model_path, data, config, counts: list[int]) -> dict:
    """DPO wall time and tokens/s on ``counts`` pairs (drawn with replacement from ``data``)."""
    import random

    from rl.tier2.dpo import train_adapter
    from rl.tier2.preference_data import PreferenceData

    rng, figures = random.Random(0), {}
    for n in counts:
        pairs = [rng.choice(data.train) for _ in range(n)]
        out = Path(tempfile.mkdtemp(dir=_TMP))
        result = train_adapter(
            model_path=model_path, data=PreferenceData(train=pairs), out=out, config=replace(config, method="dpo")
        )
        figures[str(n)] = {
            "seconds": result.seconds,
            "steps": result.steps,
            "tokens_per_s": round(result.tokens / result.seconds),
        }
        print(
            f"  DPO on {n} pairs: {result.seconds:.1f} s, {result.tokens / result.seconds:,.0f} tokens/s",
            file=sys.stderr,
            flush=True,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=2500, help="Simulated answers rated (default 2500).")
    parser.add_argument("--fresh", type=int, default=400, help="Fresh questions for before/after (default 400).")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="Training device.")
    parser.add_argument("--planner-size", default="small", choices=sorted(PLANNER_SIZES), help="Planner config.")
    parser.add_argument("--epochs", type=float, default=None, help="DPO epochs (default: Tier2Config's).")
    parser.add_argument("--seed", type=int, default=0, help="First training seed (Tier2Config.seed; default 0).")
    parser.add_argument("--seeds", type=int, default=1, help="Training seeds to run from --seed on (default 1).")
    parser.add_argument("--scale-pairs", default="", help="Comma-separated pair counts to time DPO on, e.g. 340,7546.")
    parser.add_argument("--quick", action="store_true", help="600 answers, 150 fresh questions, 3,000 examples.")
    parser.add_argument(
        "--situation-pairs", type=int, default=0, help="Pairs from situations in the plant's data to add (default 0)."
    )
    parser.add_argument(
        "--widget-pairs", action="store_true", help="Add judge_widget pairs (one widget changed; default off)."
    )
    parser.add_argument(
        "--situation-roles-unknown", action="store_true", help="Situation prompts say ROLE: - (default: a role)."
    )
    args = parser.parse_args()
    if args.quick:
        args.interactions, args.fresh = 600, 150

    setup_django()
    from django.core.management import call_command

    from industrial.database.connection import drop_database
    from industrial.plant.spec import EQUIPMENT_TYPES
    from industrial.timeseries.access import TimeSeriesDataAccess
    from layer2.orchestrator import Orchestrator
    from layer2.planning.planner_model import PlannerModelConfig
    from layer2.understanding.intent import PlantVocabulary
    from layer2.understanding.roles import ROLES
    from rl.experiences.buffer import ExperienceBuffer
    from rl.simulation.data_provider import RLTimeSeriesDataProvider
    from rl.simulation.situation_pairs import situation_pairs
    from rl.tier1.scorer import Tier1Learner, Tier1Ranker
    from rl.tier2.adapters import AdapterRegistry
    from rl.tier2.bootstrap import BootstrapConfig, bootstrap_planner
    from rl.tier2.dpo import Tier2Config
    from rl.tier2.plan_quality import held_out_questions, offline_judge_scorer
    from rl.tier2.preference_data import data_from_buffer, situation_preference_pairs, with_pairs
    from rl.tier2.training import run_training

    call_command("migrate", verbosity=0)
    name = "plant_bench_tier2"
    seeded = seed_scratch_plant(
        name=name,
        days=2,
        counts={t.name: 3 for t in EQUIPMENT_TYPES},
        seed=7,
        end=datetime(2026, 3, 4, 14, 30, tzinfo=UTC),
    )
    access = TimeSeriesDataAccess(seeded["conninfo"], max_size=2)
    figures: dict[str, object] = {"machine": machine(), "date": datetime.now(UTC).date().isoformat()}
    try:
        vocabulary = PlantVocabulary.from_catalog(access.catalog)
        started = time.perf_counter()
        boot_config = BootstrapConfig(
            **({"examples": 3000} if args.quick else {}),
            device=args.device,
            model=PlannerModelConfig(**PLANNER_SIZES[args.planner_size]),
        )
        base = bootstrap_planner(
            vocabulary=vocabulary, out=_TMP / "planner" / "base", config=boot_config, progress=False
        )
        figures["bootstrap"] = {
            "seconds": base.seconds,
            "parameters": base.parameters,
            "valid_json_rate": base.valid_json_rate,
            "rule_agreement": base.rule_agreement,
            "restricted_valid_json_rate": base.restricted_valid_json_rate,
        }
        print(
            f"bootstrap: {base.parameters:,} parameters in {base.seconds:.0f} s, valid JSON "
            f"{base.valid_json_rate:.1%}, same as rules {base.rule_agreement:.1%}",
            file=sys.stderr,
            flush=True,
        )

        buffer = ExperienceBuffer(_TMP / "experiences.jsonl")
        history = Orchestrator(access, buffer, ranker=Tier1Ranker(Tier1Learner(), explore=True))
        simulate(history, vocabulary, args.interactions, seed=1, people_seed=1)
        data = data_from_buffer(buffer, with_widget_pairs=args.widget_pairs)
        if args.situation_pairs:
            drawn = situation_pairs(
                provider=RLTimeSeriesDataProvider(access, seed=1),
                n=args.situation_pairs,
                roles=None if args.situation_roles_unknown else ROLES,
            )
            data = with_pairs(data, situation_preference_pairs(drawn))
            figures["situation"] = situation_figures(drawn, vocabulary)
            print(f"situation pairs: {figures['situation']}", file=sys.stderr, flush=True)
        figures["data"] = data.counts()
        figures["held_out_by_source"] = dict(sorted(Counter(p.source for p in data.held_out).items()))
        print(f"history: {args.interactions} rated answers -> {data.counts()}", file=sys.stderr, flush=True)

        before = planner_on_fresh_questions(access, vocabulary, base.path, None, args.fresh, seed=99)
        questions = held_out_questions(data=data, buffer=buffer)
        scorers = [offline_judge_scorer(), simulated_operators_scorer()]
        runs = []
        for seed in range(args.seed, args.seed + args.seeds):
            config = Tier2Config(device=args.device, seed=seed, **({"epochs": args.epochs} if args.epochs else {}))
            registry = AdapterRegistry(_TMP / f"planner-{seed}")  # the base model serves alone in each
            record = run_training(data=data, registry=registry, model_path=base.path, config=config,
                                  questions=questions, scorers=scorers)  # fmt: skip
            after = planner_on_fresh_questions(
                access, vocabulary, base.path, registry.path(record.version), args.fresh, seed=99
            )
            runs.append(run_figures(seed, record, before, after, args.fresh))
            print(f"seed {seed}: {record.decision}", file=sys.stderr, flush=True)
            if args.scale_pairs and seed == args.seed:
                counts = [int(n) for n in args.scale_pairs.split(",")]
                figures["scale"] = scale_timings(base.path, data, config, counts)
        figures["runs"] = runs
        figures["summary"] = spread(runs)
        figures["gate"] = {"promoted": [r["gate"]["promoted"] for r in runs],
                           "same_on_every_seed": len({r["gate"]["promoted"] for r in runs}) == 1}  # fmt: skip
        figures["total_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        access.close()
        drop_database(name)
        shutil.rmtree(_TMP, ignore_errors=True)  # models, adapters and journals of this run
    _print(figures)


def run_figures(seed: int, record, before: dict, after: dict, fresh: int) -> dict:
    """One seed's figures: training, held-out (the gate's, both models), fresh questions, the decision."""
    return {
        "seed": seed,
        "training": {
            "method": record.method,
            "seconds": record.training_seconds,
            **record.extra,
            "tokens_per_s": round(record.extra["tokens"] / record.training_seconds),
        },
        # The gate evaluated both on the held-out pairs and questions: the base model serves alone in a fresh registry.
        "held_out": {"before": record.metrics["incumbent"], "after": record.metrics["candidate"]},
        "fresh_questions": {"before": before, "after": after, "count": fresh},
        "gate": {"promoted": record.promoted, "decision": record.decision},
    }


def spread(runs: list[dict]) -> dict:
    """Mean, standard deviation, min and max over the runs of every number in their figures (not the seed)."""

    def leaves(figures: dict, prefix: str = ""):
        for key, value in figures.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            elif isinstance(value, int | float) and not isinstance(value, bool) and key != "seed":
                yield f"{prefix}{key}", float(value)

    values: dict[str, list[float]] = {}
    for run in runs:
        for name, value in leaves(run):
            values.setdefault(name, []).append(value)
    return {
        name: {
            "mean": round(statistics.fmean(v), 4),
            "sd": round(statistics.stdev(v), 4) if len(v) > 1 else 0.0,
            "min": round(min(v), 4),
            "max": round(max(v), 4),
        }
        for name, v in values.items()
    }


def _print(f: dict) -> None:
    print()
    print(f"  pairs by source: {f['data']}; held out: {f['held_out_by_source']}")
    if "situation" in f:
        print(f"  situation pairs: {f['situation']}")
    for run in f["runs"]:
        t = run["training"]
        print(f"  seed {run['seed']}: {t['method'].upper()} {t['seconds']:.1f} s, {t['steps']} steps, "
              f"{t['tokens_per_s']:,} tokens/s")  # fmt: skip
        for when in ("before", "after"):
            h, q = run["held_out"][when], run["fresh_questions"][when]
            print(
                f"    {when:6s}: held-out preference accuracy {h['preference_accuracy']:.3f} "
                f"({', '.join(f'{s} {a:.3f}' for s, a in h['accuracy_by_source'].items())}), reward margin "
                f"{h['reward_margin']:+.4f}, plan quality "
                f"{', '.join(f'{s} {v:+.3f}' for s, v in h['plan_quality'].items())}; fresh questions: simulated "
                f"reward {q['reward']:+.3f} (valid {q['valid_json_rate']:.1%}; unconstrained valid "
                f"{q['unconstrained_valid_json_rate']:.1%})"
            )
        print(f"    gate: {run['gate']['decision']}")
    if len(f["runs"]) > 1:
        for name in ("held_out.after.preference_accuracy", "held_out.after.accuracy_by_source.ratings",
                     "held_out.after.accuracy_by_source.judge_repair", "held_out.after.plan_quality.offline_judge",
                     "held_out.after.plan_quality.simulated_operators", "fresh_questions.after.reward",
                     "fresh_questions.after.unconstrained_valid_json_rate"):  # fmt: skip
            if name in f["summary"]:
                m = f["summary"][name]
                print(f"  {name}: mean {m['mean']:.4f} ± {m['sd']:.4f} (min {m['min']:.4f}, max {m['max']:.4f})")
    print(f"  gate promoted on each seed: {f['gate']['promoted']}")
    print(json.dumps(f))


if __name__ == "__main__":
    main()
