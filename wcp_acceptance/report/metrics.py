"""The Prometheus textfile of a run, for node_exporter's textfile collector (no pytest here).

One file per site, ``wcp_acceptance_<site>.prom``, so several sites share one collector directory:
in ``$WCP_TEXTFILE_DIR`` when set (point it at the collector's ``--collector.textfile.directory``),
else at the report root. Written atomically (a temporary name the collector ignores, then a rename),
mode 0644. Every series carries ``site``; the collector adds no timestamps, so times are values:

- ``wcp_acceptance_check_outcome{site,check_id,outcome}``: 1 for the check's worst outcome over its
  targets (failed > error > not_run > passed > skipped), 0 for the others;
- ``wcp_acceptance_check_targets{site,check_id,outcome}``: how many of the check's targets ended so;
- ``wcp_acceptance_run_verdict{site,verdict}``: 1 for the run's verdict; ``..._run_targets{site,outcome}``;
- ``wcp_acceptance_run_exit_code``, ``..._run_full_scope``, ``..._run_start_time_seconds``,
  ``..._run_finish_time_seconds``, ``..._run_duration_seconds``;
- ``wcp_acceptance_up``: 1 when the run reached a verdict on the site (exit 0 or 1), else 0;
- ``wcp_acceptance_last_success_time_seconds``: when the last HEALTHY full run finished (kept from the
  previous file while runs are not healthy; 0: none yet);
- ``wcp_acceptance_info{site,supervisor,suite_version,catalogue_version}``: 1.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from wcp_acceptance.redact import redact, redact_data
from wcp_acceptance.report.records import OUTCOMES
from wcp_acceptance.report.verdict import Verdict

TEXTFILE_DIR_ENV = "WCP_TEXTFILE_DIR"
PREFIX = "wcp_acceptance"
WORST_FIRST = ("failed", "error", "not_run", "passed", "skipped")
VERDICTS: tuple[str, ...] = get_args(Verdict)
LAST_SUCCESS = f"{PREFIX}_last_success_time_seconds"
_LAST_SUCCESS_RE = re.compile(rf'^{LAST_SUCCESS}\{{site="(?P<site>(?:[^"\\]|\\.)*)"\}} (?P<value>\S+)$', re.M)

Labels = Mapping[str, str]


def escape_label(value: str) -> str:
    """A label value as the text exposition format writes it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Exposition:
    """Metric families in the text format: HELP and TYPE once, then the family's samples together."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, help_text: str, samples: Iterable[tuple[Labels, float]]) -> None:
        self.lines += [f"# HELP {PREFIX}_{name} {_escape_help(help_text)}", f"# TYPE {PREFIX}_{name} gauge"]
        for labels, value in samples:
            body = ",".join(f'{key}="{escape_label(str(val))}"' for key, val in labels.items())
            self.lines.append(f"{PREFIX}_{name}{{{body}}} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _unix(text: object) -> float | None:
    if not text:
        return None
    moment = datetime.fromisoformat(str(text))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def textfile_path(directory: Path, site: str) -> Path:
    return directory / f"{PREFIX}_{site}.prom"


def previous_last_success(path: Path, site: str) -> float:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return 0.0
    for match in _LAST_SUCCESS_RE.finditer(text):
        if match["site"] == escape_label(site):
            try:
                return float(match["value"])
            except ValueError:
                return 0.0
    return 0.0


def render(summary: Mapping[str, Any], *, last_success: float = 0.0) -> str:
    """The textfile for one finished run (``summary.json`` data, schema 2)."""
    site = str(summary["inventory"])
    s = {"site": site}
    tests = [t for t in summary.get("tests", []) if isinstance(t, Mapping)]
    per_check: dict[str, Counter[str]] = defaultdict(Counter)
    for test in tests:
        per_check[str(test["check_id"])][str(test["outcome"])] += 1
    started, finished = _unix(summary.get("started_at")), _unix(summary.get("finished_at"))
    verdict = str(summary.get("verdict"))
    exit_code = summary.get("exit_code")
    full = bool((summary.get("scope") or {}).get("full"))
    if verdict == "HEALTHY" and full and finished is not None:
        last_success = finished
    totals = summary.get("totals") or {}

    out = Exposition()
    out.family("check_outcome", "1 for the worst outcome of the check over its targets in the site's latest run.",
               ((s | {"check_id": check, "outcome": o}, float(o == _worst(counts)))
                for check, counts in sorted(per_check.items()) for o in OUTCOMES))
    out.family("check_targets", "Targets of the check with this outcome in the site's latest run.",
               ((s | {"check_id": check, "outcome": o}, counts.get(o, 0))
                for check, counts in sorted(per_check.items()) for o in OUTCOMES))
    out.family("run_verdict", "1 for the verdict of the site's latest run (HEALTHY, UNHEALTHY, INCOMPLETE, ...).",
               ((s | {"verdict": v}, float(v == verdict)) for v in VERDICTS))
    out.family("run_targets", "Targets with this outcome in the site's latest run.",
               ((s | {"outcome": o}, int(totals.get(o, 0) or 0)) for o in OUTCOMES))
    out.family("run_exit_code", "Exit code of the site's latest run (0 healthy, 1 a check failed or could not "
               "observe, 2 interrupted).", [(s, int(exit_code) if exit_code is not None else -1)])
    out.family("run_full_scope", "1 when the latest run covered the whole catalogue (no selection, nothing cut "
               "short).", [(s, float(full))])
    out.family("up", "1 when the site's latest run reached a verdict on the site (exit 0 or 1).",
               [(s, float(exit_code in (0, 1)))])
    if started is not None:
        out.family("run_start_time_seconds", "When the site's latest run started (unix seconds).", [(s, started)])
    if finished is not None:
        out.family("run_finish_time_seconds", "When the site's latest run finished (unix seconds).", [(s, finished)])
    if started is not None and finished is not None:
        out.family("run_duration_seconds", "Wall time of the site's latest run.", [(s, max(0.0, finished - started))])
    out.family(LAST_SUCCESS.removeprefix(f"{PREFIX}_"), "When the site's last HEALTHY full run finished (unix "
               "seconds; 0: none recorded yet).", [(s, last_success)])
    out.family("info", "The suite that made the site's latest run.",
               [(s | {"supervisor": str(summary.get("supervisor", "")),
                      "suite_version": str(summary.get("suite_version", "")),
                      "catalogue_version": str(summary.get("catalogue_version", ""))}, 1)])
    return out.text()


def _worst(counts: Counter[str]) -> str:
    return next(o for o in WORST_FIRST if counts.get(o))


def textfile_dir(report_root: Path) -> Path:
    given = os.environ.get(TEXTFILE_DIR_ENV)
    return Path(given) if given else report_root


def write_textfile(report_root: Path, summary: Mapping[str, Any]) -> Path | None:
    """Write this site's metrics beside the other sites' (one file per site); its path, or None (and a line
    on stderr) when it cannot be written: metrics never change a run's verdict or exit code."""
    directory = textfile_dir(report_root)
    site = str(summary["inventory"])
    path = textfile_path(directory, site)
    text = redact(render(redact_data(summary), last_success=previous_last_success(path, site)))
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"  # the collector reads *.prom only
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        tmp.replace(path)
    except OSError as exc:
        print(f"wcp-acceptance: cannot write the Prometheus textfile {path}: {exc}", file=sys.stderr)  # noqa: T201
        return None
    return path
