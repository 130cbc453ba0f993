"""Benchmark of memory per stored state (issue 27): bfs keeping worlds, and bfs --fingerprint
keeping a fingerprint set with the parent links in arrays (explore/search/compact.py), on
v1.15.4 × idle-window, six prompt sources (over the orbits of the plugin wakes) and large/crowd;
and how many states `check --fingerprint` reaches on large/crowd within a memory budget.

    .venv/bin/python bench/memory.py [--crowd-mb MB] [--out bench/RESULTS.md]

Bytes are measured with tracemalloc (held by the search over the states it stored, at the end;
on large/crowd, which does not finish, when it stops at CROWD_STATES, its frontier of worlds
still waiting to be expanded included). With --out, the "## Memory per state" section of that
file is replaced (or appended).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repair import replace_section  # noqa: E402  (bench/repair.py)
from turnproof.explore.scale.symmetry import symmetric_bfs  # noqa: E402
from turnproof.explore.search.bfs import bfs  # noqa: E402
from turnproof.explore.search.budget import Budget, OutOfBudget, default_max_bytes  # noqa: E402
from turnproof.model.config import Prompt, Scenario  # noqa: E402
from turnproof.model.system import System  # noqa: E402
from turnproof.specs.loader import load_design, load_scenario  # noqa: E402
from turnproof.specs.properties import PROPERTIES  # noqa: E402

CROWD_STATES = 30_000  # large/crowd does not finish: stopped here to read what it holds


def _sources(n: int, design: str) -> System:
    prompts = (Prompt("U1", tools=1),) + tuple(Prompt(f"W{i}", client="plugin") for i in range(1, n))
    return System(load_design(design), Scenario(f"scale-{n}-1", prompts, max_messages=20))


def _per_state(run) -> tuple[int, float]:
    """(states, bytes held per state at the end) of a search run under tracemalloc."""
    tracemalloc.start()
    try:
        res = run()
        return res.stats.states, res.stats.bytes_per_state
    finally:
        tracemalloc.stop()


def _stopped(system: System, fingerprint: bool) -> tuple[int, float]:
    """large/crowd: stopped after CROWD_STATES states; what it holds then, frontier included."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    try:
        bfs(system, PROPERTIES, progress=Budget(CROWD_STATES, None, None), fingerprint=fingerprint)
        raise RuntimeError("large/crowd finished: raise CROWD_STATES")
    except OutOfBudget as e:
        held = tracemalloc.get_traced_memory()[0] - base
        return e.stats.states, held / e.stats.states
    finally:
        tracemalloc.stop()


def reach(mb: int) -> dict:
    """`turnproof check --fingerprint` on large/crowd within --max-memory MB: what it explored."""
    cmd = [sys.executable, "-m", "turnproof.cli", "check", "--design", "v1.15.4", "--scenario", "large/crowd"]
    cmd += ["--strategy", "bfs", "--fingerprint", "--max-memory", str(mb), "--json", "--quiet", "--out", "/tmp"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    doc = json.loads(out.stdout)
    return {"code": out.returncode, "verdict": doc["verdict"], **doc.get("explored", {}), "stopped": doc.get("stopped")}


def section(crowd_mb: int) -> list[str]:
    idle = System(load_design("v1.15.4"), load_scenario("idle-window"))
    six = _sources(6, "bind-and-serialize")
    crowd = System(load_design("v1.15.4"), load_scenario("large/crowd"))
    rows = [
        ("v1.15.4 × idle-window", lambda fp: _per_state(lambda: bfs(idle, PROPERTIES, fingerprint=fp))),
        (
            "sources=6, tools=1 (bind-and-serialize), over orbits",
            lambda fp: _per_state(lambda: symmetric_bfs(six, PROPERTIES, fingerprint=fp)),
        ),
        (f"v1.15.4 × large/crowd, first {CROWD_STATES:,} states", lambda fp: _stopped(crowd, fp)),
    ]
    lines = [
        "## Memory per state (issue 27)",
        "",
        "bfs, every property; bytes held by the search per stored state (tracemalloc). Worlds: the visited set "
        "keeps each world. --fingerprint: a 64-bit fingerprint set and the parent links in flat arrays "
        "(explore/search/compact.py), traces rebuilt by replaying from the initial world; the lasso search's "
        "graph, built after the states are stored, counts in the peak, not here. On large/crowd (stopped) the "
        "worlds of the frontier, still to be expanded, are held too, and dominate.",
        "",
        "| case | states | worlds B/state | --fingerprint B/state |",
        "|---|---|---|---|",
    ]
    for label, run in rows:
        states, plain = run(False)
        fp_states, fp = run(True)
        if fp_states != states:
            raise RuntimeError(f"{label}: --fingerprint explored {fp_states} states, the plain search {states}")
        lines.append(f"| {label} | {states:,} | {plain:,.0f} | {fp:,.0f} |")
        print(lines[-1], file=sys.stderr)
    if not crowd_mb:
        return lines + [""]
    got = reach(crowd_mb)
    default = default_max_bytes()
    lines += [
        "",
        f"- large/crowd, `check --strategy bfs --fingerprint --max-memory {crowd_mb}`: {got['states']:,} states, "
        f"depth {got['depth']}, then {got['verdict']} (exit {got['code']}: {got['stopped']}). The default budget "
        f"here is {default / 2**30:.1f} GiB (a quarter of the memory available), not run to the end here.",
        "",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crowd-mb", type=int, default=400, help="large/crowd reach run budget (0: none)")
    ap.add_argument("--out", default=None, help="replace the Memory per state section of this Markdown file")
    args = ap.parse_args()
    lines = section(args.crowd_mb)
    print("\n".join(lines))
    if args.out:
        replace_section(Path(args.out), lines, "## Memory per state (issue 27)")


if __name__ == "__main__":
    main()
