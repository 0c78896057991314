"""This installation's own ``SECRET_KEY``: made once, at random, in the state folder, and reused.

A key written in the repository would be everyone's: anyone could sign a session or a ``messages`` cookie
this server believes. So with no ``DJANGO_SECRET_KEY`` each installation makes its own, readable by its
owner alone (mode 0600). Several processes may start at once (gunicorn's master, ``manage.py`` commands):
the key is written whole to a private temporary file and linked into place, which fails for all but the
first, and the rest read the winner's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

KEY_FILE = "secret_key"


def installation_secret_key(state_dir: Path) -> str:
    path = state_dir / KEY_FILE
    if not path.exists():
        _create(path)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # an older copy made readable to others: it is still only ours to read
    key = path.read_text().strip()
    if len(key) < 50:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to have a new one made")
    return key


def _create(path: Path) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(64) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs stands
            os.link(temporary, path)  # atomic, and never replaces an existing key
    finally:
        os.unlink(temporary)
