"""Undo what speech recognition does to an operator's words before the parser reads them.

A microphone at a plant gives "pump won", "A H U 30", "pump12", "the second
boiler", "chiler 3 temprature", "pump 3 sorry pump 4" and "um the the
vibration". Each repair here is one small function over normalised text
(lower case, digits for number words), applied in a fixed order by
:func:`repair`. A repair that changes which equipment is meant (a number
homophone, a misspelt type word) is kept only when it names a real
equipment of the plant (``is_real``), so "which pump to check" is never read
as pump 2. Fuzzy matching is rapidfuzz's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from rapidfuzz import fuzz, process

from layer2.understanding.vocabulary import DOMAIN_WORDS, TYPE_ALIASES

HOMOPHONES = {"won": 1, "to": 2, "too": 2, "for": 4, "fore": 4, "ate": 8, "tree": 3, "free": 3, "fife": 5, "sex": 6}
SOUND_ALIKES = {
    r"a hue|a h you|a h u|ay aitch you": "ahu",
    r"you pee ess|you p s|u p s|you ps": "ups",
    r"dee gee|d g": "dg",
    r"tee ex|t x": "tx",
    r"see tee|c t": "ct",
    r"see aitch|c h": "ch",
    r"see oh two|c o two|c o 2|co two|see o two": "co2",
    r"kay double you|k w": "kw",
    r"kay v a|k v a": "kva",
    r"p f": "pf",
    r"r p m": "rpm",
    r"genny|gennie": "generator",
}
FILLERS = re.compile(
    r"\b(?:u+m+|u+h+|e+r+m*|h+m+|a+h+|you know|i guess|basically|kind of|sort of|please|kindly|okay|ok|hey|hi|hello"
    r"|quickly|can you tell me|could you tell me|tell me|i want to know|i need to know|let me know)\b"
)
CORRECTION_WORDS = r"sorry|i mean|i meant|no no|no wait|wait|scratch that|or rather|correction|make that|no sorry"
GLUED_TYPES = re.compile(
    r"\b(air|cooling|energy|diesel|power)(compressors?|towers?|meters?|generators?|handlers?)(?=\d|\b)"
)
SPOKEN_ZERO = re.compile(r"\b(\d) (?:oh|o|zero|0) (\d)\b")  # "meter one oh one" -> "meter 101"
NOT_MISSPELT = frozenset(
    [
        "generate",
        "generating",
        "generated",
        "generation",
        "section",
        "sections",
        "station",
        "stations",
        "currently",
        "condense",
        "motorway",
        "powered",
        "towering",
        "supplies",
        "supplied",
        "returned",
        "returning",
        "filtered",
        "loaded",
        "loading",
        "charged",
        "charging",
        "levels",
    ]
)
FUZZY_CUTOFF = 84
TYPE_CUTOFF = 78  # lower: a misheard type word is only kept if it then names a real unit


def repair(text: str, *, is_real: Callable[[str, int], bool]) -> str:
    """``text`` with speech-recognition errors undone; ``is_real(equipment_type, number)`` guards id changes."""
    text = GLUED_TYPES.sub(r"\1 \2", text)  # "aircompressor 1"
    text = SPOKEN_ZERO.sub(r"\g<1>0\g<2>", text)
    for step in (_sound_alikes, _spelled_letters, _run_together, _ordinals, _misspellings):
        text = step(text)
    text = _misheard_types(text, is_real)
    text = _homophones(text, is_real)
    text = _corrections(text)
    text = FILLERS.sub(" ", text)
    text = re.sub(r"\b(\w+)(?: \1\b)+", r"\1", re.sub(r"\s+", " ", text))  # "the the", "pump pump 4"
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------- the repairs


def _sound_alikes(text: str) -> str:
    for pattern, word in _sound_alike_patterns():
        text = pattern.sub(word, text)
    return text


@cache
def _sound_alike_patterns() -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(rf"\b(?:{alternatives})\b"), word) for alternatives, word in SOUND_ALIKES.items()]


def _spelled_letters(text: str) -> str:
    """ "a h u 30" -> "ahu 30": a run of single letters that spells a known short name."""

    def join(m: re.Match) -> str:
        joined = m.group(0).replace(" ", "")
        return joined if joined in _short_names() else m.group(0)

    return re.sub(r"\b[a-z](?: [a-z]){1,3}\b", join, text)


@cache
def _short_names() -> frozenset[str]:
    aliases = {a for names in TYPE_ALIASES.values() for a in names if " " not in a and len(a) <= 4}
    return frozenset(aliases | {"co2", "kw", "kwh", "kva", "pf", "rh", "dp", "rpm", "hz", "soc", "cop"})


def _run_together(text: str) -> str:
    """ "pump12" -> "pump 12", "ahu_7" -> "ahu 7"."""
    return _alias_glued().sub(lambda m: f"{m.group(1)} {int(m.group(2))}", text)


@cache
def _alias_glued() -> re.Pattern[str]:
    return re.compile(rf"\b({_alias_alternatives(single_words=True)})(?:e?s)?[ _-]?0*(\d+)\b(?<=\d)")


def _ordinals(text: str) -> str:
    """ "the 2nd boiler" -> "boiler 2", "3rd chiller" -> "chiller 3"."""
    return _ordinal_alias().sub(lambda m: f"{m.group(2)} {m.group(1)}", text)


@cache
def _ordinal_alias() -> re.Pattern[str]:
    return re.compile(rf"\b(?:the )?(\d+)(?:st|nd|rd|th) ({_alias_alternatives()})\b")


def _homophones(text: str, is_real: Callable[[str, int], bool]) -> str:
    """ "pump won" -> "pump 1", when pump 1 exists and "pump" is not "which pump" / "the pump"."""

    def number(m: re.Match) -> str:
        equipment_type = _type_of_alias(m.group("alias"))
        n = HOMOPHONES[m.group("word")]
        return f"{m.group('alias')} {n}" if equipment_type and is_real(equipment_type, n) else m.group(0)

    return _homophone_pattern().sub(number, text)


@cache
def _homophone_pattern() -> re.Pattern[str]:
    return re.compile(
        rf"(?<!\bthe )(?<!\bwhich )(?<!\beach )(?<!\bany )(?<!\ball )(?<!\ba )"
        rf"\b(?P<alias>{_alias_alternatives()}) (?:number )?(?P<word>{'|'.join(HOMOPHONES)})\b(?! \d)"
    )


def _type_of_alias(alias: str) -> str | None:
    return next((t for t, names in TYPE_ALIASES.items() if alias in names), None)


def _misspellings(text: str) -> str:
    """ "chiler 3 temprature" -> "chiller 3 temperature": words near a domain word, never common ones."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) < 5 or word in DOMAIN_WORDS or word in NOT_MISSPELT or not word.isalpha():
            continue
        match = process.extractOne(word, DOMAIN_WORDS, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if match and abs(len(match[0]) - len(word)) <= 1 and match[0].rstrip("s") != word.rstrip("s"):
            words[i] = match[0]
    return " ".join(words)


def _misheard_types(text: str, is_real: Callable[[str, int], bool]) -> str:
    """ "boyler 2", "cooling tour 2" -> the type word, kept only when that type has the number said."""

    def fix(m: re.Match) -> str:
        first, last, number = m.group(1), m.group(2), int(m.group(3))
        if _type_of_alias(last) or last in DOMAIN_WORDS or last in NOT_MISSPELT:
            return m.group(0)
        for words, keep in ((last, first), (f"{first} {last}" if first else "", "")):
            match = words and process.extractOne(words, _spoken_types(), scorer=fuzz.ratio, score_cutoff=TYPE_CUTOFF)
            two_words = " " in words
            if match and two_words and fuzz.ratio(first, match[0].split()[0]) < TYPE_CUTOFF:
                continue  # "restart compressor 9" is not "air compressor 9"
            if match and (" " in match[0]) == two_words and is_real(_type_of_alias(match[0]), number):
                return f"{keep + ' ' if keep else ''}{match[0]} {number}"
        return m.group(0)

    return re.sub(r"\b(?:([a-z]{3,}) )?([a-z]{4,}) (\d+)\b", fix, text)


@cache
def _spoken_types() -> tuple[str, ...]:
    return tuple(a for names in TYPE_ALIASES.values() for a in names if len(a) >= 5)


def _corrections(text: str) -> str:
    """ "pump 3 sorry pump 4 vibration" -> "pump 4 vibration": what follows the correction replaces what it fixes."""
    start = 0
    while m := _correction().search(text, start):
        before, after = text[: m.start()].rstrip(" ,"), text[m.end() :].lstrip(" ,")
        mention = _last_mention().search(before + " ")
        right_after = mention is not None and mention.end() >= len(before)
        if m.group(0) == "no" and (not mention or (re.match(r"\d", after) and not right_after)):
            start = m.end()  # "is there no pump 3": a question, nothing taken back ("pump 7 no 11" is taken back)
            continue
        if mention and re.match(rf"(?:the )?(?:{_alias_alternatives()})\b", after):
            before = before[: mention.start()]
        elif mention and re.match(r"\d+\b", after):
            before = before[: mention.start()] + mention.group(1) + " "
        elif before and not re.match(r"\d", after):
            before = before.rsplit(" ", 1)[0] if " " in before else ""
        text, start = f"{before} {after}", len(before)
    return text


@cache
def _alias_alternatives(*, single_words: bool = False) -> str:
    """Every type word as one regex alternation, longest first ("air compressor" before "air")."""
    words = {a for names in TYPE_ALIASES.values() for a in names if not (single_words and " " in a)}
    return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))


@cache
def _correction() -> re.Pattern[str]:
    """The words that take back what was just said; a bare "no" only before another unit ("pump 9 no pump 10",
    "pump 9 no 10")."""
    return re.compile(rf"\b(?:{CORRECTION_WORDS}|no(?= (?:the )?(?:{_alias_alternatives()})(?:e?s)? \d| \d+\b))\b")


@cache
def _last_mention() -> re.Pattern[str]:
    """The last "type number" in a text."""
    return re.compile(rf"\b((?:{_alias_alternatives()})(?:e?s)?) \d+\b(?!.*\b(?:{_alias_alternatives()}) \d)")
