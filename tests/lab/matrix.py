"""The detection matrix: for each fault, the outcome of every check id (worst outcome across targets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wcp_acceptance.catalogue import CHECKS as CATALOGUE

CHECKS = tuple(c.id for c in CATALOGUE)  # the columns: the catalogue, in its order
RANK = {"passed": 0, "skipped": 1, "not_run": 2, "failed": 3, "error": 4}
MARK = {"passed": ".", "skipped": "s", "not_run": "-", "failed": "F", "error": "E"}


@dataclass
class Matrix:
    rows: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)  # fault -> check -> (worst, count)
    seconds: dict[str, float] = field(default_factory=dict)

    def record(self, fault: str, tests: list[dict[str, object]], seconds: float) -> None:
        row: dict[str, tuple[str, int]] = {}
        for test in tests:
            check, outcome = str(test["check_id"]), str(test["outcome"])
            worst, count = row.get(check, ("passed", 0))
            if RANK[outcome] > RANK[worst]:
                worst = outcome
            row[check] = (worst, count + (outcome != "passed"))
        self.rows[fault] = row
        self.seconds[fault] = seconds

    def render(self) -> list[str]:
        width = max(len(f) for f in self.rows) + 2
        head = " " * width + " ".join(c.removeprefix("WCP-") for c in CHECKS) + "   suite"
        lines = [head]
        for fault, row in self.rows.items():
            cells = []
            for check in CHECKS:
                worst, count = row.get(check, ("passed", 0))
                cell = MARK[worst] if worst == "passed" else f"{MARK[worst]}{count}"
                cells.append(cell.center(len(check.removeprefix("WCP-"))))
            lines.append(f"{fault:<{width}}" + " ".join(cells) + f"  {self.seconds[fault]:5.1f}s")
        lines.append("(. passed, F<n> n targets failed, E<n> n targets errored)")
        return lines


MATRIX = Matrix()
