"""Config dataclasses: every field has a one-line help, errors name the bad value, and options come from fields.

``command_center/config_options.py`` turns a config dataclass into a command's options and back; the
config classes themselves are found by reading the project's source, so a new one is checked too.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management.base import CommandError, CommandParser

from command_center.config_options import add_config_options, config_from_options
from layer2.planning.planner_model import PlannerModelConfig
from layer2.understanding.llm_resolver import ResolverConfig
from rl.judges.auto_evaluate import RunConfig
from rl.judges.claude import ClaudeJudgeConfig
from rl.simulation.data_provider import ProviderConfig
from rl.simulation.diagnostics import ProviderCheckOptions
from rl.tier1.scorer import Tier1Config
from rl.tier1.service import ServiceConfig
from rl.tier2.bootstrap import BootstrapConfig
from rl.tier2.dpo import Tier2Config

ROOT = Path(__file__).resolve().parents[2]
APPS = ("command_center", "industrial", "layer2", "rl")


def config_classes() -> list[type]:
    """Every ``@dataclass`` named ``*Config`` or ``*Options`` in the apps' source."""
    found = []
    for path in sorted(p for app in APPS for p in (ROOT / app).rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Config", "Options")) and _is_dataclass(node):
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                found.append(getattr(importlib.import_module(module), node.name))
    return found


def _is_dataclass(node: ast.ClassDef) -> bool:
    names = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
    return any(getattr(n, "id", getattr(n, "attr", None)) == "dataclass" for n in names)


def test_the_config_classes_are_found():
    assert set(config_classes()) == {
        Tier2Config,
        BootstrapConfig,
        PlannerModelConfig,
        Tier1Config,
        ServiceConfig,
        ProviderConfig,
        ProviderCheckOptions,
        ClaudeJudgeConfig,
        RunConfig,
        ResolverConfig,
    }


@pytest.mark.parametrize("config_class", config_classes(), ids=lambda c: c.__name__)
def test_every_config_field_has_a_one_line_help(config_class):
    for f in dataclasses.fields(config_class):
        help_text = f.metadata.get("help", "")
        assert help_text.strip(), f"{config_class.__name__}.{f.name} has no help"
        assert "\n" not in help_text, f"{config_class.__name__}.{f.name}: help is more than one line"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Tier2Config(epochs=0), "epochs must be positive, got 0"),
        (lambda: Tier2Config(learning_rate=-1e-3), "learning_rate must be positive, got -0.001"),
        (lambda: Tier2Config(batch_size=0), "batch_size must be at least 1, got 0"),
        (lambda: Tier2Config(lora_r=0), "lora_r must be at least 1, got 0"),
        (lambda: Tier2Config(device="gpu"), "device must be auto, cpu or cuda, got 'gpu'"),
        (lambda: BootstrapConfig(epochs=-1.0), "epochs must be positive, got -1.0"),
        (lambda: BootstrapConfig(batch_size=0), "batch_size must be at least 1, got 0"),
        (
            lambda: PlannerModelConfig(num_attention_heads=3),
            "hidden_size must divide by num_attention_heads (3), got 64",
        ),
        (lambda: PlannerModelConfig(num_attention_heads=0), "num_attention_heads must be at least 1, got 0"),
        (
            lambda: Tier1Config(min_temperature=0.5),
            "min_temperature must be more than 0 and at most temperature (0.15), got 0.5",
        ),
        (lambda: ServiceConfig(poll_seconds=0), "poll_seconds must be positive, got 0"),
        (lambda: ServiceConfig(checkpoint_seconds=-5.0), "checkpoint_seconds must be positive, got -5.0"),
        (lambda: ProviderCheckOptions(states=0), "states must be at least 1, got 0"),
        (lambda: ProviderConfig(trend_hours=(6, -1)), "trend_hours must be positive hours, got (6, -1)"),
    ],
)
def test_a_bad_config_value_is_named_with_the_value_not_the_whole_config(make, message):
    with pytest.raises(ValueError) as raised:
        make()
    assert str(raised.value) == message


# --------------------------------------------------------------------------- the helper


@dataclass(frozen=True)
class Nested:
    depth: int = 1


@dataclass(frozen=True)
class ToyConfig:
    name: str = field(metadata={"help": "What it is called."})
    mode: str = field(default="fast", metadata={"help": "How it runs.", "choices": ("fast", "slow")})
    rate: float | None = field(default=None, metadata={"help": "Steps a second; None: as fast as it goes."})
    share: float = field(default=0.5, metadata={"help": "A share, 50% by default."})
    verbose: bool = field(default=True, metadata={"help": "Say what it does."})
    nested: Nested = field(default_factory=Nested, metadata={"help": "Not an option."})

    def __post_init__(self) -> None:
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate must be positive, got {self.rate!r}")


def toy_parser(**kwargs) -> CommandParser:
    parser = CommandParser(called_from_command_line=False)  # what a management command's add_arguments gets
    add_config_options(parser, ToyConfig, exclude=("nested",), **kwargs)
    return parser


def test_options_are_built_back_into_the_config():
    options = vars(toy_parser().parse_args(["--name", "pump", "--mode", "slow", "--rate", "2.5", "--no-verbose"]))
    config = config_from_options(ToyConfig, options, exclude=("nested",), nested=Nested(3))
    assert config == ToyConfig(name="pump", mode="slow", rate=2.5, share=0.5, verbose=False, nested=Nested(3))
    defaults = config_from_options(ToyConfig, vars(toy_parser().parse_args(["--name", "pump"])), exclude=("nested",))
    assert defaults == ToyConfig(name="pump")


def test_a_default_can_come_from_elsewhere_and_an_option_can_keep_an_older_name():
    parser = toy_parser(defaults={"mode": "slow"}, aliases={"rate": ["--speed"]})
    assert parser.parse_args(["--name", "a"]).mode == "slow"
    assert (
        parser.parse_args(["--name", "a", "--speed", "4"]).rate
        == parser.parse_args(["--rate", "4", "--name", "a"]).rate
        == 4.0
    )
    assert "How it runs. (default: slow)" in " ".join(parser.format_help().split())


def test_help_shows_each_fields_help_default_and_choices():
    text = " ".join(toy_parser().format_help().split())
    assert "--name NAME What it is called." in text  # no default: required
    assert "--mode {fast,slow} How it runs. (default: fast)" in text
    assert "--rate RATE Steps a second; None: as fast as it goes. (default: None)" in text
    assert "A share, 50% by default. (default: 0.5)" in text
    assert "--verbose, --no-verbose Say what it does. (default: True)" in text
    assert "--nested" not in text


def test_a_bad_option_is_refused_by_the_parser_or_by_the_config():
    with pytest.raises(CommandError, match="the following arguments are required: --name"):
        toy_parser().parse_args([])
    with pytest.raises(CommandError, match="invalid choice: 'medium'"):
        toy_parser().parse_args(["--name", "a", "--mode", "medium"])
    with pytest.raises(CommandError, match="--rate: invalid float value: 'soon'"):
        toy_parser().parse_args(["--name", "a", "--rate", "soon"])
    options = vars(toy_parser().parse_args(["--name", "a", "--rate", "-1"]))
    with pytest.raises(ValueError, match=r"rate must be positive, got -1\.0"):
        config_from_options(ToyConfig, options, exclude=("nested",))


def test_a_field_with_no_option_type_must_be_excluded():
    with pytest.raises(TypeError, match=r"ToyConfig\.nested: no option .*; exclude it"):
        add_config_options(CommandParser(called_from_command_line=False), ToyConfig)
    with pytest.raises(TypeError, match=r"ProviderConfig\.trend_hours"):
        add_config_options(CommandParser(called_from_command_line=False), ProviderConfig)
