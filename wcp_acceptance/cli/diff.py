"""``wcp-acceptance diff A B``: what changed between two runs; the exit code tells a change gate if it got worse.

A and B are run folders, ``latest``/``last-good`` links, or summary.json files. When B lives in a
site's folder, the site's runs up to B also name the targets that flapped over the last runs.
Exit: 0 nothing worse, 1 worse (a new failure or could-not-observe error), 3 cannot tell (B did not
finish or did not reach a target that passed in A), 4 unreadable input, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wcp_acceptance.report.diff import EXIT_CODES, UNREADABLE, diff_summaries
from wcp_acceptance.report.run import run_order
from wcp_acceptance.report.site_runs import ResolvedRun, SummaryError, resolve_run, site_runs
from wcp_acceptance.report.trend import TREND_RUNS


def add_parser(sub: Any) -> None:
    codes = "; ".join(f"{code} {text.split(':')[0]}" for code, text in EXIT_CODES.items())
    p = sub.add_parser("diff", help="compare two runs (run folders, latest/last-good links or summary.json files)",
                       description=__doc__.split("\n\n")[0], epilog=f"exit codes: {codes}; 2 bad usage")
    p.add_argument("before", metavar="A", help="the earlier run (the baseline)")
    p.add_argument("after", metavar="B", help="the later run")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--window", type=int, default=TREND_RUNS, metavar="N",
                   help=f"flapping over the last N runs of B's site (default {TREND_RUNS}; 0: do not look)")
    p.set_defaults(handler=handle)


def _history(run: ResolvedRun, window: int) -> list[dict[str, Any]]:
    """The summaries of the runs of B's site before B, oldest first (at most ``window - 1``)."""
    if run.run_dir is None or window < 2:
        return []
    before = [r for r in site_runs(run.run_dir.parent)
              if r.summary is not None and run_order(r.name) < run_order(run.run_dir.name)]
    return [r.summary for r in before[: window - 1][::-1] if r.summary is not None]


def handle(args: argparse.Namespace, _rest: list[str]) -> int:
    try:
        before, after = resolve_run(args.before), resolve_run(args.after)
    except SummaryError as exc:
        print(f"wcp-acceptance diff: {exc}", file=sys.stderr)  # noqa: T201
        return UNREADABLE
    result = diff_summaries(before.summary, after.summary, label=before.label, after_label=after.label,
                            history=_history(after, args.window), window=args.window)
    if args.format == "json":
        print(json.dumps(result.as_json(), indent=2))  # noqa: T201
    else:
        print(result.render_text())  # noqa: T201
    return result.exit_code
