"""Benchmark: naive exhaustive DFS (no visited set), BFS with a visited set, sleep-set reduced
search, and preemption-bounded BFS, on every built-in design × scenario and on a scaling
series, measured in one run.

    .venv/bin/python bench/run.py [--quick] [--out bench/RESULTS.md]

Figures are measured here and now; ratios within one run are what to compare across machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explore.bfs import bfs  # noqa: E402
from explore.bounded import bfs_preemptions  # noqa: E402
from explore.naive import naive_dfs  # noqa: E402
from explore.sleep import sleep_search  # noqa: E402
from model.config import Prompt, Scenario  # noqa: E402
from model.system import System  # noqa: E402
from specs.loader import builtin, load_design, load_scenario  # noqa: E402
from specs.properties import PROPERTIES  # noqa: E402

NAIVE_LIMIT = 300_000  # transitions; past this the naive search is reported as not finishing


def measure(fn):
    """(result, seconds, peak MiB): timed without tracing, then run again under tracemalloc."""
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, seconds, peak


def row(label: str, system: System, memory: bool) -> dict:
    r = {"case": label}
    try:
        walk, secs, peak = measure(lambda: naive_dfs(system, limit=NAIVE_LIMIT)) if memory else (None, 0, 0)
        if not memory:
            t = time.perf_counter()
            walk = naive_dfs(system, limit=NAIVE_LIMIT)
            secs = time.perf_counter() - t
        r["naive"] = {"transitions": walk.transitions, "schedules": walk.schedules, "seconds": secs, "peak": peak}
    except RuntimeError:
        r["naive"] = None
    res, secs, peak = measure(lambda: bfs(system, PROPERTIES)) if memory else _timed(lambda: bfs(system, PROPERTIES))
    s = res.stats
    r["bfs"] = {"states": s.states, "transitions": s.transitions, "seconds": secs, "peak": peak}
    r["verdict"] = "violated" if res.findings else "holds"
    sl, secs = _timed(lambda: sleep_search(system, PROPERTIES))[:2]
    r["sleep"] = {"states": sl.stats.states, "transitions": sl.stats.transitions, "seconds": secs}
    for k in (1, 2):
        b, secs = _timed(lambda k=k: bfs_preemptions(system, PROPERTIES, k))[:2]
        r[f"pb{k}"] = {"states": b.stats.states, "transitions": b.stats.transitions, "seconds": secs}
    return r


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t, 0.0


def scaling() -> list[tuple[str, Scenario]]:
    """Prompt sources 2 -> 4 (a web prompt and plugin wakes), then tool round-trips 1 -> 3."""
    out = []
    cases = [(s, 1) for s in (2, 3, 4)] + [(3, t) for t in (2, 3)]
    for sources, tools in cases:
        prompts = (Prompt("U1", tools=tools),) + tuple(Prompt(f"W{i}", client="plugin") for i in range(1, sources))
        out.append(
            (f"sources={sources}, tools={tools}", Scenario(f"scale-{sources}-{tools}", prompts, max_messages=20))
        )
    return out


def fmt(x, digits=0) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}" if isinstance(x, float) else f"{x:,}"


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| case | verdict | naive DFS transitions | schedules | s | BFS states | BFS transitions | s | states/s "
        "| peak MiB | sleep-set transitions | s | naive/sleep transitions | BFS/sleep transitions "
        "| K=1 transitions | K=2 transitions |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n, b, sl, p1, p2 = r["naive"], r["bfs"], r["sleep"], r["pb1"], r["pb2"]
        rate = b["states"] / b["seconds"] if b["seconds"] else 0
        ratio = f"{n['transitions'] / max(sl['transitions'], 1):.1f}×" if n else "naive did not finish"
        lines.append(
            f"| {r['case']} | {r['verdict']} | {fmt(n and n['transitions'])} | {fmt(n and n['schedules'])} "
            f"| {fmt(n and n['seconds'], 2)} | {fmt(b['states'])} | {fmt(b['transitions'])} | {b['seconds']:.2f} "
            f"| {rate:,.0f} | {b['peak']:.1f} | {fmt(sl['transitions'])} | {sl['seconds']:.2f} | {ratio} "
            f"| {b['transitions'] / max(sl['transitions'], 1):.1f}× "
            f"| {fmt(p1['transitions'])} | {fmt(p2['transitions'])} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="await-granularity built-ins only, no memory pass")
    ap.add_argument("--out", default=None, help="also write the tables as Markdown here")
    args = ap.parse_args()
    memory = not args.quick
    rows = []
    for d in builtin("design"):
        for s in builtin("scenario"):
            sc = load_scenario(s)
            if args.quick and sc.granularity != "await":
                continue
            rows.append(row(f"{d} × {s}", System(load_design(d), sc), memory))
            print(rows[-1]["case"], "done", file=sys.stderr)
    series = [row(label, System(load_design("v1.15.4"), sc), memory) for label, sc in scaling()]
    series += [
        row(label + " (bind-and-serialize)", System(load_design("bind-and-serialize"), replace(sc)), memory)
        for label, sc in scaling()
    ]
    head = [
        "# turnproof benchmark",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()}; run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "Naive DFS walks every schedule separately (no visited set; stops past "
        f"{NAIVE_LIMIT:,} transitions). BFS keeps a visited set of worlds and checks every property,",
        "loop-terminates included. Sleep sets: exhaustive DFS with sleep-set reduction over a visited set",
        "(same states and safety verdicts as BFS, tested). K=1 / K=2: BFS over schedules with at most 1 / 2",
        "preemptions (bug finding, not a proof). Peak MiB is traced allocation during the search",
        "(tracemalloc), in a second run.",
        "",
    ]
    text = "\n".join(
        head + ["## Built-in designs × scenarios", ""] + table(rows) + ["", "## Scaling", ""] + table(series)
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
