"""Where ``collectstatic`` puts the console's files, and how they are named."""

from servestatic.storage import CompressedManifestStaticFilesStorage


class ConsoleStaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed names (served as immutable for a year), gzip and brotli copies written once at collect time.

    The console's scripts are ES modules that import one another: Django rewrites those imports to the hashed
    names too (``support_js_module_import_aggregation``), so an upgrade never mixes an old module with a new one.
    Without a manifest (a server whose files were never collected), templates fall back to the plain names
    (``SERVESTATIC_MANIFEST_STRICT`` in the settings: ServeStatic reads it over the class's attribute).
    """

    support_js_module_import_aggregation = True
