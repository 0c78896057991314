"""What kind of question it is, read from its words once equipment, metrics and time are found.

Each reader takes the normalised text *without* its time phrase (so the 3 in
"last 3 days" is never a threshold or a count) and what the parser already
resolved, and returns one field of the intent: the type, the aggregations
asked for, the filters and the count. The words are listed here, with their
meaning in the comments, so that a new way of saying something is one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from industrial.timeseries.access import SEVERITIES

DEFAULT_TOP_K = 5

ALERT = re.compile(r"\b(alerts?|alarms?|alarmed|alarming|warnings?|faults?|trips?|tripped|went into alarm)\b")
ANOMALY = re.compile(
    r"\b(abnormal\w*|anomal\w*|unusual\w*|odd|weird|strange|out of (range|spec)|deviat\w*|suspicious|irregular\w*"
    r"|problems?|issues?|wrong|overheat\w*|too hot|spik\w*)\b"
)
RANK = re.compile(
    r"\b(top|bottom|highest|lowest|most|least|worst|best|rank\w*|hottest|coldest|warmest|coolest|biggest|largest"
    r"|smallest|busiest|heaviest|lightest|poorest|weakest|dirtiest|cleanest|fastest|slowest|loudest"
    r"|sort(ed)?|arrange[ds]?|order(ed)? by|list \w+ by"
    r"|ascending|descending|\w+iest"
    r"|in order)\b"
)
COMPARE = re.compile(r"\b(compare\w*|comparison|versus|vs\.?|against|difference between|side by side)\b")
TREND = re.compile(r"\b(trends?|trending|history|historical|over time|chart|graph|plot|profile)\b")
ENERGY = re.compile(
    r"\b(energy(?! meters?\b)|kwh|kilowatt hours?|consumed|used|usage|energy users?|consumers?|units)\b"
)
USED = re.compile(
    r"\b(used|use|consumed|consumption|burned|burnt|burning|produced|made|generated|eat up|ate up|eaten|eats"
    r"|went through|gone through|burn through)\b"
)
DIAGNOSIS = re.compile(
    r"\b(?:why|how come|what(?:s| is)? (?:wrong|the matter|the problem|the issue|up|going on|happening|off) with"
    r"|what happened|what gives|what(?:s| is)? (?:that|this|it) about|what(?:s| is)? going on|\bor what$"
    r"|(?:alarm\w*|alert\w*|trip\w*)\b.*\bwhat was (?:it|that)|what was (?:it|that) about|what(?:s| is)? causing"
    r"|(?:is|was) (?:there )?(?:anything|something) (?:wrong|off|up) with|(?:any|a) (?:problem|issue|trouble)s? with"
    r"|diagnos\w*|troubleshoot\w*|root cause|cause of|explain"
    r"|(?:something|anything)(?: is| s)? (?:wrong|off|up) (?:with|on)"
    r"|stuck|frozen|flat ?lin\w*|is flat|not (?:changing|moving)|(?:has|have|is)n'?t (?:changed|moved|moving|changing)"
    r"|(?:has|have) not (?:changed|moved)|(?:exact )?same (?:number|value|reading))\b"
)
"""A question about why a unit misbehaves (a diagnosis), not only what it reads."""
DIRECTION_WORDS = {
    "flat": r"stuck|frozen|flat(?:lined|lining)?|not (?:changing|moving)|(?:has|have)n'?t (?:changed|moved)"
    r"|has not (?:changed|moved)|constant|same value|ain'?t moving",
    "stopped": r"trip(?:ped|s)?|stop(?:ped|s)?|shut (?:down|off)|went (?:off|down)|cut out|dropped out|tripping",
    "low": r"low|lower|drop(?:ped|ping|s)?|falling|fell|down|cold|cool|weak|empty|dipp?(?:ed|ing)?|sagging|losing|lost",
    "high": r"high|higher|hot|hotter|warm|warmer|up|ris(?:ing|en)|rose|climb(?:ing|ed)?|spik\w*|elevated|overheat\w*"
    r"|too much|so much|shaking|rough|excessive|heating",
}


def direction(text: str) -> str | None:
    """Which way a diagnosed reading is off, as said ("why is it so hot": high), or None."""
    for name, words in DIRECTION_WORDS.items():
        if re.search(rf"\b(?:{words})\b", text):
            return name
    return None


OVERVIEW = re.compile(r"\b(overview|summary|summari[sz]e)\b")
SUMMARY = re.compile(r"\b(overview|summary|summari[sz]e|doing|how (is|are)|status of|state of|health)\b")
DESCENDING_SAID = re.compile(
    r"\b(highest to lowest|high to low|descending|biggest first|largest first|most to least)\b"
)
ASCENDING_SAID = re.compile(r"\b(lowest to highest|low to high|ascending|smallest first|least to most)\b")
ASCENDING = re.compile(r"\b(bottom|lowest|least|coldest|coolest|smallest|lightest|poorest|weakest|emptiest)\b")
GOOD_WHEN_HIGH = ("cop", "efficiency_percent", "battery_charge_percent", "fuel_level_percent", "power_factor")
"""Metrics whose worst is their lowest ("the worst boiler on efficiency"); for the rest the worst is the highest."""
RUNTIME = re.compile(
    r"\bhow (?:many hours|long)\b.*\b(?:run|ran|running|on|operat\w*|work\w*)\b"
    r"|\b(?:run|ran|running|operat\w*)\b.*\bhow (?:many hours|long)\b|\b(?:run ?time|running time|uptime"
    r"|hours (?:of )?(?:running|operation))\b"
)
RUNNING = re.compile(
    r"\b(?:(?:are|is|were|was|currently|still) (?:\w+ )?(?:on|running|working|operating|online|in service)"
    r"|running|operating|online|on line|in service|switched on|turned on|firing|in operation|up and running)\b"
)
STOPPED = re.compile(
    r"\b(?:(?:are|is|were|was|currently|still) (?:off|stopped|not running|idle|offline|down|tripped)|switched off"
    r"|turned off|stopped|idle|offline|not running|shut down)\b"
)
ASKS_RUNNING = re.compile(
    r"^(?:(?:and |so |ok )?(?:is|are|was|were)\b.*\b"
    r"(?:on|running|off|stopped|working|in service|online|offline|tripped)"
    r"|(?:is|are) (?:it|they) (?:on|running|off|stopped|working))\b(?: now| right now| at the moment| still)?$"
)


def asks_running(text: str) -> bool:
    """ "is boiler 4 on", "was pump 3 running": a yes-or-no on the running state."""
    return bool(ASKS_RUNNING.search(text))


RUNTIME_WORDS = re.compile(r"\b(?:hours run|run hours|running hours|hours (?:it )?ran)\b")
NEWEST_ALERT = re.compile(
    r"\bwhen (?:did|was|has)\b.*\blast\b|\b(?:last|latest|most recent|newest) (?:time|alarm\w*|alert\w*|trip\w*)\b"
)

# (pattern, aggregation): "highest" / "lowest" mean max / min only for named equipment (a fleet's is an order).
AGGREGATION_WORDS = [
    (re.compile(r"\b(average|avg|mean|typical|typically|on average)\b"), "avg"),
    (
        re.compile(r"\b(max|maximum|peak|peaked|highest|top|hottest|warmest|how high|topped out|top out|high point)\b"),
        "max",
    ),
    (
        re.compile(r"\b(min|minimum|lowest|least|coldest|coolest|dip|dipped|bottom(?:ed)? out|how low|low point)\b"),
        "min",
    ),
    (re.compile(r"\b(total|sum|combined|altogether|in total|overall|aggregate|add(?:ed|ing)? up)\b"), "sum"),
    (
        re.compile(
            r"\b((?<!filter )change(?! (?:the |its )?filter)|changed|rise|rose|risen|drop|dropped|fall|fell|fallen"
            r"|increase|increased|decrease|decreased"
            r"|went up|gone up|go up|went down|gone down|climb|climbed|difference)\b"
        ),
        "delta",
    ),
    (re.compile(r"\b(how many|number of|count)\b"), "count"),
]
_ORDER_ONLY = {"highest", "lowest", "top", "hottest", "warmest", "coldest", "coolest", "least"}
THRESHOLD = re.compile(
    r"\b(above|over|beyond|greater than|more than|exceeding|exceeds?|higher than|at least|hotter than|warmer than"
    r"|bigger than"
    r"|larger than|faster than|below|under|less than|lower than|at most|no more than|colder than|cooler than"
    r"|smaller than|slower than)"
    r"\s+(\d+(?:\.\d+)?)"
)
_ABOVE = ("above", "over", "greater than", "more than", "exceeding", "exceed", "exceeds", "higher than", "at least",
          "hotter than", "warmer than", "bigger than", "larger than", "faster than", "beyond")  # fmt: skip
SEVERITY_WORDS = {
    "critical": r"critical|severe|serious|emergency",
    "high": r"high(?= (?:priority|severity|alarms?|alerts?|ones?|1s?|level alarms?"
    r"|(?:or|and) (?:critical|medium|low)))|major|high priority|high severity",
    "medium": r"medium|moderate",
    "low": r"low(?= (?:priority|severity|alarms?|alerts?|ones?|1s?|(?:or|and) (?:critical|medium|high)))|minor"
    r"|low priority|low severity",
}
SEVERITY_PATTERNS = {s: re.compile(rf"\b(?:{SEVERITY_WORDS[s]})\b") for s in SEVERITIES}
UNACKNOWLEDGED = re.compile(
    r"\b(unacknowledged|unacked|not (?:been |yet )?acknowledged|not acked"
    r"|(?:nobody|no one|no 1|no-one|none) (?:has |have )?(?:yet )?(?:acknowledged|acked)"
    r"|(?:have|has)n'?t been acknowledged|(?:have|has) not been acknowledged|outstanding|pending)\b"
)
ACKNOWLEDGED = re.compile(r"\b(acknowledged|acked)\b")
ALERT_HISTORY = re.compile(
    r"\b((?<!at )all(?! right)|cleared|resolved|past|history|historical|ever|previous|recent|log)\b"
)
ALERT_ACTIVE = re.compile(
    r"\b(active|current|currently|open|ongoing|right now|now|still|(?:have|has)n'?t cleared|not (?:yet )?cleared"
    r"|uncleared|not been cleared)\b"
)


@dataclass(frozen=True)
class Resolved:
    """What the parser found before reading the keywords."""

    ids: list[str]
    fleet: bool  # a type was named without numbers ("the pumps")
    metrics: list[str]
    timed: bool  # a time phrase was understood


def intent_type(text: str, found: Resolved) -> str:
    no_ids = found.fleet or not found.ids
    if DIAGNOSIS.search(text) and found.ids and not found.fleet:
        return "diagnosis"
    if ALERT.search(text):
        return "alerts"
    if ANOMALY.search(text):
        return "anomaly"
    if no_ids and (RANK.search(text) or (THRESHOLD.search(text) and not re.search(r"\bhow many\b", text))):
        return "ranking"
    if COMPARE.search(text) or len(found.ids) >= 2:
        return "comparison"
    if ENERGY.search(text) and (not found.metrics or "energy_kwh" in found.metrics):
        return "energy"
    if (no_ids and (not found.metrics or SUMMARY.search(text) or _fleet_aggregate(text))) or OVERVIEW.search(text):
        return "summary"
    if TREND.search(text) or (found.timed and not aggregations(text, "status", found)):
        return "trend"
    return "status"


def _fleet_aggregate(text: str) -> bool:
    return any(p.search(text) for p, name in AGGREGATION_WORDS if name in ("count", "sum", "avg"))


def aggregations(text: str, kind: str, found: Resolved) -> list[str]:
    """Every aggregation said, in the order said ("mean and max": avg, max)."""
    if RUNTIME.search(text) or (found.timed and RUNTIME_WORDS.search(text)):
        return ["runtime"]
    said: list[tuple[int, str]] = []
    for pattern, name in AGGREGATION_WORDS:
        for m in pattern.finditer(text):
            if m.group(1) in _ORDER_ONLY and (kind == "ranking" or not found.ids):
                continue
            if name == "count" and kind not in ("summary", "alerts", "ranking", "anomaly"):
                continue
            said.append((m.start(), name))
    return list(dict.fromkeys(name for _, name in sorted(said)))


def aggregation(text: str, kind: str, found: Resolved, said: list[str]) -> str:
    """The main aggregation: the first said, else what the question's kind implies."""
    counter = found.metrics == ["energy_kwh"]
    if kind == "energy" or (counter and found.timed and not said):
        return "delta"
    if kind == "alerts":
        return "count"
    if said:
        return said[0]
    if (kind in ("trend", "ranking") and found.timed) or (found.timed and kind in ("status", "comparison")):
        return "avg"
    return "avg" if kind == "trend" else "latest"


def filters(text: str, kind: str, found: Resolved) -> dict[str, object]:
    result: dict[str, object] = {}
    if kind == "alerts":
        result.update(_alert_filters(text, found.timed))
    if m := THRESHOLD.search(text):
        result["threshold"] = {"op": ">" if m.group(1) in _ABOVE else "<", "value": float(m.group(2))}
    if kind == "ranking" or (kind == "summary" and RANK.search(text)):
        below = result.get("threshold", {}).get("op") == "<" and not (RANK.search(text) or DESCENDING_SAID.search(text))
        result["order"] = "asc" if below else order(text, found.metrics)
    if found.fleet or not found.ids:
        if STOPPED.search(text):
            result["running"] = False
        elif RUNNING.search(text):
            result["running"] = True
    return result


def order(text: str, metrics: list[str] = ()) -> str:
    if DESCENDING_SAID.search(text):
        return "desc"
    if ASCENDING_SAID.search(text) or ASCENDING.search(text):
        return "asc"
    good_high = bool(metrics) and metrics[0] in GOOD_WHEN_HIGH
    if re.search(r"\b(worst|poorest)\b", text) and good_high:
        return "asc"
    if re.search(r"\bbest\b", text) and metrics and not good_high:
        return "asc"  # the best vibration is the lowest
    return "desc"


def _alert_filters(text: str, timed: bool) -> dict[str, object]:
    result: dict[str, object] = {}
    severities = [s for s, pattern in SEVERITY_PATTERNS.items() if pattern.search(text)]
    if severities:
        result["severity"] = severities
    newest = bool(NEWEST_ALERT.search(text))
    history = timed or newest or bool(ALERT_HISTORY.search(text))
    result["active_only"] = bool(ALERT_ACTIVE.search(text)) and not newest if history else True
    if UNACKNOWLEDGED.search(text):
        result["acknowledged"] = False
    elif ACKNOWLEDGED.search(text):
        result["acknowledged"] = True
    if newest:
        result["newest"] = True
    return result


def top_k(text: str, kind: str, type_words: str, plural: bool) -> int | None:
    """How many to list: "top 3", "the 3 pumps", "4 biggest"; 1 for "which pump is ..."."""
    if m := re.search(r"\b(?:top|bottom|first|last)\s+(\d+)\b", text) or re.search(
        r"\b(\d+)\s+(?:highest|lowest|worst|best|hottest|coldest|warmest|coolest|biggest|largest|smallest|busiest"
        r"|most|least|heaviest)\b",
        text,
    ):
        return max(1, min(int(m.group(1)), 50))
    if m := re.search(rf"(?:^|\b(?:the|which|show|list|give me|me|only|just|those)\s+)(\d+)\s+(?:{type_words})", text):
        return max(1, min(int(m.group(1)), 50))
    if kind != "ranking":
        return None
    if re.search(r"\bwhich (?:\w+ ){0,2}(?:has|is|had|was|shows?|runs?|ran|uses?|used|draws?|drew)\b", text):
        return 1
    if re.search(r"\b(?:whose|the single|the one)\b", text):
        return 1
    superlative = re.search(
        r"\b(?:highest|lowest|hottest|warmest|coldest|coolest|biggest|largest|most|least|lightest|heaviest|dirtiest"
        r"|poorest|best|worst|fastest|slowest|busiest|\w+iest)\b",
        text,
    )
    return 1 if superlative and not plural else DEFAULT_TOP_K


KINDS = {"diagnosis": DIAGNOSIS, "alerts": ALERT, "anomaly": ANOMALY, "ranking": RANK, "comparison": COMPARE,
         "trend": TREND, "energy": ENERGY, "summary": OVERVIEW}  # fmt: skip
"""The words that say what kind a question is; a follow-up without any keeps its conversation's kind."""


def kind_words(text: str) -> list[str]:
    """The words of ``text`` that name its kind ("why", "alarms", "trend", "highest")."""
    return [m.group(0) for pattern in KINDS.values() for m in pattern.finditer(text)]


def aggregation_words(text: str) -> list[str]:
    words = [m.group(0) for p, _ in AGGREGATION_WORDS for m in p.finditer(text)]
    return words + [m.group(0) for m in RUNTIME.finditer(text)]


def severity_words(text: str) -> list[str]:
    return [m.group(0) for pattern in SEVERITY_PATTERNS.values() for m in pattern.finditer(text)]


def state_words(text: str) -> list[str]:
    """Running or stopped, said of a fleet ("how many are running"), and thresholds ("above 80")."""
    return [m.group(0) for p in (RUNNING, STOPPED, THRESHOLD) for m in p.finditer(text)]


def without_keywords(text: str) -> str:
    """``text`` with every word this module reads taken out: what is left is for the parser to name."""
    for pattern in (DIAGNOSIS, RANK, COMPARE, TREND, SUMMARY, OVERVIEW, ANOMALY, ALERT, RUNNING, STOPPED, THRESHOLD,
                    USED, DESCENDING_SAID, ASCENDING_SAID, *(p for p, _ in AGGREGATION_WORDS)):  # fmt: skip
        text = pattern.sub(" ", text)
    return text
