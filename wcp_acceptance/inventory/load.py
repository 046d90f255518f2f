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

from wcp_acceptance.inventory.model import Inventory


class InventoryError(Exception):
    """The inventory cannot be used; ``problems`` holds one readable line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def format_loc(loc: Sequence[int | str]) -> str:
    """``('a', 'b', 1, 'c')`` -> ``a.b[1].c``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_REASONS = {
    "ip_v4_address": "{input!r} is not an IPv4 address",
    "ip_v4_interface": "{input!r} is not an IPv4 address with a prefix (like 10.244.0.2/28)",
    "ip_v4_network": "{input!r} is not an IPv4 network (like 10.244.0.0/20, host bits zero)",
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
    "int_parsing": "{input!r} is not a whole number",
    "int_type": "{input!r} is not a whole number",
    "float_parsing": "{input!r} is not a number",
    "bool_parsing": "{input!r} is not true or false",
    "literal_error": "{input!r} is not one of {expected}",
    "too_short": "must not be empty",
    "string_type": "{input!r} is not a string",
    "model_type": "must be a mapping of keys to values",
    "dict_type": "must be a mapping of keys to values",
    "tuple_type": "must be a list",
}


def problem_lines(source: str, error: dict[str, Any]) -> list[str]:
    loc = tuple(x for x in error["loc"] if not (isinstance(x, str) and x.startswith("function-")))
    etype = error["type"]
    template = _REASONS.get(etype)
    if template is not None:
        ctx = error.get("ctx") or {}
        reason = template.format(input=error.get("input"), expected=ctx.get("expected", ""))
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
            lines.append(f"{source}: {path}: {reason}")
        else:
            lines.append(f"{source}: {format_loc(loc)}: {part}")
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
        raise InventoryError([f"{source}: (top level): must be a mapping of keys to values"])
    try:
        return Inventory.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False)]
        problems: list[str] = []
        for error in errors:
            if error["type"] == "too_short" and _has_deeper_error(error, errors):
                continue  # "must not be empty" only because every item was itself invalid
            problems.extend(problem_lines(source, error))
        problems.extend(p for p in _raw_problems(source, data) if p not in problems)
        raise InventoryError(problems) from None


def read_yaml(path: str | Path, kind: str) -> Any:
    """Parse a YAML file (duplicate keys refused); every problem is one ``<file>: ...`` line in
    :class:`InventoryError` (the lab's topology loader re-raises them as its own error)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([f"{source}: cannot read {kind}: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise InventoryError([f"{source}: not UTF-8 text"]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise InventoryError([f"{source}: {where}: YAML syntax error: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([f"{source}: YAML error: {exc}"]) from None


def load_inventory(path: str | Path) -> Inventory:
    """Read ``path`` and return the validated inventory, or raise :class:`InventoryError`."""
    data = read_yaml(path, "inventory")
    return parse_inventory(data, str(path), Path(path).resolve().parent)
