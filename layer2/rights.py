"""Who may see and change which answers, and whose name a rating goes under.

Three kinds of account (docs/api.md, "Rights"):

* an **operator** (any signed-in user) reads and rates only the answers they asked;
* **staff** also read everyone's answers, and rate only their own: a rating is the asker's word on their
  answer, so nobody overwrites another's;
* a **judge** (an account holding ``layer2.judge_answers``: ``create_api_user NAME --judge``) reads every
  answer and posts evaluations of any of them, recorded as ``judge:NAME``.

How an answer was used (implicit signals, from the console) is reported only by its asker.

A feedback's ``source`` is always the account's (``operator`` or ``judge:NAME``), never the request's. An
answer another operator asked is "not found" to an operator, as if it did not exist; to staff, who can see
it, rating it is "forbidden".
"""

from __future__ import annotations

import re

from django.contrib.auth.models import Permission

from layer2.errors import NotYours
from rl.experiences.buffer import OPERATOR, ExperienceNotFound
from rl.experiences.records import Experience

JUDGE_PERMISSION = "layer2.judge_answers"
JUDGE_APP, JUDGE_CODENAME = JUDGE_PERMISSION.split(".")
JUDGE_NAME = r"[\w.-]{1,48}"  # a judge account's user name, as its source says it: judge:NAME


def make_judge(user) -> None:
    """Grant ``user`` the judge permission (``create_api_user NAME --judge``)."""
    user.user_permissions.add(Permission.objects.get(content_type__app_label=JUDGE_APP, codename=JUDGE_CODENAME))


def is_judge(user) -> bool:
    """True for an account granted the judge permission (a superuser is staff, not a judge, unless granted it)."""
    if not user.is_active:
        return False
    if user.is_superuser:  # has_perm is True for every permission of a superuser: ask the explicit grants
        return (
            user.user_permissions.filter(codename=JUDGE_CODENAME).exists()
            or user.groups.filter(permissions__codename=JUDGE_CODENAME).exists()
        )
    return user.has_perm(JUDGE_PERMISSION)


def feedback_source(user) -> str:
    """``judge:NAME`` for a judge account (NAME from its user name), else ``operator``."""
    if is_judge(user):
        return "judge:" + re.sub(r"[^\w.-]+", "-", user.get_username())[:48]
    return OPERATOR


def reads_everything(user) -> bool:
    return user.is_staff or is_judge(user)


def owner_filter(user) -> int | None:
    """The ``asked_by`` an experience listing is limited to for ``user``; None: everything."""
    return None if reads_everything(user) else user.pk


def check_may_report_use(*, user, experience: Experience) -> None:
    """Raise unless ``user`` asked ``experience``: only its asker reports how an answer was used. Staff and judges,
    who can see it, are forbidden (``NotYours``); to another operator it is not found."""
    if experience.asked_by == user.pk:
        return
    if reads_everything(user):
        raise NotYours(experience.query_id, "report how it was used")
    raise ExperienceNotFound(experience.query_id)


def check_may_rate(*, user, experience: Experience) -> None:
    """Raise unless ``user`` may post feedback on ``experience`` (see the module docstring)."""
    if experience.asked_by == user.pk or is_judge(user):
        return
    if user.is_staff:
        raise NotYours(experience.query_id)
    raise ExperienceNotFound(experience.query_id)
