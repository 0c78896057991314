"""Gunicorn configuration: ``gunicorn -c command_center/gunicorn_conf.py``.

Bind address, worker count and control socket come from the command line or gunicorn's own
``GUNICORN_CMD_ARGS``/``WEB_CONCURRENCY``; this file holds the worker class and the hooks.

The workers are gunicorn's own asyncio ``asgi`` workers: a sync worker reads a request itself, so a few
clients that open a connection and send half a header (or a body slowly) hold every worker and nothing
else is served. An asyncio worker waits for them in its event loop, which costs a coroutine each, and hands
Django only complete requests (docs/deployment.md measures both).
"""

worker_class = "command_center.gunicorn_worker.Worker"  # the asgi worker, with JSON errors
wsgi_app = "command_center.asgi:application"
asgi_lifespan = "off"  # Django has no lifespan protocol: our start-up work is in the hooks below
accesslog = "-"
timeout = 60
keepalive = 5  # seconds an idle kept-alive connection stays open


def on_starting(server):
    """Start (or reuse) the embedded database in the master, so it outlives worker restarts.

    Workers then connect lazily after fork; nothing heavy is created here.
    """
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
    django.setup()
    from industrial.database.connection import timeseries_conninfo

    timeseries_conninfo()
    server.log.info("time-series database ready")


def post_fork(server, worker):
    """Start this worker's Tier 1 service (if ENABLE_CONTINUOUS_RL): threads and torch only after fork."""
    from rl.tier1.service import start_service

    if start_service() is not None:
        server.log.info("tier1 service running in worker %s", worker.pid)


def worker_exit(server, worker):
    from rl.tier1.service import stop_service

    stop_service()
