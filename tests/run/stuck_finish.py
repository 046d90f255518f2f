"""A plugin for the suite's process (``-p tests.run.stuck_finish``): the end of the session takes
``WCP_TEST_FINISH_DELAY_S`` seconds and shrugs off interrupts, as a teardown that does not end would."""

from __future__ import annotations

import os
import time

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    deadline = time.monotonic() + float(os.environ.get("WCP_TEST_FINISH_DELAY_S", "0"))
    while (left := deadline - time.monotonic()) > 0:
        try:
            time.sleep(min(left, 0.1))
        except KeyboardInterrupt:
            continue
