"""``python -m lab``: the ``wcp-lab`` command line (see lab.cli)."""

import sys

from .cli import main

sys.exit(main())
