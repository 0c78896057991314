"""The grammar of the plans ``parse_plan`` accepts for one question's offered widgets.

A plan is written in one order (``plan_json``: widget types sorted), so
"no type twice" is "types strictly increasing": a regular language, as are
"at most ``MAX_WIDGETS`` widgets" and "each type only in its offered
sizes". The grammar is therefore exactly the set of valid plans for the
offer, spelt byte for byte as ``plan_json`` writes them (no spaces), and a
decoder constrained by it cannot write anything ``parse_plan`` refuses.

It is EBNF (the GBNF dialect xgrammar reads) with one rule per reachable
(next type allowed, widgets left), so it grows with types × MAX_WIDGETS
rather than with the number of plans.
"""

from __future__ import annotations

import json
from collections import defaultdict

from layer2.planning.plan_prompt import PlanItem, plan_json
from layer2.planning.planner import MAX_WIDGETS

PLAN_OPEN, PLAN_CLOSE = '{"widgets":[', "]}"  # plan_json's frame


def _literal(text: str) -> str:
    return json.dumps(text)  # an EBNF string literal: JSON's escaping is GBNF's


def plan_ebnf(offered: frozenset[tuple[str, str]], max_widgets: int = MAX_WIDGETS) -> str:
    """EBNF (root rule ``root``) of every valid plan over the ``offered`` (type, size) pairs."""
    sizes: dict[str, list[str]] = defaultdict(list)
    for widget_type, size in sorted(offered):
        sizes[widget_type].append(size)
    types = sorted(sizes)
    if not types or max_widgets < 1:
        raise ValueError("a plan grammar needs at least one offered widget and room for one")
    rules: dict[str, str] = {}
    for i, widget_type in enumerate(types):
        choices = " | ".join(_literal(s) for s in sizes[widget_type])
        rules[f"item{i}"] = _literal(f'{{"type":"{widget_type}","size":"') + f" ({choices}) " + _literal('"}')
    first = " | ".join(f"item{i}{_rest(i + 1, max_widgets - 1, len(types), rules)}" for i in range(len(types)))
    root = f"{_literal(PLAN_OPEN)} ({first}) {_literal(PLAN_CLOSE)}"
    return "\n".join(f"{name} ::= {body}" for name, body in {"root": root, **rules}.items()) + "\n"


def _rest(start: int, left: int, count: int, rules: dict[str, str]) -> str:
    """A reference to the rule for what may follow an item (more items from type ``start`` on, ``left`` at most),
    defining it in ``rules`` on first use; "" where nothing may follow."""
    if left == 0 or start == count:
        return ""
    name = f"rest{start}-{left}"  # GBNF names: letters, digits, dashes (llama.cpp reads it too)
    if name not in rules:
        following = [f'"," item{j}{_rest(j + 1, left - 1, count, rules)}' for j in range(start, count)]
        rules[name] = " | ".join(['""', *following])
    return f" {name}"


def longest_plan(offered: frozenset[tuple[str, str]], max_widgets: int = MAX_WIDGETS) -> int:
    """Bytes of the longest plan the grammar admits: no token is shorter than a byte, so a decoder constrained by
    it finishes within this many tokens (and the end token)."""
    longest: dict[str, str] = {}
    for widget_type, size in offered:
        if len(size) > len(longest.get(widget_type, "")):
            longest[widget_type] = size
    items = sorted((PlanItem(t, s) for t, s in longest.items()), key=lambda i: -len(i.widget_type) - len(i.size))
    return len(plan_json(items[:max_widgets]).encode())
