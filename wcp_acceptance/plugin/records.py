"""One record per test, from its reports: outcome, the finding's expected/observed/cause/evidence."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from wcp_acceptance.finding import CheckFailed, Finding, ObservationError, listen
from wcp_acceptance.plugin.collection import check_id_of, target_of, title_of
from wcp_acceptance.plugin.state import RUN
from wcp_acceptance.redact import redact
from wcp_acceptance.report.summary import TestRecord

FINDINGS = pytest.StashKey[list[Finding]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Keep the findings the test judged: a passing one records what was observed."""
    if item.config.stash.get(RUN, None) is None:
        return (yield)
    seen: list[Finding] = []
    item.stash[FINDINGS] = seen
    stop = listen(seen.append)
    try:
        return (yield)
    finally:
        stop()


def _record(item: pytest.Item) -> TestRecord | None:
    run = item.config.stash.get(RUN, None)
    if run is None:
        return None
    return run.records.setdefault(item.nodeid, TestRecord(
        check_id=check_id_of(item), nodeid=item.nodeid, title=title_of(item), target=target_of(item)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    record = _record(item)
    if record is None:
        return report
    try:
        return _recorded(item, call, report, record)
    finally:
        _redact_report(report, record)


def _redact_report(report: pytest.TestReport, record: TestRecord) -> None:
    """What the terminal, junit.xml and report.html show of a test, with credentials masked."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], redact(str(longrepr[2])))
    elif longrepr is not None:
        text = str(longrepr)
        if redact(text) != text:
            report.longrepr = redact(text)
    report.sections = [(title, redact(content)) for title, content in report.sections]
    report.user_properties = [(name, redact(value) if isinstance(value, str) else value)
                              for name, value in report.user_properties]
    for name in ("expected", "observed", "cause", "skip_reason"):
        value = getattr(record, name)
        if isinstance(value, str):
            setattr(record, name, redact(value))
    record.evidence = [redact(line) for line in record.evidence]


def _recorded(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport,
              record: TestRecord) -> pytest.TestReport:
    if record.outcome == "not_run":
        record.outcome = "passed"
    record.duration_s += report.duration
    findings = item.stash.get(FINDINGS, [])
    if report.when == "call":
        wrong = sorted({f.check_id for f in findings if f.check_id != record.check_id})
        if wrong and report.passed:  # a suite bug: the test judged another check's finding
            report.outcome = "failed"
            report.longrepr = (f"[{record.check_id}] suite error: the test judged a finding of "
                               f"{', '.join(wrong)}, not of its own check")
            record.outcome, record.expected = "error", f"findings of {record.check_id}"
            record.observed, record.cause = f"a finding of {', '.join(wrong)}", "a bug in the suite's live test"
            return report
        if findings and findings[-1].ok:
            record.observed = findings[-1].observed
    excinfo = call.excinfo
    if report.skipped and record.outcome == "passed":
        record.outcome = "skipped"
        longrepr = report.longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        record.skip_reason = reason.removeprefix("Skipped: ")
    elif report.failed:
        record.outcome = "failed" if report.when == "call" else "error"
        value = excinfo.value if excinfo else None
        if isinstance(value, CheckFailed):
            f = value.finding
            record.expected, record.observed, record.cause = f.expected, f.observed, f.cause
            record.evidence = list(f.evidence)
            record.severity = f.severity
            report.longrepr = f"[{record.check_id}] {f.message()}"
        elif isinstance(value, ObservationError):
            record.outcome = "error"
            record.expected = "an observation"
            record.observed = f"could not observe {value.target}"
            record.cause = value.cause
            record.evidence = list(value.evidence)
            report.longrepr = f"[{record.check_id}] {value}"
        elif value is not None:
            record.outcome = "error"
            record.expected = "the check to run"
            record.observed = f"{type(value).__name__}: {value}"
            record.cause = "an unexpected error in the suite while observing"
        elif record.cause is None:
            record.expected = "the check to run"
            record.observed = str(report.longrepr)[:500]
            record.cause = "the suite refused the test"
    return report
