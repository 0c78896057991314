"""Who is asking: the role on a user's operator profile, which shapes what a good answer shows.

An operator at the panel, an engineer digging into a fault and a manager
checking the plant want different widgets for the same question, so the
role travels with each question to the ranking step (Tier 1 uses it as a
context feature) and into the experience it is recorded in. It is set per
user (``create_api_user --role``, kept on ``layer2.models.OperatorProfile``)
and a request may name another (``POST /api/layer2/orchestrate/`` ``role``),
e.g. on a shared control-room login.
"""

from __future__ import annotations

ROLES = ("operator", "engineer", "manager")
