"""Lab tests: print the detection matrix (fault x check) that the fault tests collected."""

from __future__ import annotations

import pytest

from tests.lab.matrix import MATRIX


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MATRIX.rows:
        terminalreporter.section("detection matrix (fault x check)")
        for line in MATRIX.render():
            terminalreporter.write_line(line)
