#!/usr/bin/env bash
# Command Center: set up and run.
#
#   ./run.sh demo    install, start the embedded PostgreSQL, seed a demo plant and serve the API
#   ./run.sh test    install and run the test suite
#
# Knobs (environment): PORT (8000), WORKERS (3), DEMO_DAYS (7), PYTHON (python3.11),
# TIMESERIES_DATABASE_URL (an external PostgreSQL instead of the embedded one), CC_STATE_DIR.
set -euo pipefail
cd "$(dirname "$0")"

setup() {
    local python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    if [ ! -x .venv/bin/python ]; then
        echo "==> creating .venv with $python"
        "$python" -m venv .venv
    fi
    # Reinstall only when the requirement files changed since the last install.
    local stamp=.venv/.requirements.sha256
    local wanted
    wanted=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        echo "==> installing requirements (first run takes a minute or two)"
        .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
        echo "$wanted" > "$stamp"
    fi
    # The console's front-end packages (package-lock.json; nothing is fetched when the page loads).
    local lock
    lock=$(sha256sum package-lock.json | cut -d' ' -f1)
    if [ "$(cat node_modules/.package-lock.sha256 2>/dev/null)" != "$lock" ]; then
        command -v npm >/dev/null || { echo "the console needs Node.js's npm to install its packages: apt-get install npm"; exit 1; }
        echo "==> installing the console's npm packages"
        npm ci --no-audit --no-fund --loglevel=error
        echo "$lock" > node_modules/.package-lock.sha256
    fi
}

# The browser tests drive Debian's chromium (nothing downloads a browser): installed here when missing.
browser() {
    if [ -n "${CHROMIUM:-}" ] || command -v chromium >/dev/null; then return; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing Debian's chromium for the browser tests"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "the browser tests need Chromium: 'sudo apt-get install chromium' (Debian, Ubuntu), or CHROMIUM=/path/to/it"
        exit 1
    fi
}

demo() {
    setup
    local port="${PORT:-8000}"
    .venv/bin/python manage.py migrate --noinput --verbosity 0
    .venv/bin/python manage.py collectstatic --noinput --verbosity 0
    # The console's sign-in: a password made once for this state folder, kept readable by this user only.
    local state="${CC_STATE_DIR:-state}" token
    [ -s "$state/demo-password" ] || (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))' > "$state/demo-password")
    token=$(CC_DEMO_PASSWORD=$(cat "$state/demo-password") .venv/bin/python manage.py create_api_user operator --staff \
        --password-env CC_DEMO_PASSWORD --quiet)
    echo "==> seeding the demo plant (363 equipment, ${DEMO_DAYS:-7} days; resumes if already there)"
    .venv/bin/python manage.py seed_plant --days "${DEMO_DAYS:-7}"
    # Keep "latest" live: append a row a minute to every table while serving.
    .venv/bin/python manage.py seed_plant --days "${DEMO_DAYS:-7}" --follow > "${CC_STATE_DIR:-state}/follow.log" 2>&1 &
    FOLLOWER=$!
    echo "==> serving on http://127.0.0.1:${port}/"
    echo "    console: open http://127.0.0.1:${port}/ and sign in as 'operator', password: $(cat "$state/demo-password")"
    echo "    API: demo user 'operator' (staff), token: ${token}"
    echo "    try: curl -s -H 'Authorization: Token ${token}' -H 'Content-Type: application/json' \\"
    echo "           -d '{\"transcript\": \"Show chiller 1 power\"}' http://127.0.0.1:${port}/api/layer2/orchestrate/"
    # Its own control socket (gunicorn's default is one path per user: a second server would take it over).
    .venv/bin/gunicorn -c command_center/gunicorn_conf.py --bind "127.0.0.1:${port}" --workers "${WORKERS:-3}" \
        --control-socket "${CC_STATE_DIR:-state}/gunicorn-${port}.ctl" &
    SERVER=$!
    # Ctrl-C or a TERM stops both children; `wait` returns as soon as a signal arrives.
    trap 'kill -TERM "$SERVER" "$FOLLOWER" 2>/dev/null || true; wait' EXIT INT TERM
    wait "$SERVER"
}

tests() {
    setup
    browser
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/lint-imports  # the import contracts in pyproject.toml
    .venv/bin/pytest "$@"
}

case "${1:-}" in
    demo) demo ;;
    test) shift; tests "$@" ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
esac
