"""The ``wcp-acceptance`` command: ``run`` the packaged suite, list the ``checks``, ``diff`` two runs, ``discover``
an inventory."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from wcp_acceptance import __version__
from wcp_acceptance.cli import checks, diff, discover, run

COMMANDS = (run, checks, diff, discover)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wcp-acceptance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"wcp-acceptance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    words = list(sys.argv[1:] if argv is None else argv)
    tail: list[str] = []
    if "--" in words:  # `run ... -- <pytest args>`: everything after -- is pytest's, never an inventory
        cut = words.index("--")
        words, tail = words[:cut], words[cut + 1:]
    args, rest = parser.parse_known_args(words)
    args.after_dashes = tail
    if (rest or tail) and not getattr(args, "accepts_pytest_args", False):
        parser.error(f"unrecognized arguments: {' '.join(rest + tail)}")
    try:
        return int(args.handler(args, rest))
    except BrokenPipeError:  # `wcp-acceptance checks | head`
        sys.stderr.close()
        return 0
