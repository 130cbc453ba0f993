"""The fix designs on their patched servers: every suite case of each design (conform/suite.py),
driven on opencode 1.15.4 patched with that design (conform/build, cached), and the agreement
table per design.

    .venv/bin/python -m turnproof.conform.fixes [--runs N] [--design D ...] [--scenario NAME ...]
        [--out docs/fixes.md]

Exit 0 when real and model agree in every run, 1 when any case disagrees, 2 when a design could
not be built or a case not driven (and none disagreed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from turnproof.conform import HarnessError
from turnproof.conform.harness import Harness
from turnproof.conform.schedule import driveable
from turnproof.conform.suite import Case, cases, publish, run_case, table
from turnproof.conform.target import resolve
from turnproof.model.system import System
from turnproof.specs.loader import InputError, load_design, load_scenario

RELEASE = "1.15.4"
RELEASE_DESIGN = "v1.15.4"  # the design that describes RELEASE, whose breaking schedules each fix is driven through
# The fix designs of docs/knobs.md, the two that only look right last.
FIXES = ("bind-turn", "serialize-turn", "bind-and-serialize", "parent-exit", "queue-overlap", "one-runner")
BEGIN, END = "<!-- fixes:begin -->", "<!-- fixes:end -->"


def fix_cases(design: str, only: list[str] | None) -> list[Case]:
    """The design's own suite cases, then every schedule that breaks the release's own design
    (its shortest driveable counterexamples) that can be driven on the fix too: a fix is judged on
    the very schedules that broke the release, whatever the model says of them there."""
    own = cases(design, only)
    known = {(c.scenario, c.schedule) for c in own}
    d = load_design(design)
    broke = []
    for c in cases(RELEASE_DESIGN, only):
        if (c.scenario, c.schedule) in known or not c.what.startswith("shortest driveable"):
            continue
        try:
            if driveable(System(d, load_scenario(c.scenario)), c.schedule) is None:
                broke.append(Case(c.scenario, c.schedule, f"{RELEASE_DESIGN}'s {c.what}"))
        except HarnessError:  # the schedule does not apply to the fix (a step it does not have)
            continue
        known.add((c.scenario, c.schedule))
    return own + broke


def drive_design(design: str, runs: int, only: list[str] | None) -> tuple[list[str], int, int]:
    """One design's section of the table, and its counts of disagreeing and undriven cases."""
    version, binary, target = resolve(load_design(design), RELEASE)
    what = target.label() if target else f"opencode {version}"
    results = []
    with Harness(version, binary, target=target) as h:
        for case in fix_cases(design, only):
            t0 = time.monotonic()
            r = run_case(h, design, case, runs)
            results.append((case, r))
            state = "error" if isinstance(r, HarnessError) else f"{r.agree}/{len(r.runs)}"
            print(
                f"{design} {case.scenario} {case.schedule or '(empty)'}: {state} ({time.monotonic() - t0:.1f}s)",
                file=sys.stderr,
            )
    disagree = sum(1 for _, r in results if not isinstance(r, HarnessError) and not r.conforms)
    errors = sum(1 for _, r in results if isinstance(r, HarnessError))
    agree = sum(1 for _, r in results if not isinstance(r, HarnessError) and r.conforms)
    head = [f"### {what}", "", f"{agree} of {len(results)} cases agree in every run.", ""]
    return head + table(f"{version} patched" if target else version, design, results) + [""], disagree, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m turnproof.conform.fixes")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--design", action="append", help="only this design (repeatable) [default: the six fixes]")
    ap.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.runs < 1:
        print("turnproof: error: --runs: expected ≥ 1", file=sys.stderr)
        return 2
    sections, disagree, errors = [], 0, 0
    for design in args.design or FIXES:
        try:
            lines, d, e = drive_design(design, args.runs, args.scenario)
        except (HarnessError, InputError) as e:
            print(f"turnproof: error: design {design}: {e}", file=sys.stderr)
            sections += [f"### {design}", "", f"Not built: {e}", ""]
            errors += 1
            continue
        sections += lines
        disagree, errors = disagree + d, errors + e
    head = [
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} with `python -m turnproof.conform.fixes "
        f"--runs {args.runs}{''.join(f' --design {d}' for d in args.design or ())}`.",
        "",
    ]
    return publish("\n".join(head + sections).rstrip(), args.out, disagree, errors, BEGIN, END)


if __name__ == "__main__":
    sys.exit(main())
