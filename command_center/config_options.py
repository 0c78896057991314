"""Command-line options generated from a config dataclass's fields, and the config built back from them.

TRL's ``HfArgumentParser`` does this, but it is its own ``ArgumentParser`` and cannot be handed the
``CommandParser`` Django gives a management command's ``add_arguments``; these few lines can::

    def add_arguments(self, parser):
        add_config_options(parser, Tier2Config, defaults={"device": settings.TIER2_DEVICE})

    def handle(self, *args, **options):
        config = config_from_options(Tier2Config, options)

Each field becomes ``--field-name`` (``dest`` the field's name) with ``type`` from its annotation
(``X | None`` as ``X``; ``bool`` as ``--flag/--no-flag``), ``choices`` from ``metadata["choices"]`` and
``help`` from ``metadata["help"]`` plus the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

C = TypeVar("C")


def add_config_options(
    parser: argparse.ArgumentParser,
    config_class: type,
    *,
    exclude: Collection[str] = (),
    defaults: Mapping[str, Any] | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Add one ``--field-name`` option per field of ``config_class`` not in ``exclude``.

    ``defaults`` replace a field's own default (``device`` from a setting, say); ``aliases`` give a field
    older option strings that keep working (``{"num_hidden_layers": ["--layers"]}``).
    """
    defaults, aliases = defaults or {}, aliases or {}
    hints = typing.get_type_hints(config_class)  # resolves ``from __future__ import annotations`` strings
    for f in dataclasses.fields(config_class):
        if f.name in exclude:
            continue
        kind = _option_type(config_class, f.name, hints[f.name])
        option: dict[str, Any] = {"dest": f.name, "help": f.metadata["help"]}
        if f.name in defaults:
            option["default"] = defaults[f.name]
        elif f.default is not dataclasses.MISSING:
            option["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            option["default"] = f.default_factory()
        else:
            option["required"] = True
        if "default" in option:
            option["help"] += f" (default: {option['default']})"
        option["help"] = option["help"].replace("%", "%%")  # argparse formats help with %
        if kind is bool:
            option["action"] = argparse.BooleanOptionalAction
        else:
            option["type"] = kind
        if "choices" in f.metadata:
            option["choices"] = f.metadata["choices"]
        parser.add_argument("--" + f.name.replace("_", "-"), *aliases.get(f.name, ()), **option)


def config_from_options(
    config_class: type[C], options: Mapping[str, Any], /, *, exclude: Collection[str] = (), **values: Any
) -> C:
    """``config_class`` built from parsed ``options`` (Django's ``**options``, or ``vars(namespace)``).

    Fields in ``exclude`` (those ``add_config_options`` was told to leave out) take ``values`` or their
    default; ``values`` also override parsed options. Validation is the config's own ``__post_init__``.
    """
    parsed = {f.name: options[f.name] for f in dataclasses.fields(config_class) if f.name not in exclude}
    return config_class(**{**parsed, **values})


def _option_type(config_class: type, name: str, hint: Any) -> Any:
    """The argparse ``type`` of a field annotated ``hint``: ``X`` for ``X | None``; plain classes only."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = options[0] if len(options) == 1 else hint
    if typing.get_origin(hint) is not None or not isinstance(hint, type) or dataclasses.is_dataclass(hint):
        raise TypeError(f"{config_class.__name__}.{name}: no option for a {hint!r} field; exclude it")
    return hint
