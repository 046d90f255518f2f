"""The one YAML reader for inventories, lab topologies and kubeconfigs: safe, strict and bounded.

Safe: PyYAML's SafeLoader (no object construction). Strict: a key given twice in one mapping and a
key that is a list or a mapping are refused. Bounded: nesting deeper than :data:`MAX_DEPTH` is refused
before anything recurses into it, and a document whose aliases would add more than
:data:`MAX_ALIAS_EXPANSION` values once expanded (a "billion laughs") or that refers to itself is
refused before anything walks it. Every refusal is a :class:`yaml.YAMLError`; values PyYAML cannot build (a date like
2026-13-45, an integer of 5,000 digits) are one too.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64
MAX_ALIAS_EXPANSION = 100_000


class YamlLimit(yaml.YAMLError):
    """The document is outside the reader's bounds; ``str()`` is the reason."""


if yaml.__with_libyaml__:  # libyaml parses 7x faster and refuses nesting past 1000 levels itself

    class _BoundedLoader(yaml.CSafeLoader):
        pass

else:  # pragma: no cover - PyYAML built without libyaml

    class _BoundedLoader(yaml.SafeLoader):  # type: ignore[no-redef]
        _depth = 0

        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                    raise YamlLimit(f"line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
                return super().compose_node(parent, index)  # type: ignore[no-untyped-call,no-any-return]
            finally:
                self._depth -= 1


def _construct_mapping(loader: _BoundedLoader, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # "<<: *defaults": SafeConstructor merges it below
        if isinstance(key_node, MappingNode | SequenceNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a list or a mapping cannot be a key", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_BoundedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(root: Node) -> tuple[int, int, int]:
    """(distinct nodes, nodes once every alias is expanded, depth once expanded), without recursion and
    memoised, so an alias bomb costs only its size on disk; an alias inside its own anchor is refused."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    kids_of: dict[int, list[Node]] = {}
    stack: list[Node] = [root]
    while stack:
        node = stack[-1]
        key = id(node)
        kids = kids_of.get(key)
        if kids is None:  # first visit: open it and visit its unmeasured children
            if key in size:
                stack.pop()
                continue
            kids = kids_of[key] = _children(node)
            for kid in kids:
                kid_key = id(kid)
                if kid_key in kids_of and kid_key not in size:
                    raise YamlLimit(f"line {kid.start_mark.line + 1}: an alias refers to the node that contains it")
                if isinstance(kid, ScalarNode):
                    size[kid_key], height[kid_key] = 1, 1
                elif kid_key not in size:
                    stack.append(kid)
            continue
        stack.pop()
        if key not in size:
            size[key] = 1 + sum(size[id(k)] for k in kids)
            height[key] = 1 + max((height[id(k)] for k in kids), default=0)
    return len(size), size[id(root)], height[id(root)]


def load_yaml(text: str) -> Any:
    """Parse one YAML document within the bounds above; raise :class:`yaml.YAMLError` otherwise."""
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        distinct, expanded, depth = _measure(root)
        if depth > MAX_DEPTH:
            raise YamlLimit(f"nested {depth:,} levels deep (aliases expanded), more than the {MAX_DEPTH} allowed")
        if expanded - distinct > MAX_ALIAS_EXPANSION:
            raise YamlLimit(f"its aliases expand to {expanded:,} values, more than {MAX_ALIAS_EXPANSION:,} beyond "
                            f"the {distinct:,} written (an alias bomb)")
        try:
            return loader.construct_document(root)
        except (ValueError, TypeError, OverflowError) as exc:
            raise YamlLimit(f"a value cannot be read: {exc}") from None
    finally:
        loader.dispose()
