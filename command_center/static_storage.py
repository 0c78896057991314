"""Where ``collectstatic`` puts the console's files, and how they are named."""

import logging

from servestatic.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class ConsoleStaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed names (served as immutable for a year), gzip and brotli copies written once at collect time.

    The console's scripts are ES modules that import one another: Django rewrites those imports to the hashed
    names too (``support_js_module_import_aggregation``), so an upgrade never mixes an old module with a new one.
    A file that was never collected (a server started before ``collectstatic``, a test's fresh state folder) is
    named by its plain name, so the page still renders and says in the log what is missing, instead of a 500.
    """

    support_js_module_import_aggregation = True

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError as missing:
            logger.warning("static file %s is not collected (run manage.py collectstatic): %s", name, missing)
            return name
