"""``wcp-acceptance diff A B``: what changed between two runs."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("diff", help="compare two runs (run folders or summary.json files)")
    p.add_argument("before")
    p.add_argument("after")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace, _rest: list[str]) -> int:
    raise SystemExit("wcp-acceptance diff: not available yet")
