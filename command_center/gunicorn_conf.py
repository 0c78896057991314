"""Gunicorn configuration: ``gunicorn -c command_center/gunicorn_conf.py``.

Bind address and worker count come from the command line or gunicorn's own
``GUNICORN_CMD_ARGS``/``WEB_CONCURRENCY``; this file holds the hooks.
"""

wsgi_app = "command_center.wsgi:application"
accesslog = "-"
timeout = 60


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
