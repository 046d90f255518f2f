"""A plugin for the suite's process (``-p tests.run.stuck``) that makes a run hang where a test needs it to:

- ``WCP_TEST_CALL_HANG=<text>``: the call phase of the first test whose node id contains the text waits
  until interrupted (a check stuck after its fixtures were set up);
- ``WCP_TEST_FINISH_DELAY_S=<s>``: the end of the session takes that long and shrugs off interrupts, as a
  teardown that does not end would.
"""

from __future__ import annotations

import os
import time

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    text = os.environ.get("WCP_TEST_CALL_HANG")
    if text and text in item.nodeid and not getattr(pytest_runtest_call, "done", False):
        pytest_runtest_call.done = True  # type: ignore[attr-defined]
        time.sleep(3600)  # a signal interrupts it


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    deadline = time.monotonic() + float(os.environ.get("WCP_TEST_FINISH_DELAY_S", "0"))
    while (left := deadline - time.monotonic()) > 0:
        try:
            time.sleep(min(left, 0.1))
        except KeyboardInterrupt:
            continue
