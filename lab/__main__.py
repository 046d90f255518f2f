"""``python -m lab``: the ``wcp-lab`` command line (see lab.cli)."""

import sys

from lab.cli import main

sys.exit(main())
