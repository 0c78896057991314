"""Shared fixtures: a real PostgreSQL database seeded with a small plant.

The database lives on the same server the project uses (the embedded one,
or ``TIMESERIES_DATABASE_URL``) under its own name, created fresh for the
session and dropped afterwards, the way Django's test runner treats test
databases.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import psycopg
import pytest

from industrial.database import drop_database, recreate_database, timeseries_conninfo
from industrial.plant_seeding import SeedPlan, seed_plant
from industrial.plant_spec import EQUIPMENT_TYPES
from industrial.timeseries_access import TimeSeriesDataAccess, get_timeseries_access

# Unique per run, so two test runs on one server (two sessions, CI beside a developer) never collide.
TEST_DATABASE = f"plant_test_{os.getpid()}"
PLANT_END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, so generator test runs fall inside
SMALL_PLAN = SeedPlan(days=2, counts={t.name: 2 for t in EQUIPMENT_TYPES}, seed=7, end=PLANT_END, fault_rate=0.6)


def drop_abandoned_test_databases() -> None:
    """Drop test databases left by runs that were killed before their teardown."""
    with psycopg.connect(timeseries_conninfo("postgres"), autocommit=True) as admin:
        names = [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'plant_test_%'")]
    for name in names:
        match = re.fullmatch(r"plant_test_(\d+)(_.*)?", name)
        if match and not _alive(int(match.group(1))):
            drop_database(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def plant_conninfo(django_db_blocker) -> str:
    """A database holding two of every equipment type over two days, with injected faults."""
    with django_db_blocker.unblock():
        drop_abandoned_test_databases()
        conninfo = recreate_database(TEST_DATABASE)
        seed_plant(conninfo, SMALL_PLAN)
    yield conninfo
    drop_database(TEST_DATABASE)


@pytest.fixture(scope="session")
def access(plant_conninfo) -> TimeSeriesDataAccess:
    ts = TimeSeriesDataAccess(plant_conninfo, max_size=4)
    yield ts
    ts.close()


@pytest.fixture
def plant_db(plant_conninfo):
    """A plain autocommit connection to the seeded database, for independent SQL checks."""
    with psycopg.connect(plant_conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture
def scratch_database(django_db_blocker):
    """A fresh empty database for tests that write (dropped afterwards)."""
    created = []

    def make(suffix: str) -> str:
        name = f"{TEST_DATABASE}_{suffix}"
        created.append(name)
        with django_db_blocker.unblock():
            return recreate_database(name)

    yield make
    for name in created:
        drop_database(name)


@pytest.fixture
def use_timeseries_database(settings):
    """Point the project's configured time-series database (what ``get_timeseries_access()``
    and the management commands use) at another database on the same server."""

    def use(name: str) -> None:
        if settings.TIMESERIES_DATABASE_URL:  # an external server: the name alone does not redirect it
            settings.TIMESERIES_DATABASE_URL = timeseries_conninfo(name)
        settings.TIMESERIES_DATABASE_NAME = name
        get_timeseries_access.cache_clear()

    yield use
    if get_timeseries_access.cache_info().currsize:
        get_timeseries_access().close()
    get_timeseries_access.cache_clear()


@pytest.fixture
def configured_plant(plant_conninfo, use_timeseries_database):
    """The project's configured time-series database is the seeded test plant, for one test."""
    use_timeseries_database(TEST_DATABASE)


@pytest.fixture
def api_user(db):
    """An operator with an API token (Django's own database, per test)."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user("operator", password="unused-in-tests")
    Token.objects.create(user=user)
    return user


@pytest.fixture
def api_client(api_user):
    """A DRF test client authenticated with the operator's token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_user.auth_token.key}")
    return client


class LiveServer:
    """A real gunicorn serving the project with several workers, for tests that need processes."""

    def __init__(self, base_url: str, token: str, state_dir, process):
        self.base_url, self.token, self.state_dir, self.process = base_url, token, state_dir, process

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = "default"):
        """(status, json body, worker pid) of one HTTP request."""
        import json
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Token {self.token if token == 'default' else token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers["X-Served-By"]
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers.get("X-Served-By")


@pytest.fixture
def gunicorn_server(plant_conninfo, tmp_path):
    """Start gunicorn with ``workers`` workers over the seeded test plant; stopped after the test."""
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    servers = []
    root = Path(__file__).resolve().parent.parent
    bin_dir = Path(sys.executable).parent

    def start(workers: int = 2, **env_overrides: str) -> LiveServer:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        state = tmp_path / f"state-{port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "command_center.settings",
            "CC_STATE_DIR": str(state),
            "TIMESERIES_DATABASE_URL": plant_conninfo,
            "DATABASE_URL": f"sqlite:///{state / 'default.sqlite3'}",
            "THROTTLE_USER_RATE": "100000/minute",
            **env_overrides,
        }
        manage = [str(bin_dir / "python"), str(root / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=root)
        token = subprocess.run(
            [*manage, "create_api_user", "tester", "--staff", "--quiet"], env=env, check=True, cwd=root,
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        log = open(state / "gunicorn.log", "w")  # noqa: SIM115 - closed when the server stops
        process = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "-c", "command_center/gunicorn_conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers)],
            env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        server = LiveServer(f"http://127.0.0.1:{port}", token, state, process)
        servers.append((server, log))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(server.base_url + "/api/health/", timeout=5) as response:
                    if response.status == 200:
                        return server
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start: {(state / 'gunicorn.log').read_text()[-2000:]}")

    yield start
    for server, log in servers:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
        log.close()
