"""Load and validate an inventory file, collecting every problem at once (STYLE rule 4).

Each problem is one line: ``<file>: <field path>: <reason>``; a YAML syntax error names the line.
Nothing here raises anything but :class:`InventoryError` for bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from wcp_acceptance.inventory.files import INVENTORY_MAX_BYTES, FileProblem, read_bounded
from wcp_acceptance.inventory.model import Inventory
from wcp_acceptance.inventory.show import shorten, show
from wcp_acceptance.inventory.yaml_text import load_yaml

MAX_PROBLEMS = 20
SOURCE_CHARS = 160
REASON_CHARS = 400


class InventoryError(Exception):
    """The inventory cannot be used; ``problems`` holds one readable line per problem."""

    def __init__(self, problems: Sequence[str], unlisted: int = 0) -> None:
        self.all_problems = list(problems)
        self.count = len(self.all_problems) + unlisted
        shown = self.all_problems[:MAX_PROBLEMS]
        if self.count > len(shown):
            shown.append(f"... and {self.count - len(shown):,} more problems")
        self.problems = shown  # what is printed: at most MAX_PROBLEMS lines and a count of the rest
        super().__init__("\n".join(shown))


def format_loc(loc: Sequence[int | str]) -> str:
    """``('a', 'b', 1, 'c')`` -> ``a.b[1].c``."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for "the key itself": the path already ends in it
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = shorten(str(part), 64)
            out += f".{text}" if out else text
    return out or "(top level)"


_REASONS = {
    "ip_v4_address": "{input} is not an IPv4 address",
    "ip_v4_interface": "{input} is not an IPv4 address with a prefix (like 10.244.0.2/28)",
    "ip_v4_network": "{input} is not an IPv4 network (like 10.244.0.0/20, host bits zero)",
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
    "int_parsing": "{input} is not a whole number",
    "int_type": "{input} is not a whole number",
    "float_parsing": "{input} is not a number",
    "bool_parsing": "{input} is not true or false",
    "bool_type": "{input} is not true or false",
    "float_type": "{input} is not a number",
    "literal_error": "{input} is not one of {expected}",
    "too_short": "must not be empty",
    "too_long": "is longer than {max_length} characters",
    "string_too_short": "must not be empty",
    "string_too_long": "is longer than {max_length} characters",
    "string_type": "{input} is not a string",
    "model_type": "must be a mapping of keys to values",
    "dict_type": "must be a mapping of keys to values",
    "tuple_type": "must be a list",
}


def problem_lines(source: str, error: dict[str, Any]) -> list[str]:
    source = shorten(source, SOURCE_CHARS)
    loc = tuple(x for x in error["loc"] if not (isinstance(x, str) and x.startswith("function-")))
    etype = error["type"]
    template = _REASONS.get(etype)
    if template is not None:
        ctx = error.get("ctx") or {}
        reason = template.format(input=show(error.get("input")), expected=ctx.get("expected", ""),
                                 max_length=ctx.get("max_length", ""))
        if etype in {"greater_than", "less_than_equal"}:
            reason = error["msg"]
        return [f"{source}: {format_loc(loc)}: {reason}"]
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    lines = []
    for part in message.split("\n"):
        if part.startswith("@"):
            field, _, reason = part[1:].partition(": ")
            path = format_loc((*loc, *field.replace("[", ".[").split("."))) if loc else field
            path = path.replace(".[", "[")
            lines.append(f"{source}: {path}: {shorten(reason, REASON_CHARS)}")
        else:
            lines.append(f"{source}: {format_loc(loc)}: {shorten(part, REASON_CHARS)}")
    return lines


def _has_deeper_error(error: dict[str, Any], errors: list[dict[str, Any]]) -> bool:
    loc = tuple(error["loc"])
    return any(len(o["loc"]) > len(loc) and tuple(o["loc"][: len(loc)]) == loc for o in errors)


def _raw_problems(source: str, data: dict[str, Any]) -> list[str]:
    """Cross-item checks that must run even when an item failed typed validation."""
    problems: list[str] = []
    vms = (data.get("supervisor") or {}).get("control_plane") if isinstance(data.get("supervisor"), dict) else None
    if isinstance(vms, list):
        seen: set[str] = set()
        for index, vm in enumerate(vms):
            name = vm.get("name") if isinstance(vm, dict) else None
            if isinstance(name, str):
                if name in seen:
                    problems.append(f"{source}: supervisor.control_plane[{index}].name: duplicate VM name {name!r}")
                seen.add(name)
    return problems


def parse_inventory(data: Any, source: str, base_dir: Path) -> Inventory:
    """Validate already-parsed YAML; raise :class:`InventoryError` with every problem."""
    if not isinstance(data, dict):
        raise InventoryError([f"{shorten(source, SOURCE_CHARS)}: (top level): must be a mapping of keys to values"])
    try:
        return Inventory.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False)]
        problems: list[str] = []
        unlisted = 0
        for error in errors:
            if error["type"] == "too_short" and _has_deeper_error(error, errors):
                continue  # "must not be empty" only because every item was itself invalid
            if len(problems) > MAX_PROBLEMS:
                unlisted += 1  # counted, not formatted: a million bad entries cost no more than twenty
                continue
            problems.extend(problem_lines(source, error))
        problems.extend(p for p in _raw_problems(source, data) if p not in problems)
        raise InventoryError(problems, unlisted) from None


def read_yaml(path: str | Path, kind: str, cap: int = INVENTORY_MAX_BYTES) -> Any:
    """Parse a YAML file of at most ``cap`` bytes with the bounded reader
    (:mod:`wcp_acceptance.inventory.yaml_text`); every problem is one ``<file>: ...`` line in
    :class:`InventoryError` (the lab's topology loader re-raises them as its own error)."""
    source = shorten(str(path), SOURCE_CHARS)
    try:
        text = read_bounded(Path(path), cap).decode("utf-8")
    except FileProblem as exc:
        raise InventoryError([f"{source}: cannot read {kind}: the file {exc}"]) from None
    except UnicodeDecodeError:
        raise InventoryError([f"{source}: not UTF-8 text"]) from None
    try:
        return load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        reason = shorten(str(exc.problem or exc), 200)
        raise InventoryError([f"{source}: {where}: YAML syntax error: {reason}"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([f"{source}: YAML error: {shorten(str(exc), 200)}"]) from None
    except RecursionError:
        raise InventoryError([f"{source}: YAML error: nested too deep"]) from None


def load_inventory(path: str | Path) -> Inventory:
    """Read ``path`` and return the validated inventory, or raise :class:`InventoryError`."""
    data = read_yaml(path, "inventory")
    return parse_inventory(data, str(path), Path(path).resolve().parent)
