"""Who is asking: the role on a user's operator profile, which shapes what a good answer shows.

An operator at the panel, an engineer digging into a fault and a manager
checking the plant want different widgets for the same question, so the
role travels with each question to the ranking step (Tier 1 uses it as a
context feature) and into the experience it is recorded in. It is set per
user (``create_api_user --role``) and a request may name another
(``POST /api/layer2/orchestrate/`` ``role``), e.g. on a shared control-room
login.
"""

from __future__ import annotations

ROLES = ("operator", "engineer", "manager")


def role_of(user) -> str | None:
    """The role on ``user``'s operator profile; None for an anonymous user or one without a profile."""
    if user is None or not user.is_authenticated:
        return None
    from layer2.models import OperatorProfile

    return OperatorProfile.objects.filter(user_id=user.pk).values_list("role", flat=True).first()


def set_role(user, role: str) -> None:
    """Give ``user`` the role ``role`` (one of ``ROLES``), creating their profile if needed."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    from layer2.models import OperatorProfile

    OperatorProfile.objects.update_or_create(user=user, defaults={"role": role})
