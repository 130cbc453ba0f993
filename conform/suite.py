"""The conformance suite: every built-in scenario, on 1.15.4 (design v1.15.4) and on the newer
releases (designs upstream-1.18.34 and upstream-1.19.5). Per scenario it drives the shortest
driveable counterexample of each violated property, the shortest clean schedule, the shortest
driveable schedule that exercises the feature a scenario is named for (conform/feature.py), and
a few hand-picked schedules, each several times, and prints the agreement table (k/n runs per case).

    .venv/bin/python -m turnproof.conform.suite [--runs N] [--versions 1.15.4,1.18.34,1.19.5]
        [--scenario NAME ...] [--out docs/conformance.md]

Exit 0 when real and model agree in every run, 1 when any case disagrees (the table says which),
2 when a case could not be driven at all (harness error) and none disagreed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from turnproof.conform import HarnessError
from turnproof.conform.feature import feature_schedule
from turnproof.conform.harness import Harness
from turnproof.conform.report import ConformReport
from turnproof.conform.schedule import Eager, check_scenario, schedules
from turnproof.model.system import System
from turnproof.specs.loader import builtin, load_design, load_scenario

# The releases driven, each with the design that describes it.
RELEASES = {"1.15.4": "v1.15.4", "1.18.34": "upstream-1.18.34", "1.19.5": "upstream-1.19.5"}
LARGE = ("large/plugin-wakes", "large/crowd")

# Schedules worth driving beside the generated ones: (scenario, schedule, what it shows). The
# feature a scenario is named for is found by the model (conform/feature.py), not listed here.
EXTRA = [
    ("tool-race", "U1,r1*4,U2", "U2 while U1's after-tool reply is in flight"),
    ("abort-race", "U1,r1*2,X1", "abort while U1's tool runs"),
    ("client-ids-gap", "U1,r1*2,U2", "issue 23: U2 during U1's tool, both ids from one client clock 2 s ahead"),
    (
        "client-clock-ahead",
        "U1,r1*2,U2,U3,r1",
        "issue 11's headline: U2, U3 during U1's tool, the tool released early (four stop siblings under U1)",
    ),
]


@dataclass(frozen=True)
class Case:
    scenario: str
    schedule: str
    what: str


def scenarios() -> list[str]:
    return builtin("scenario") + list(LARGE)


def left_out(scenario: str) -> str | None:
    """Why a built-in scenario is not driven (None: it is)."""
    try:
        check_scenario(load_scenario(scenario))
    except HarnessError as e:
        return str(e)
    return None


def cases(design: str, only: list[str] | None = None) -> list[Case]:
    """Every case of the suite for `design`, scenario by scenario."""
    d = load_design(design)
    out = []
    for name in only or scenarios():
        if left_out(name):
            continue
        system = System(d, load_scenario(name))
        found = schedules(system)
        feature = feature_schedule(Eager(d, system.scenario))
        if feature is not None and feature[0] not in {sch for sch, _ in found}:
            found.insert(0, feature)
        out += [Case(name, sch, what) for sch, what in found]
        known = {sch for sch, _ in found}
        out += [Case(s, sch, what) for s, sch, what in EXTRA if s == name and sch not in known]
    return out


def run_case(h: Harness, design: str, case: Case, runs: int) -> ConformReport | HarnessError:
    """Drive one suite case on a running harness: the report, or the harness error."""
    try:
        return h.conform(load_design(design), load_scenario(case.scenario), case.schedule, runs=runs)
    except HarnessError as e:
        return e


def table(version: str, design: str, results: list[tuple[Case, ConformReport | HarnessError]]) -> list[str]:
    lines = [
        f"| scenario | schedule | what it is | model ({design}) | real opencode {version}: runs agreeing |",
        "|---|---|---|---|---|",
    ]
    for case, r in results:
        sch = f"`{case.schedule}`" if case.schedule else "(empty)"
        if isinstance(r, HarnessError):
            lines.append(f"| {case.scenario} | {sch} | {case.what} | — | harness error: {r} |")
            continue
        names = [v.split(" (")[0].split(":")[0] for v in r.model_violations]
        model = "violated: " + ", ".join(dict.fromkeys(names)) if names else "clean"
        verdict = f"{r.agree}/{len(r.runs)}" + ("" if r.conforms else " **DISAGREE**")
        if r.discarded:
            verdict += f" ({len(r.discarded)} drive(s) redone: {redone_why(r.discarded)})"
        lines.append(f"| {case.scenario} | {sch} | {case.what} | {model} | {verdict} |")
    return lines


def redone_why(discarded: list[str]) -> str:
    """What did not hold in the discarded drives: the paced clock, a shell gate, or both."""
    kinds = ["the paced clock" if "paced clock" in d else "a shell gate" for d in discarded]
    return " and ".join(dict.fromkeys(kinds)) + " did not hold"


BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"


def write(out: Path, generated: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the generated part of `out` (between the markers), keeping the prose around it."""
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    block = f"{begin}\n{generated}\n{end}"
    if begin in old and end in old:
        head, _, rest = old.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    else:
        text = (old.rstrip() + "\n\n" if old else "") + block + "\n"
    out.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m turnproof.conform.suite")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--versions", default=",".join(RELEASES), help="releases to drive, comma-separated")
    ap.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    versions = [v for v in args.versions.split(",") if v]
    unknown = [v for v in versions if v not in RELEASES]
    if unknown or args.runs < 1:
        what = f"--versions: {unknown[0]}: expected one of {', '.join(RELEASES)}" if unknown else "--runs: expected ≥ 1"
        print(f"turnproof: error: {what}", file=sys.stderr)
        return 2
    sections, disagree, errors = [], 0, 0
    for version in versions:
        design = RELEASES[version]
        results = []
        try:
            with Harness(version) as h:
                for case in cases(design, args.scenario):
                    t0 = time.monotonic()
                    r = run_case(h, design, case, args.runs)
                    results.append((case, r))
                    state = "error" if isinstance(r, HarnessError) else f"{r.agree}/{len(r.runs)}"
                    took = time.monotonic() - t0
                    where = f"{version} {case.scenario} {case.schedule or '(empty)'}"
                    print(f"{where}: {state} ({took:.1f}s)", file=sys.stderr)
                    if not isinstance(r, HarnessError) and not r.conforms:
                        print(r.text(), file=sys.stderr)
        except HarnessError as e:
            print(f"turnproof: error: opencode {version}: {e}", file=sys.stderr)
            return 2
        disagree += sum(1 for _, r in results if not isinstance(r, HarnessError) and not r.conforms)
        errors += sum(1 for _, r in results if isinstance(r, HarnessError))
        sections += [f"### opencode {version} (design {design})", "", *table(version, design, results), ""]
        clean = {c.scenario for c, _ in results if c.what == "shortest clean schedule"}
        none = sorted({c.scenario for c, _ in results} - clean)
        if none:
            sections += [
                f"No clean schedule exists within the bound for {', '.join(none)} under {design}: every "
                "driveable run violates a property.",
                "",
            ]
    skipped = [(s, left_out(s)) for s in (args.scenario or scenarios()) if left_out(s)]
    head = [
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} with "
        f"`python -m turnproof.conform.suite --runs {args.runs} --versions {','.join(versions)}`.",
        "",
    ]
    tail = ["Left out:", ""] + [f"- {s}: {why}" for s, why in skipped] if skipped else []
    return publish("\n".join(head + sections + tail).rstrip(), args.out, disagree, errors)


def publish(text: str, out: Path | None, disagree: int, errors: int, begin: str = BEGIN, end: str = END) -> int:
    """Print the table, write it into `out` between the markers, and say the exit code."""
    print(text)
    if out:
        write(out, text, begin, end)
    if disagree:
        print(f"real and model DISAGREE on {disagree} case(s)", file=sys.stderr)
        return 1
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
