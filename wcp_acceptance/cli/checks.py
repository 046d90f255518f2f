"""``wcp-acceptance checks``: print the check catalogue (text, the README's Markdown table, or JSON)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from wcp_acceptance import catalogue


def add_parser(sub: Any) -> None:
    p = sub.add_parser("checks", help="print the check catalogue")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace, _rest: list[str]) -> int:
    if args.format == "markdown":
        print(catalogue.table_markdown())  # noqa: T201
    elif args.format == "json":
        print(json.dumps({"catalogue_version": catalogue.catalogue_version(),  # noqa: T201
                          "areas": [asdict(a) for a in catalogue.AREAS],
                          "checks": [asdict(c) for c in catalogue.CHECKS]}, indent=2))
    else:
        print(catalogue.render_text())  # noqa: T201
    return 0
