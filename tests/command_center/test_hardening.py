"""A server that slow clients, guessed tokens and bad input cannot stop, against a real gunicorn.

Each test here failed on the server as it was (sync workers, per-worker throttles, a shared control socket,
a secret key in the repository, HTML error pages) and passes on the one in command_center/.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
import urllib.error
import urllib.request

import pytest
from django.core import signing

from command_center.local_server import start_local_server

OLD_DEFAULT_KEY = "dev-only-insecure-key-change-me-in-production"  # the key that used to be in settings.py


@pytest.fixture
def serve(plant_conninfo, tmp_path):
    servers = []

    def start(name: str = "server", **env: str):
        server = start_local_server(timeseries_url=plant_conninfo, state_dir=tmp_path / name, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of a GET; an error status is returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def raw(server, data: bytes) -> tuple[int, str, bytes]:
    """(status, content type, body) of a request sent byte for byte (asking the server to close after it, or it
    would keep the connection open for its keep-alive time)."""
    request_line, _, rest = data.partition(b"\r\n")
    if b"\r\nconnection:" not in b"\r\n" + rest.split(b"\r\n\r\n")[0].lower():
        data = request_line + b"\r\nConnection: close\r\n" + rest
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunked(body)
    return int(lines[0].split()[1]), headers.get("content-type", ""), body


def _unchunked(body: bytes) -> bytes:
    parts = []
    while True:
        size, _, rest = body.partition(b"\r\n")
        if int(size, 16) == 0:
            return b"".join(parts)
        parts.append(rest[: int(size, 16)])
        body = rest[int(size, 16) + 2 :]


def test_stalled_clients_do_not_stop_the_server(serve):
    server = serve(workers=2)
    host, port = server.base_url.removeprefix("http://").split(":")
    stalled = []
    for _ in range(16):  # 8 per worker: a sync worker is held by one
        conn = socket.create_connection((host, int(port)))
        conn.sendall(b"GET /api/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        stalled.append(conn)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        for _ in range(5):
            assert get(server.base_url + "/api/health/", timeout=5)[0] == 200
        asked = server.request("POST", "/api/layer2/orchestrate/", {"transcript": "Show chiller 1 power"})
        assert asked[0] == 200 and time.monotonic() - started < 10
    finally:
        for conn in stalled:
            conn.close()


def test_the_anonymous_throttle_is_shared_by_every_worker_and_ignores_forged_forwarded_for(serve):
    server = serve(workers=3, THROTTLE_ANON_RATE="10/minute")
    statuses = [get(server.base_url + "/api/health/", {"X-Forwarded-For": f"10.0.0.{i}"})[0] for i in range(30)]
    assert statuses.count(200) == 10 and statuses[10:] == [429] * 20, statuses
    status, body, headers = get(server.base_url + "/api/health/")
    assert status == 429 and "throttled" in body["detail"].lower() and int(headers["Retry-After"]) > 0


def test_behind_a_trusted_proxy_each_forwarded_client_counts_alone(serve):
    server = serve(workers=2, THROTTLE_ANON_RATE="5/minute", TRUSTED_PROXY_COUNT="1")
    for client in ("198.51.100.7", "203.0.113.9"):
        statuses = [get(server.base_url + "/api/health/", {"X-Forwarded-For": client})[0] for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2, (client, statuses)


def test_failed_sign_ins_are_throttled_per_address_even_for_a_right_token_after(serve):
    server = serve(workers=2, THROTTLE_FAILED_SIGNIN_RATE="5/minute")
    guesses = [server.request("GET", "/api/layer2/account/", token=f"{i:040x}")[0] for i in range(8)]
    assert guesses == [401] * 5 + [429] * 3, guesses
    status, body, _ = server.request("GET", "/api/layer2/account/")  # the right token, from the same address
    assert status == 429 and "failed sign-ins" in body["detail"]


def test_two_servers_on_one_host_keep_their_own_control_sockets(serve):
    first = serve("first")
    second = serve("second")
    assert first.control_socket != second.control_socket
    assert first.control_socket.exists() and second.control_socket.exists()
    second.stop()
    assert first.control_socket.exists(), "the second server took the first one's control socket with it"
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(first.control_socket))  # the first server still listens on it


def test_the_secret_key_is_made_once_per_installation_private_and_the_old_default_is_dead(serve):
    server = serve()
    key_file = server.state_dir / "secret_key"
    key = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key.strip()) >= 50 and OLD_DEFAULT_KEY not in key
    server.stop()
    server = serve("server")  # the same state folder: the same key
    assert key_file.read_text() == key
    # A messages cookie signed with the key that used to be in the repository must not be believed...
    assert "FORGED-NOTICE" not in admin_login_with_forged_notice(server)
    # ...as a server still running on that key would (so the forgery itself is sound).
    old = serve("old-key", DJANGO_SECRET_KEY=OLD_DEFAULT_KEY)
    assert "FORGED-NOTICE" in admin_login_with_forged_notice(old)


def admin_login_with_forged_notice(server) -> str:
    """The admin's sign-in page, asked with a ``messages`` cookie signed with the old default key."""
    signer = signing.TimestampSigner(
        key=b"django.http.cookies" + OLD_DEFAULT_KEY.encode(), salt="django.contrib.messages"
    )  # what get_cookie_signer makes with that key
    cookie = signer.sign_object([["__json_message", 0, 40, "FORGED-NOTICE"]], compress=True)
    request = urllib.request.Request(server.base_url + "/admin/login/", headers={"Cookie": f"messages={cookie}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def test_errors_outside_the_views_answer_json(serve):
    server = serve()
    status, body, _ = get(server.base_url + "/api/no-such-endpoint/")
    assert status == 404 and "/api/no-such-endpoint/" in body["detail"]
    status, kind, body = raw(server, b"GET /api/health/?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (status, kind) == (414, "application/json") and "too large" in json.loads(body)["detail"]
    big = b"x" * 70_000
    head = f"POST /api/layer2/orchestrate/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {server.token}\r\n"
    status, kind, body = raw(server, head.encode() + f"Content-Length: {len(big)}\r\n\r\n".encode() + big)
    assert (status, kind) == (413, "application/json") and "65536" in json.loads(body)["detail"]
    chunked = b"".join(b"%x\r\n%s\r\n" % (8192, b"y" * 8192) for _ in range(10)) + b"0\r\n\r\n"
    status, kind, _ = raw(server, head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    assert (status, kind) == (413, "application/json")


@pytest.fixture(scope="module")
def one_server(plant_conninfo, tmp_path_factory):
    server = start_local_server(timeseries_url=plant_conninfo, state_dir=tmp_path_factory.mktemp("deep"))
    yield server
    server.stop()


@pytest.mark.parametrize("depth", [33, 950, 1000, 20_000])
@pytest.mark.parametrize("path", ["/api/layer2/orchestrate/", "/api/layer2/feedback/", "/api/layer2/approve-training/"])
def test_json_nested_too_deep_is_a_400_on_every_post(one_server, depth, path):
    server = one_server
    body = ("[" * depth + "]" * depth).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {server.token}\r\n"
    head += "Content-Type: application/json\r\n"
    status, kind, answer = raw(server, head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert (status, kind) == (400, "application/json") and "nested too deeply" in json.loads(answer)["detail"]


def test_the_server_error_handler_answers_json_for_the_api(rf):
    from command_center.error_views import server_error

    response = server_error(rf.get("/api/layer2/orchestrate/"))
    assert response.status_code == 500 and json.loads(response.content) == {
        "detail": "Internal server error; it has been logged."
    }
    assert b"<h1>" in server_error(rf.get("/admin/")).content  # the admin keeps Django's page


def test_manage_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    documented = dict(
        line.split("=", 1)
        for line in (root / "docs" / "production.env").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    env = {
        **os.environ,
        **documented,
        "CC_STATE_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "s" * 20 + os.urandom(24).hex(),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_burst_across_a_window_edge_gets_no_extra_request():
    """Ten requests just before a minute's edge, one just after: the sliding window still holds ten."""
    from command_center.throttling import AnonRateThrottle

    throttle = AnonRateThrottle()
    throttle.num_requests, throttle.duration = 10, 60
    assert throttle._wait_for([10, 0], into=0.001) is not None  # 9.99 of the previous window's ten remain
    assert throttle._wait_for([9, 0], into=0.001) is None
    assert throttle._wait_for([10, 0], into=0.5) is None  # half the window later, five of them remain
    assert 0 < throttle._wait_for([0, 10], into=0.0) <= 60 * 1.1
