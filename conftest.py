"""The wcp-acceptance pytest plugin is :mod:`wcp_acceptance.plugin`; this file only points at it.

The installed project registers the plugin through its ``pytest11`` entry point, so it is active
for ``pytest tests_live --inventory site.yaml`` from a checkout, for ``pytest --inventory
site.yaml`` anywhere (which runs the packaged suite) and for ``wcp-acceptance run``. With plugin
autoload off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), add ``-p wcp_acceptance.plugin``. The project's
own tests under tests/ see the plugin too and find it inert (no inventory, no tests_live).
"""
