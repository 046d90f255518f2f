"""A strict reader of Prometheus' text exposition format (version 0.0.4), as node_exporter's textfile
collector reads it: every line a HELP, a TYPE or a sample; label values escaped; each family's TYPE
before its samples, once; a family's samples together; no series twice; no timestamps (the collector
refuses them). Raises ``ExpositionError`` naming the line and why."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
FLOAT = r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|Inf)|NaN"
HELP_RE = re.compile(rf"^# HELP (?P<name>{NAME}) (?P<text>(?:[^\\\n]|\\[\\n])*)$")
TYPE_RE = re.compile(rf"^# TYPE (?P<name>{NAME}) (?P<type>counter|gauge|histogram|summary|untyped)$")
SAMPLE_RE = re.compile(rf"^(?P<name>{NAME})(?:\{{(?P<labels>{LABEL}={VALUE}(?:,{LABEL}={VALUE})*)?\}})? "
                       rf"(?P<value>{FLOAT})$")
PAIR_RE = re.compile(rf"({LABEL})=({VALUE})")


class ExpositionError(AssertionError):
    pass


def unescape(quoted: str) -> str:
    return re.sub(r"\\([\\\"n])", lambda m: "\n" if m[1] == "n" else m[1], quoted[1:-1])


@dataclass
class Family:
    name: str
    type: str
    help: str = ""
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def value(self, **labels: str) -> float:
        """The value of the one sample whose labels include ``labels``."""
        found = [v for got, v in self.samples if all(got.get(k) == want for k, want in labels.items())]
        if len(found) != 1:
            raise ExpositionError(f"{self.name}{labels}: {len(found)} samples match, expected exactly 1")
        return found[0]


def parse(text: str) -> dict[str, Family]:
    if not text.endswith("\n"):
        raise ExpositionError("the file does not end with a newline")
    families: dict[str, Family] = {}
    helps: dict[str, str] = {}
    current: str | None = None
    series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {n}: {line!r}"
        if m := HELP_RE.match(line):
            if m["name"] in helps:
                raise ExpositionError(f"{where}: second HELP for {m['name']}")
            helps[m["name"]] = m["text"]
        elif m := TYPE_RE.match(line):
            if m["name"] in families:
                raise ExpositionError(f"{where}: second TYPE for {m['name']} (or TYPE after its samples)")
            families[m["name"]] = Family(m["name"], m["type"], helps.get(m["name"], ""))
            current = m["name"]
        elif m := SAMPLE_RE.match(line):
            if m["name"] not in families:
                raise ExpositionError(f"{where}: sample before the TYPE of its family")
            if m["name"] != current:
                raise ExpositionError(f"{where}: the samples of {m['name']} are not together")
            labels = {k: unescape(v) for k, v in PAIR_RE.findall(m["labels"] or "")}
            key = (m["name"], tuple(sorted(labels.items())))
            if key in series or len(labels) != len(PAIR_RE.findall(m["labels"] or "")):
                raise ExpositionError(f"{where}: a series (or a label) appears twice")
            series.add(key)
            families[m["name"]].samples.append((labels, float(m["value"])))
        else:
            raise ExpositionError(f"{where}: neither HELP, TYPE nor a sample (without timestamp) of the text format")
    for name, family in families.items():
        if not family.samples:
            raise ExpositionError(f"{name}: TYPE without samples")
        if name not in helps:
            raise ExpositionError(f"{name}: no HELP")
    return families
