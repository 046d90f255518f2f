"""The records a run keeps: one per selected test, and what was selected (no pytest here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Outcome = Literal["passed", "failed", "error", "skipped", "not_run"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped", "not_run")


@dataclass
class TestRecord:
    check_id: str
    nodeid: str
    title: str
    target: str
    outcome: Outcome = "passed"
    duration_s: float = 0.0
    expected: str | None = None
    observed: str | None = None
    cause: str | None = None
    evidence: list[str] = field(default_factory=list)
    skip_reason: str | None = None
    severity: str | None = None  # set only when a finding grades its failure apart from the catalogue

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["duration_s"] = round(self.duration_s, 3)
        keep = {
            "passed": ("observed",),
            "skipped": ("skip_reason",),
            "not_run": (),
        }.get(self.outcome, ("expected", "observed", "cause", "evidence", "severity"))
        for key in ("expected", "observed", "cause", "evidence", "skip_reason", "severity"):
            if key not in keep or data[key] is None:
                data.pop(key)
        return data


@dataclass
class Selection:
    """What the run was asked to run: markers, keywords, check ids; what that left out."""

    markers: str = ""
    keywords: str = ""
    checks: list[str] = field(default_factory=list)
    maxfail: int = 0
    deselected: int = 0
    deselected_checks: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, object]:
        return {"markers": self.markers, "keywords": self.keywords, "checks": self.checks,
                "maxfail": self.maxfail, "deselected": self.deselected,
                "deselected_checks": sorted(self.deselected_checks)}
