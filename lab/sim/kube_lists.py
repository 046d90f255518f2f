"""How the Kubernetes simulator stores and pages lists: snapshots, continue tokens and selectors.

A snapshot holds every object of one kind serialised once, sorted like etcd keys; a ``continue``
token names the snapshot's resourceVersion and the key to start after. A token the server no
longer holds (or cannot read) is expired (410), as kube-apiserver answers after compaction.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from .kube_status import EXPIRED_MESSAGE, ApiError

JsonDict = dict[str, Any]


def key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


@dataclass
class StoredItem:
    namespace: str
    name: str
    obj: JsonDict  # without kind/apiVersion, as list items are written
    body: bytes  # obj serialised once
    sig: bytes  # the same with an empty resourceVersion: equal sig, unchanged object


@dataclass
class Snapshot:
    rv: int
    items: list[StoredItem]
    keys: list[str] = field(default_factory=list)  # "namespace/name" (or "name"), sorted like etcd keys

    def __post_init__(self) -> None:
        self.keys = [key(i.namespace, i.name) for i in self.items]


def encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """The token's resourceVersion and start key; any token the server cannot use is expired (410)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != "meta.k8s.io/v1" or not isinstance(raw.get("rv"), int) or not isinstance(
                raw.get("start"), str):
            raise ValueError("unknown continue token version")
        return raw["rv"], raw["start"]
    except (ValueError, binascii.Error, AttributeError, UnicodeDecodeError):
        raise ApiError(410, EXPIRED_MESSAGE, details={}) from None


def select(items: list[StoredItem], label_selector: str, field_selector: str) -> list[StoredItem]:
    """Equality-based selectors (``k=v``, ``k!=v``, ``k``, ``!k``; fields metadata.name/namespace)."""
    if not label_selector and not field_selector:
        return items

    def matches(values: dict[str, str], selector: str) -> bool:
        for term in filter(None, (t.strip() for t in selector.split(","))):
            if "!=" in term:
                key, want = term.split("!=", 1)
                if values.get(key.strip()) == want.strip():
                    return False
            elif "=" in term:
                key, want = term.replace("==", "=").split("=", 1)
                if values.get(key.strip()) != want.strip():
                    return False
            elif term.startswith("!"):
                if term[1:] in values:
                    return False
            elif term not in values:
                return False
        return True

    out = []
    for item in items:
        labels = item.obj["metadata"].get("labels", {})
        fields = {"metadata.name": item.name, "metadata.namespace": item.namespace}
        if matches(labels, label_selector) and matches(fields, field_selector):
            out.append(item)
    return out
