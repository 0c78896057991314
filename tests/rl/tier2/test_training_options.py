"""``train_dpo``, ``train_from_live_feedback`` and ``bootstrap_planner`` take their options from the configs' fields.

No training runs here: a bad value stops a command before any data is read, and a good command line
is read by the command's own parser into the config it trains with.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from layer2.planning.planner_model import PlannerModelConfig
from rl.tier2.bootstrap import BootstrapConfig
from rl.tier2.dpo import Tier2Config

ROOT = Path(__file__).resolve().parents[3]


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def help_text(command: str) -> str:
    """``manage.py COMMAND --help`` as one line of single-spaced words (argparse wraps at the terminal width)."""
    parser = load_command_class("rl", command).create_parser("manage.py", command)
    return " ".join(parser.format_help().split())


def test_train_dpo_help_lists_every_tier2_config_field_with_its_help(settings):
    env = {**os.environ, "COLUMNS": "1000"}  # one line per option, so each help reads whole
    shown = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "train_dpo", "--help"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for f in dataclasses.fields(Tier2Config):
        default = settings.TIER2_DEVICE if f.name == "device" else f.default
        assert f"{f.metadata['help']} (default: {default})" in shown, f.name
        assert f"  {option(f.name)} " in shown, f.name
    assert "--method {auto,dpo,kto}" in shown and "--device {auto,cpu,cuda}" in shown
    for kept in ("--min-pairs", "--approved-by", "--run-id", "--no-progress"):
        assert f"  {kept} " in shown


def test_train_from_live_feedback_has_the_same_options_and_dry_run():
    text = help_text("train_from_live_feedback")
    for f in dataclasses.fields(Tier2Config):
        assert f"{option(f.name)} " in text and f.metadata["help"] in text, f.name
    assert "--dry-run Print the pairs by source and stop." in text


def parsed(command: str, *args: str) -> tuple[object, dict]:
    """The command and its options as Django's own parser reads ``args``."""
    instance = load_command_class("rl", command)
    return instance, vars(instance.create_parser("manage.py", command).parse_args(args))


def test_train_dpo_options_reach_the_config(settings):
    args = ["--lora-alpha", "32", "--lora-dropout", "0.1", "--sft-weight", "0", "--max-length", "128", "--seed", "7"]
    command, options = parsed("train_dpo", *args, "--method", "kto", "--learning-rate", "0.01", "--min-pairs", "10")
    assert command.tier2_config(options) == dataclasses.replace(
        Tier2Config(),
        method="kto",
        learning_rate=0.01,
        sft_weight=0.0,
        lora_alpha=32,
        lora_dropout=0.1,
        max_length=128,
        seed=7,
        device=settings.TIER2_DEVICE,
    )
    assert options["min_pairs"] == 10 and options["no_progress"] is False


def test_train_dpo_defaults_are_tier2_configs_but_the_device_from_settings(settings):
    settings.TIER2_DEVICE = "cpu"
    command, options = parsed("train_dpo", "--no-progress")
    assert command.tier2_config(options) == dataclasses.replace(Tier2Config(), device="cpu")
    assert options["no_progress"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], r"^epochs must be positive, got 0\.0$"),
        (["--lora-r", "0"], r"^lora_r must be at least 1, got 0$"),
        (["--beta", "-0.5"], r"^beta must be positive, got -0\.5$"),
        (["--sft-weight", "-1"], r"^sft_weight must be zero or more, got -1\.0$"),
        (["--method", "sgd"], r"argument --method: invalid choice: 'sgd'"),
        (["--batch-size", "many"], r"argument --batch-size: invalid int value: 'many'"),
    ],
)
def test_a_bad_train_dpo_option_names_the_field_and_shows_the_value(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("train_dpo", *args)


def test_bootstrap_planner_options_keep_their_old_names_and_cover_both_configs():
    text = help_text("bootstrap_planner")
    for config_class, left_out in ((BootstrapConfig, {"model"}), (PlannerModelConfig, {"intermediate_size"})):
        for f in dataclasses.fields(config_class):
            assert (f"{option(f.name)} " in text) is (f.name not in left_out), f.name
            assert f.name in left_out or f"{f.metadata['help']} (default: {f.default})" in text, f.name
    for kept in ("--out", "--force", "--layers", "--heads", "--no-progress"):
        assert f"{kept} " in text


def test_a_bad_bootstrap_option_names_the_field_and_shows_the_value(tmp_path):
    out = ["--out", str(tmp_path / "model")]
    with pytest.raises(CommandError, match=r"^hidden_size must divide by num_attention_heads \(3\), got 64$"):
        call_command("bootstrap_planner", *out, "--heads", "3")
    with pytest.raises(CommandError, match=r"^examples must be at least 10, got 5$"):
        call_command("bootstrap_planner", *out, "--examples", "5", "--layers", "1")
    assert not (tmp_path / "model").exists()
