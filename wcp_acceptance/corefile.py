"""The ``forward`` upstreams of CoreDNS's root server block, read from a Corefile's text.

The Supervisor's CoreDNS configuration lives in the ``kube-system/coredns`` ConfigMap, key
``Corefile``. Its exact contents on a Supervisor are **not public** (FIELD-FACTS "CoreDNS"), so
this parser assumes only CoreDNS's own Corefile syntax (coredns.io/manual/configuration): server
blocks ``<keys> { <directives> }``, ``#`` comments, directives one per line, a directive's own
block in braces. It looks for the server block whose keys include the root zone (``.``,
``.:53``, ``dns://.:53``) and its ``forward . <to...>`` directive; each ``to`` may be
``ADDR``, ``ADDR:PORT`` or ``dns://ADDR[:PORT]``. Anything else (``/etc/resolv.conf``,
``tls://``, a name, no root block, no forward) is reported as a problem, never guessed: the
check then errors as could-not-observe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address

ROOT_KEYS = (".", ".:53", "dns://.", "dns://.:53")
COREDNS_CONFIGMAP = ("kube-system", "coredns")


@dataclass(frozen=True)
class Upstream:
    """One ``to`` of the forward directive: ``text`` as written, the address and port it names."""

    text: str
    address: IPv4Address
    port: int = 53

    def __str__(self) -> str:
        return str(self.address) if self.port == 53 else f"{self.address}:{self.port}"


@dataclass(frozen=True)
class CorefileUpstreams:
    """What the Corefile says: the upstreams, the forward line as written, or the problem that stops reading it."""

    upstreams: tuple[Upstream, ...]
    forward_line: str = ""
    problem: str = ""


_TOKEN = re.compile(r"\{|\}|[^\s{}]+")
OPEN, CLOSE = "{", "}"


def _lines(text: str) -> list[list[str]]:
    """Tokens per line, comments dropped (``#`` to the end of the line)."""
    out: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        tokens = _TOKEN.findall(line)
        if tokens:
            out.append(tokens)
    return out


def _server_blocks(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """``(keys, directive lines)`` of each top-level server block (nested blocks kept inside the lines)."""
    blocks: list[tuple[list[str], list[list[str]]]] = []
    depth = 0
    keys: list[str] = []
    body: list[list[str]] = []
    for tokens in _lines(text):
        if depth == 0:
            if "{" not in tokens:
                keys.extend(t.rstrip(",") for t in tokens)  # keys may span lines, comma separated
                continue
            cut = tokens.index("{")
            keys.extend(t.rstrip(",") for t in tokens[:cut] if t.rstrip(","))
            depth, body, rest = 1, [], tokens[cut + 1:]
            tokens = rest
            if not tokens:
                continue
        line: list[str] = []
        for token in tokens:
            if token == OPEN:
                depth += 1
            elif token == CLOSE:
                depth -= 1
                if depth == 0:
                    if line:
                        body.append(line)
                    blocks.append(([k for k in keys if k], body))
                    keys, line = [], []
                    continue
            line.append(token)
        if line and depth > 0:
            body.append(line)
    return blocks


def _upstream(text: str) -> Upstream | None:
    value = text.removeprefix("dns://")
    host, port = value, 53
    if ":" in value:
        host, _, port_text = value.rpartition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return None
        port = int(port_text)
    try:
        return Upstream(text, IPv4Address(host), port)
    except ValueError:
        return None


def corefile_upstreams(text: str) -> CorefileUpstreams:
    """The root block's ``forward .`` upstreams, or the problem that stops reading them."""
    if not text.strip():
        return CorefileUpstreams((), problem="the Corefile is empty")
    roots = [body for keys, body in _server_blocks(text) if any(k.lower() in ROOT_KEYS for k in keys)]
    if not roots:
        return CorefileUpstreams((), problem="the Corefile has no server block for the root zone ('.:53')")
    forwards = [line for line in roots[0] if line and line[0] == "forward"]
    if not forwards:
        return CorefileUpstreams((), problem="the root server block has no forward directive")
    line = forwards[0]
    written = " ".join(t for t in line if t not in ("{", "}"))
    if len(line) < 3 or line[1] != ".":
        return CorefileUpstreams((), written, "the forward directive does not forward the root zone ('forward . ...')")
    upstreams: list[Upstream] = []
    for word in line[2:]:
        if word == OPEN:
            break
        upstream = _upstream(word)
        if upstream is None:
            return CorefileUpstreams((), written, f"upstream {word!r} is not an IPv4 address[:port] this check can "
                                                  "ask (a file such as /etc/resolv.conf, tls:// or a name)")
        upstreams.append(upstream)
    if not upstreams:
        return CorefileUpstreams((), written, "the forward directive names no upstream")
    return CorefileUpstreams(tuple(upstreams), written)
