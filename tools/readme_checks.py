"""Write the README's check table from the check catalogue (``make readme``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from wcp_acceptance import catalogue

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- checks:begin[^>]*-->\n).*?(\n<!-- checks:end -->)", re.S)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        print(f"{README}: no <!-- checks:begin --> ... <!-- checks:end --> block", file=sys.stderr)  # noqa: T201
        return 1
    new = BLOCK.sub(lambda m: m.group(1) + catalogue.table_markdown() + m.group(2), text)
    if new != text:
        README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
