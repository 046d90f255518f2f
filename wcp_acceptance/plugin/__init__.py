"""The wcp-acceptance pytest plugin: options, inventory validation, selection by check id, records, reports.

Registered through the ``pytest11`` entry point of the installed project (and named by the root
``conftest.py`` of a checkout); inert unless a suite run is requested (an inventory is given or
``tests_live`` is collected). One module per job:

- ``options``: the ``wcp`` option group (command line > environment > ini > default);
- ``session``: validate the inventory, create the run directory, point pytest-html/JUnit there;
- ``collection``: parametrisation, ids, check ids, ``--check`` selection, exclusions, not-run records;
- ``records``: one :class:`~wcp_acceptance.report.summary.TestRecord` per test from its reports;
- ``html``: pytest-html hooks (title, columns, environment table, evidence);
- ``finish``: summary.json, the run links and the one-line summary for cron.

The library (everything in :mod:`wcp_acceptance` outside this package) never imports pytest.
"""

pytest_plugins = [
    "wcp_acceptance.plugin.options",
    "wcp_acceptance.plugin.session",
    "wcp_acceptance.plugin.collection",
    "wcp_acceptance.plugin.records",
    "wcp_acceptance.plugin.html",
    "wcp_acceptance.plugin.finish",
    "wcp_acceptance.plugin.baseline", "wcp_acceptance.plugin.retention",
    "wcp_acceptance.plugin.progress", "wcp_acceptance.plugin.signals",
    "wcp_acceptance.fixtures.site",
    "wcp_acceptance.fixtures.vms",
    "wcp_acceptance.fixtures.apis",
    "wcp_acceptance.fixtures.routing",
    "wcp_acceptance.fixtures.observations",
]
