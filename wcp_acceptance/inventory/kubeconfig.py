"""The kubeconfig an inventory names is checked when the inventory is validated: it must parse, and the
context the inventory names (or its current-context) must be one it holds. A wrong context is then one
line with the contexts found, not four errors and a wrong verdict at run time. When the inventory names
neither a kubeconfig nor a server, the kubeconfig kubectl would use is taken (``KUBECONFIG``, then
``~/.kube/config``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from wcp_acceptance.inventory.files import FileProblem, read_text
from wcp_acceptance.inventory.show import shorten, show
from wcp_acceptance.inventory.yaml_text import load_yaml

SHOWN_CONTEXTS = 10


def _contexts(data: dict[str, Any]) -> list[str]:
    entries = data.get("contexts") or []
    if not isinstance(entries, list):
        return []
    return [e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)]


def _listing(names: list[str]) -> str:
    if not names:
        return "it holds no contexts"
    shown = ", ".join(shorten(n, 64) for n in names[:SHOWN_CONTEXTS])
    more = f" and {len(names) - SHOWN_CONTEXTS} more" if len(names) > SHOWN_CONTEXTS else ""
    return f"contexts found: {shown}{more}"


def context_problem(path: Path, context: str | None) -> str | None:
    """``"@field: reason"`` when the kubeconfig cannot serve ``context``; None when it can."""
    where = shorten(str(path))
    try:
        data = load_yaml(read_text(path))
    except FileProblem as exc:
        return f"@kubeconfig: {where} {exc}"
    except yaml.YAMLError as exc:
        return f"@kubeconfig: {where} is not a readable kubeconfig: {shorten(str(exc), 200)}"
    if not isinstance(data, dict):
        return f"@kubeconfig: {where} is not a kubeconfig (not a mapping of keys to values)"
    names = _contexts(data)
    if context is not None:
        if context not in names:
            return f"@context: {show(context)} is not a context of {where} ({_listing(names)})"
        return _server_problem(data, context, where)
    current = data.get("current-context")
    if not isinstance(current, str) or not current:
        return f"@context: no context given and {where} has no current-context ({_listing(names)})"
    if current not in names:
        return (f"@context: the current-context {show(current)} of {where} is not one of its contexts "
                f"({_listing(names)})")
    return _server_problem(data, current, where)


def _entry(data: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    for entry in data.get(kind) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return {}


def _server_problem(data: dict[str, Any], context: str, where: str) -> str | None:
    """A server URL with ``user:password@`` in it is refused: every error would print it (never echoed)."""
    cluster = (_entry(data, "contexts", context).get("context") or {}).get("cluster")
    if not isinstance(cluster, str):
        return None
    server = (_entry(data, "clusters", cluster).get("cluster") or {}).get("server")
    if isinstance(server, str) and "@" in urlsplit(server if "://" in server else f"https://{server}").netloc:
        return (f"@kubeconfig: the server of cluster {show(cluster)} in {where} contains credentials "
                "(user:password@); give them as the kubeconfig user's token or certificate")
    return None


def _defines(path: Path, context: str | None) -> str | None:
    """The context ``path`` serves (``context`` if it defines it, else its current-context), or None."""
    try:
        data = load_yaml(read_text(path))
    except (FileProblem, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    if context is not None:
        return context if context in _contexts(data) else None
    current = data.get("current-context")
    return current if isinstance(current, str) and current else None


def kubectl_default(context: str | None, environ: dict[str, str] | None = None) -> tuple[Path, str | None] | None:
    """The kubeconfig kubectl would use when the inventory names none: the files of ``KUBECONFIG`` (a
    list; missing ones skipped, the first that defines the context wins, as kubectl merges them) or
    ``~/.kube/config``. Returns (file, context to use), or None when there is none."""
    env = os.environ if environ is None else environ
    listed = env.get("KUBECONFIG", "")
    names = [p for p in listed.split(os.pathsep) if p] if listed else [os.path.expanduser("~/.kube/config")]
    existing = [Path(os.path.abspath(os.path.expanduser(p))) for p in names if os.path.exists(os.path.expanduser(p))]
    if not existing:
        return None
    if len(existing) == 1:
        return existing[0], context
    for path in existing:
        served = _defines(path, context)
        if served is not None:
            return path, served
    return existing[0], context  # none serves it: validation names the contexts of the first
