"""Findings: what a check expected, what it observed, the likely cause and the evidence.

Checks are pure functions ``observation -> Finding``; tests call :func:`expect` on the result.
A failing finding raises :class:`CheckFailed` whose message is the whole story (STYLE rule 7);
an observation that could not be made raises :class:`ObservationError` (an *error* outcome).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Finding:
    """The result of one check against one target."""

    check_id: str
    target: str
    ok: bool
    expected: str
    observed: str
    cause: str = ""
    evidence: tuple[str, ...] = field(default_factory=tuple)
    # None: the catalogue's severity for the check; a check may grade one failure lower (a warning is "major")
    severity: Literal["critical", "major"] | None = None

    def message(self) -> str:
        lines = [f"{self.target}: expected {self.expected}; observed {self.observed}."]
        if self.severity is not None and not self.ok:
            lines.append(f"Severity: {self.severity}.")
        if self.cause:
            lines.append(f"Likely cause: {self.cause}.")
        if self.evidence:
            lines.append("Evidence:")
            lines.extend(f"  {item}" for item in self.evidence)
        return "\n".join(lines)

    def __str__(self) -> str:
        state = "ok" if self.ok else "FAIL"
        return f"<Finding {self.check_id} {self.target} {state}>"


def passed(check_id: str, target: str, expected: str, observed: str) -> Finding:
    return Finding(check_id, target, True, expected, observed)


def failed(
    check_id: str,
    target: str,
    expected: str,
    observed: str,
    cause: str,
    evidence: Iterable[str] = (),
    *,
    severity: Literal["critical", "major"] | None = None,
) -> Finding:
    return Finding(check_id, target, False, expected, observed, cause, tuple(evidence), severity)


class CheckFailed(AssertionError):
    """The system is wrong: the finding says how."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message())
        self.finding = finding


class ObservationError(Exception):
    """We could not observe (unreachable, auth refused, timed out): an *error*, never a pass.

    ``target`` names what could not be reached, ``cause`` is the readable reason (no secrets),
    ``evidence`` holds raw material for the report.
    """

    def __init__(self, target: str, cause: str, evidence: Iterable[str] = ()) -> None:
        super().__init__(f"{target}: could not observe: {cause}")
        self.target = target
        self.cause = cause
        self.evidence = tuple(evidence)


_LISTENERS: list[Callable[[Finding], None]] = []


def listen(callback: Callable[[Finding], None]) -> Callable[[], None]:
    """Call ``callback`` with every finding :func:`expect` judges (the report keeps passing observations);
    returns the function that stops listening."""
    _LISTENERS.append(callback)
    return lambda: _LISTENERS.remove(callback)


def expect(finding: Finding) -> Finding:
    """Raise :class:`CheckFailed` unless the finding holds; return it for chaining."""
    __tracebackhide__ = True
    for callback in list(_LISTENERS):
        callback(finding)
    if not finding.ok:
        raise CheckFailed(finding)
    return finding
