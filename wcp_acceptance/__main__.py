"""``python -m wcp_acceptance``: the ``wcp-acceptance`` command."""

from wcp_acceptance.cli import main

raise SystemExit(main())
