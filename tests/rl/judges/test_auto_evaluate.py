"""auto_evaluate_responses.py end to end: a live gunicorn, the script as a process, both judges.

Questions are asked of a real server over the seeded plant; the script runs
as the customer runs it (its own process, settings from the environment) and
its evaluations are read back from the API and the journal. The Claude judge
talks to the stand-in Messages API on loopback through the real SDK.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from filelock import FileLock

from auto_evaluate_responses import parse_since
from rl.judges.auto_evaluate import Budget, RunConfig
from rl.judges.claude import ClaudeJudge, ClaudeJudgeConfig
from rl.judges.evaluation import Verdict
from tests.rl.judges.messages_stand_in import SPEND_LIMIT, MessagesStandIn, evaluation_for, json_reply

ROOT = Path(__file__).resolve().parents[3]
RICH = ("evaluation_confidence", "evaluation_reasoning", "query_understanding", "per_widget_feedback")
QUESTIONS = [
    "Show chiller 1 power",
    "compare chillers 1 and 2 power over the last 24 hours",
    "top 2 pumps by motor temperature",
    "how much energy did meter 1 use yesterday",
]


def run_script(server, plant_conninfo: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the script to completion as cron would, against ``server`` and the plant it serves."""
    process = start_script(server, plant_conninfo, tmp_path, *args, **env)
    stdout, stderr = process.communicate(timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def start_script(server, plant_conninfo: str, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "command_center.settings",
        "CC_STATE_DIR": str(tmp_path / "judge-state"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'judge.sqlite3'}",
        "TIMESERIES_DATABASE_URL": plant_conninfo,  # the offline judge reads the plant the server serves
        "COMMAND_CENTER_URL": server.base_url,
        # The judge's own account: the server records its evaluations as judge:<account>.
        "COMMAND_CENTER_TOKEN": server.create_user("claude" if env.get("ANTHROPIC_API_KEY") else "offline", "--judge"),
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_BASE_URL": "",
        **env,
    }
    command = [
        sys.executable,
        str(ROOT / "auto_evaluate_responses.py"),
        "--json",
        "--lock-file",
        str(tmp_path / "run.lock"),
    ]
    return subprocess.Popen(
        [*command, *args], env=environment, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def summary_of(stdout: str) -> dict:
    """The --json line a finished run prints last."""
    return json.loads(stdout.strip().splitlines()[-1])


def ask_all(server, questions: list[str]) -> list[dict]:
    answers = [server.request("POST", "/api/layer2/orchestrate/", {"transcript": q}) for q in questions]
    assert all(status == 200 for status, _, _ in answers)
    return [body for _, body, _ in answers]


def evaluated(server) -> dict[str, dict]:
    status, body, _ = server.request("GET", "/api/layer2/experiences/?has_evaluation=true&limit=1000")
    assert status == 200
    return {e["query_id"]: e for e in body["experiences"]}


def buffer_status(server) -> dict:
    return server.request("GET", "/api/layer2/rl-status/")[1]["buffer"]


def judge_lines_per_experience(server) -> Counter:
    lines = [json.loads(line) for line in (server.state_dir / "experiences.jsonl").read_text().splitlines()]
    return Counter(
        r["query_id"] for r in lines if r["op"] == "feedback" and r["feedback"]["source"].startswith("judge:")
    )


@pytest.mark.slow
def test_the_offline_judge_evaluates_every_answer_once_keeping_an_operator_thumb(
    gunicorn_server, plant_conninfo, tmp_path
):
    server = gunicorn_server(workers=2)
    answers = ask_all(server, QUESTIONS)
    thumbed = answers[0]["query_id"]
    assert server.request("POST", "/api/layer2/feedback/", {"query_id": thumbed, "rating": "down"})[0] == 200

    dry = run_script(server, plant_conninfo, tmp_path, "--dry-run")  # with the progress bar, as a person runs it
    assert dry.returncode == 0, dry.stderr
    planned = summary_of(dry.stdout)
    assert (planned["evaluated"], planned["posted"], planned["skipped"]) == (4, 0, {})
    assert "nothing posted (dry run)" in dry.stdout and "100%" in dry.stderr
    assert buffer_status(server)["with_evaluation"] == 0

    with FileLock(str(tmp_path / "run.lock")):  # a run still going: the next one must leave everything alone
        busy = run_script(server, plant_conninfo, tmp_path, "--no-progress")
    assert busy.returncode == 0 and "another evaluation run holds" in busy.stdout
    refused = run_script(server, plant_conninfo, tmp_path, "--no-progress", "--token", "not-a-token")
    assert refused.returncode == 1 and "refused the token" in refused.stderr
    not_a_judge = run_script(server, plant_conninfo, tmp_path, "--no-progress", "--token", server.token)
    assert not_a_judge.returncode == 1 and "create_api_user offline --judge" in not_a_judge.stderr
    assert "'tester'" in not_a_judge.stderr and "recorded as 'operator'" in not_a_judge.stderr

    result = run_script(server, plant_conninfo, tmp_path, "--no-progress", "--judge", "offline")
    assert result.returncode == 0, result.stderr
    summary = summary_of(result.stdout)
    assert summary["judge"] == "judge:offline"
    assert (summary["candidates"], summary["evaluated"], summary["posted"], summary["skipped"]) == (4, 4, 4, {})
    assert summary["operator_rating_kept"] == 1 and summary["cost_usd"] == 0
    assert "judge:offline: 4 answers without an evaluation; evaluated 4, posted 4" in result.stdout

    judged = evaluated(server)
    assert set(judged) == {a["query_id"] for a in answers}
    for answer in answers:
        feedback = judged[answer["query_id"]]["feedback"]
        assert all(feedback[name] not in (None, "", []) for name in RICH), feedback
        assert [w["widget_type"] for w in feedback["per_widget_feedback"]] == [w["type"] for w in answer["widgets"]]
        assert isinstance(feedback["missing_widgets"], list) and isinstance(feedback["suggested_improvements"], list)
        if answer["query_id"] == thumbed:
            assert (feedback["rating"], feedback["source"]) == ("down", "operator")  # the operator's thumb stands
        else:
            assert (feedback["rating"], feedback["source"]) == ("up", "judge:offline")
    status = buffer_status(server)
    assert status["with_evaluation"] == 4 and status["evaluations_by_source"] == {"judge:offline": 4}

    again = run_script(server, plant_conninfo, tmp_path, "--no-progress")
    assert again.returncode == 0
    assert (summary_of(again.stdout)["candidates"], summary_of(again.stdout)["posted"]) == (0, 0)
    assert judge_lines_per_experience(server) == Counter({a["query_id"]: 1 for a in answers})


@pytest.mark.slow
def test_the_claude_judge_posts_every_field_and_keeps_to_its_token_budget(gunicorn_server, plant_conninfo, tmp_path):
    server = gunicorn_server(workers=2)
    answers = ask_all(server, ["Show chiller 1 power"] * 3)
    types = [w["type"] for w in answers[0]["widgets"]]
    assert all([w["type"] for w in a["widgets"]] == types for a in answers)
    expected = evaluation_for(types, rating="down")

    with MessagesStandIn() as api:
        api.script(json_reply(expected, input_tokens=1200, output_tokens=300))
        claude = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.base_url}
        first = run_script(server, plant_conninfo, tmp_path, "--no-progress", "--concurrency", "1",
                           "--max-tokens-budget", "1000", **claude)  # fmt: skip
        # Two cron runs at once: between the lock and the has_evaluation filter, each answer is judged once.
        overlapping = [start_script(server, plant_conninfo, tmp_path, "--no-progress", **claude) for _ in range(2)]
        outputs = [p.communicate(timeout=180) for p in overlapping]
        requests = list(api.received)

    assert first.returncode == 0, first.stderr
    summary = summary_of(first.stdout)
    assert summary["judge"] == "judge:claude"  # --judge auto, with a key
    assert (summary["evaluated"], summary["posted"]) == (1, 1)
    assert summary["skipped"] == {"token budget spent (1500 of 1000)": 2}
    assert (summary["input_tokens"], summary["output_tokens"]) == (1200, 300)
    assert summary["cost_usd"] == pytest.approx((1200 * 3 + 300 * 15) / 1e6)
    assert [p.returncode for p in overlapping] == [0, 0], outputs
    ran = [summary_of(out) for out, _ in outputs if "another evaluation run holds" not in out]
    assert sum(s["posted"] for s in ran) == 2 and sum(s["evaluated"] for s in ran) == 2

    assert len(requests) == 3 and {r.body["model"] for r in requests} == {"claude-sonnet-5-5"}
    judged = evaluated(server)
    assert len(judged) == 3
    # Stored as posted; a verdict that says no size direction is kept with a null one (the record's field).
    stored = {
        **expected,
        "per_widget_feedback": [{"size_direction": None, **w} for w in expected["per_widget_feedback"]],
    }
    for experience in judged.values():
        feedback = experience["feedback"]
        assert feedback["source"] == "judge:claude"
        assert {k: feedback[k] for k in stored} == stored
    assert buffer_status(server)["evaluations_by_source"] == {"judge:claude": 3}
    assert judge_lines_per_experience(server) == Counter({a["query_id"]: 1 for a in answers})


@pytest.mark.slow
def test_a_spend_limit_stops_the_run_with_a_clear_message_and_posts_nothing(gunicorn_server, plant_conninfo, tmp_path):
    server = gunicorn_server(workers=1)
    ask_all(server, QUESTIONS[:3])
    with MessagesStandIn() as api:
        api.script(SPEND_LIMIT)
        claude = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.base_url}
        args = ("--no-progress", "--judge", "claude", "--concurrency", "1")
        result = run_script(server, plant_conninfo, tmp_path, *args, **claude)
        calls = len(api.received)

    assert result.returncode == 2, result.stderr
    assert calls == 1  # not retried, and no further experience tried
    assert "stopped: Anthropic refused for spend or billing (429 enforced_spend_limit_reached" in result.stdout
    summary = summary_of(result.stdout)
    assert summary["posted"] == 0 and summary["skipped"] == {"not judged: the run stopped": 3}
    assert buffer_status(server)["with_evaluation"] == 0


def test_asking_for_claude_without_a_key_is_refused_before_anything_runs(tmp_path):
    environment = {**os.environ, "ANTHROPIC_API_KEY": "", "CC_STATE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "auto_evaluate_responses.py"), "--judge", "claude", "--token", "t"],
        env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "set ANTHROPIC_API_KEY (or use the offline judge)" in result.stderr


def test_since_reads_relative_spans_and_iso_times_in_utc():
    before = datetime.now(UTC)
    assert (
        before - timedelta(hours=24, seconds=5)
        < parse_since("24h")
        <= before - timedelta(hours=24) + timedelta(seconds=5)
    )
    assert parse_since("2026-03-01T08:00") == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert parse_since("2026-03-01T08:00+02:00") == datetime(2026, 3, 1, 6, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError, match="not a time: 'yesterday'"):
        parse_since("yesterday")


def test_run_config_is_validated():
    with pytest.raises(ValueError, match="token is empty"):
        RunConfig(token="")
    with pytest.raises(ValueError, match=r"concurrency must be in 1\.\.64, got 0"):
        RunConfig(token="t", concurrency=0)
    with pytest.raises(ValueError, match="since must be timezone-aware"):
        RunConfig(token="t", since=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="api_url must be an http"):
        RunConfig(token="t", api_url="localhost:8000")


def test_the_budget_counts_tokens_and_dollars_across_calls():
    judge = ClaudeJudge(ClaudeJudgeConfig(api_key="k"))
    budget = Budget(judge, max_tokens=None, max_cost_usd=0.02)
    budget.spend(Verdict(None, "x", input_tokens=2000, output_tokens=500))  # $0.0135
    assert budget.exhausted() is None
    budget.spend(Verdict(None, "x", input_tokens=2000, output_tokens=500))
    assert budget.exhausted() == "cost budget spent ($0.0270 of $0.0200)"
    assert Budget(judge, max_tokens=5000, max_cost_usd=None).exhausted() is None
