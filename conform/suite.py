"""The conformance suite: every driveable counterexample of the v1.15.4 design on the built-in
scenarios, and a clean schedule, each driven several times; prints the agreement table.

    .venv/bin/python -m turnproof.conform.suite [--runs N] [--opencode-version V] [--out docs/conformance.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from turnproof.conform import HarnessError
from turnproof.conform.drive import conform
from turnproof.specs.loader import load_design, load_scenario

# (scenario, schedule or None for the shortest driveable counterexample, what it shows)
CASES = [
    ("tool-race", None, "U2 while U1's tool runs: the continuation is written under U2"),
    ("tool-race", "U1,r1*6,U1,U2", "U2 after U1's turn ended: clean"),
    ("tool-race", "U1,r1*4,U2", "U2 while U1's after-tool reply is in flight: clean to the user"),
    ("double-async", None, "two prompt_async on an idle session"),
    ("plugin-inject", None, "noReply context during the tool run"),
    ("async-overlap", None, "web prompt and plugin wakes"),
]


def run_case(scenario: str, schedule: str | None, version: str, runs: int, binary=None):
    """Drive one suite case on the real server: the conformance report, or the harness error."""
    try:
        design, sc = load_design("v1.15.4"), load_scenario(scenario)
        return conform(design, sc, schedule, version=version, runs=runs, binary=binary)
    except HarnessError as e:
        return e


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--opencode-version", default="1.15.4")
    ap.add_argument("--out")
    args = ap.parse_args()
    lines = [
        f"| scenario | schedule | what it shows | model | real opencode {args.opencode_version}: runs conforming |",
        "|---|---|---|---|---|",
    ]
    for scenario, schedule, what in CASES:
        r = run_case(scenario, schedule, args.opencode_version, args.runs)
        if isinstance(r, HarnessError):
            lines.append(f"| {scenario} | {schedule or 'default'} | {what} | — | harness error: {r} |")
            continue
        model = "violated: " + ", ".join(v.split(" ")[0] for v in r.model_violations) if r.model_violations else "clean"
        lines.append(f"| {scenario} | `{r.schedule}` | {what} | {model} | {r.agree}/{len(r.runs)} |")
    head = [
        "# Conformance: the model against the real opencode server",
        "",
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} with "
        f"`python -m turnproof.conform.suite --runs {args.runs}`: each "
        "schedule driven on the real binary (fake LLM and tools gated by the harness), the persisted message tree "
        "compared with the model's final store (roles, parents, finish values, tool-part states).",
        "",
    ]
    text = "\n".join(head + lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
