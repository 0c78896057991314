"""Questions the assistant must not answer with plant data: commands, and things outside the plant.

Command Center only reads. "Turn off pump 5" gets a clear refusal, never a
widget about pump 5 that could pass for a confirmation; "who won the match
last night" gets a refusal too, never the plant summary.
"""

from __future__ import annotations

import re

COMMAND = re.compile(
    r"^(?:(?:can|could|would|will) you |i want (?:you )?to |i need (?:you )?to |go ahead and |let'?s |i'?d like "
    r"(?:you )?to |you should |now )*(?:turn|switch|shut|start|stop|restart|reboot|reset|open|close|set|increase"
    r"|decrease|raise|lower|reduce|adjust|change|trip|isolate|bypass|enable|disable|acknowledge|ack|clear|silence"
    r"|boost|ramp|put|bring|activate|deactivate|kill|power (?:up|down|off|on)|crank|throttle|override|mute|bump|dial"
    r"|push|pull|lift|drop|cut|kick|fire up|start up|spin up)\b"
    r"(?! (?:in|of|time|times|hours|count|rate|history|trend)\b)"
)
COMMAND_ANYWHERE = re.compile(
    r"\b(?:turn|switch|shut) (?:\w+ ){0,3}(?:off|on|down|up)\b(?! (?:and|or) off\b)(?<!is on)(?<!are on)"
    r"|\b(?:please|can you|could you) (?:turn|switch|shut|start|stop|restart|reset|set|open|close)\b"
    r"|\b(?:start|stop|shut|switch|fire|spin) ?(?:up|down|off|it|them)\b"
)
NOT_A_COMMAND = re.compile(r"^(?:is|are|was|were|has|have|did|does|do|when|why|how|which|what|who)\b")
ORDERING = re.compile(r"\bin (?:order|sequence)\b|\bsorted\b|\bascending\b|\bdescending\b|\branked\b")
"""Reading words that start like a command ("put the UPSes in order of charge")."""
OUT_OF_DOMAIN = re.compile(
    r"\b(match|cricket|football|soccer|tennis|game score|scores?|share price|stock price|stocks?|shares|sensex|nifty"
    r"|joke|jokes|weather forecast|forecast|rain|news|headlines|recipe|movie|film|song|music|president|prime minister"
    r"|capital of|bitcoin|crypto|lottery|horoscope|birthday|restaurant|lunch|dinner|traffic|flight|poem|story|biryani"
    r"|pizza|food|cab|taxi|hotel|essay|translate)\b"
)
TASK = re.compile(r"\b(write|compose|sing|tell me a|recommend|book|order|translate|draw)\b")
"""A task that is not reading the plant, whatever it mentions ("write me a poem about pumps")."""
PLANT_WORDS = re.compile(
    r"\b(alerts?|alarms?|faults?|trips?|tripped|warnings?|abnormal\w*|anomal\w*|plant|site|facility|equipment"
    r"|machines?|assets?|units?|everything|overview|summary|status|energy|kwh|problems?|issues?|wrong|going on"
    r"|happening|critical|readings?|sensors?|consumption|load|loads|production)\b"
)


def refusal(text: str, *, plant_named: bool) -> str | None:
    """ "command", "out_of_domain" or None for a normalised question (``plant_named``: equipment or metric found)."""
    if (COMMAND.search(text) and not ORDERING.search(text)) or (
        COMMAND_ANYWHERE.search(text) and not NOT_A_COMMAND.search(text)
    ):
        return "command"
    if OUT_OF_DOMAIN.search(text) and (not plant_named or TASK.search(text)):
        return "out_of_domain"
    if not plant_named and not PLANT_WORDS.search(text):
        return "out_of_domain"
    return None
