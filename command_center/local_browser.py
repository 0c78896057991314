"""Debian's chromium for the browser tests and benchmarks, driven by Playwright (which downloads nothing)."""

from __future__ import annotations

import os
import shutil

INSTALL_HINT = "the browser tests need Chromium: `sudo apt-get install chromium` (Debian), or CHROMIUM=/path/to/it"
# Chromium's own traffic (updates, sync, field trials) is off: only the page's requests remain, and the tests
# check that every one of them goes to the server under test.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-features=Translate,MediaRouter",
]  # fmt: skip


def chromium_path() -> str | None:
    """$CHROMIUM, else the system's chromium; None when there is none."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def collect_static(static_root, environment: dict[str, str] | None = None) -> None:
    """``collectstatic`` into ``static_root`` (hashed names, gzip and brotli copies), as ./run.sh demo does."""
    import subprocess

    from command_center.local_server import MANAGE, ROOT

    env = {**(environment or os.environ), "STATIC_ROOT": str(static_root)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
    subprocess.run([*MANAGE, "collectstatic", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
