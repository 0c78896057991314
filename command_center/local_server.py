"""Run the project under a real gunicorn on a loopback port: for tests and benchmarks.

``start_local_server`` migrates a fresh state folder, creates a staff API
user, starts gunicorn with several workers and waits for ``/api/health/``.
The server reads the time-series database given; everything else (Django's
database, the experience journal) lives in the state folder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MANAGE = [str(BIN / "python"), str(ROOT / "manage.py")]


@dataclass
class LocalServer:
    base_url: str
    token: str
    state_dir: Path
    process: subprocess.Popen
    log_path: Path
    environment: dict[str, str]
    control_socket: Path

    def create_user(self, username: str, *flags: str, password: str | None = None) -> str:
        """The API token of ``username``, made (or reused) by ``create_api_user`` with ``flags`` (--staff, --judge);
        ``password``: the console's sign-in password too."""
        if password is None:
            return _create_api_user(self.environment, username, *flags)
        environment = {**self.environment, "CC_USER_PASSWORD": password}
        return _create_api_user(environment, username, *flags, "--password-env", "CC_USER_PASSWORD")

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = "default"):
        """(status, JSON body, worker pid) of one HTTP request."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Token {self.token if token == 'default' else token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers["X-Served-By"]
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers.get("X-Served-By")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _create_api_user(environment: dict[str, str], username: str, *flags: str) -> str:
    created = subprocess.run(
        [*MANAGE, "create_api_user", username, *flags, "--quiet"],
        env=environment, check=True, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return created.stdout.strip()


_PREPARE = (
    "import django; django.setup(); from django.core.management import call_command; "
    "call_command('migrate', interactive=False, verbosity=0); "
    "call_command('create_api_user', 'tester', '--staff', '--quiet')"
)


def _migrate_and_create_tester(environment: dict[str, str]) -> str:
    """Migrate the state folder's database and make the staff user ``tester``, in one process (each Django start
    is a second or more, and the suite starts dozens of servers); returns its token."""
    done = subprocess.run(
        [str(BIN / "python"), "-c", _PREPARE], env=environment, check=True, cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local_server(
    *, timeseries_url: str, state_dir: Path, workers: int = 2, gunicorn_args: tuple[str, ...] = (), **env: str
) -> LocalServer:
    """Start gunicorn (``gunicorn_args`` appended to its command line) with ``env`` over the defaults below."""
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "command_center.settings",
        "CC_STATE_DIR": str(state_dir),
        "TIMESERIES_DATABASE_URL": timeseries_url,
        "DATABASE_URL": f"sqlite:///{state_dir / 'default.sqlite3'}",
        "THROTTLE_USER_RATE": "1000000/minute",
        **env,
    }
    token = _migrate_and_create_tester(environment)
    log_path = state_dir / "gunicorn.log"
    # Its own control socket: gunicorn's default path is one per user, which a second server would take over.
    control_socket = state_dir / "gunicorn.ctl"
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "command_center/gunicorn_conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--control-socket", str(control_socket), *gunicorn_args],
            env=environment, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = LocalServer(f"http://127.0.0.1:{port}", token, state_dir, process, log_path, environment, control_socket)
    # Signed in, so that waiting for the server spends none of the anonymous throttle's requests.
    ready = urllib.request.Request(server.base_url + "/api/health/", headers={"Authorization": f"Token {token}"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(ready, timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not start: {log_path.read_text()[-2000:]}")
