"""Benchmark: naive exhaustive DFS (no visited set), BFS with a visited set, DPOR (the default's
verdict), sleep sets, and preemption-bounded BFS, on every built-in design × scenario and on a
scaling series, measured in one run; then the issue's targets, computed from those rows.

    .venv/bin/python bench/run.py [--quick] [--out bench/RESULTS.md]

Figures are measured here and now; ratios within one run are what to compare across machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import repair as repair_bench  # noqa: E402  (bench/repair.py)
import spin as spin_bench  # noqa: E402  (bench/spin.py)
from turnproof.explore.search.bfs import bfs  # noqa: E402
from turnproof.explore.search.bounded import bfs_preemptions  # noqa: E402
from turnproof.explore.search.dpor import dpor_search  # noqa: E402
from turnproof.explore.search.mazurkiewicz import Footprints, TooLarge, floor  # noqa: E402
from turnproof.explore.search.mazurkiewicz import count as count_traces  # noqa: E402
from turnproof.explore.search.naive import naive_dfs  # noqa: E402
from turnproof.explore.search.sleep import sleep_search  # noqa: E402
from turnproof.explore.strategy import Options, reduced, search  # noqa: E402
from turnproof.model.config import Prompt, Scenario  # noqa: E402
from turnproof.model.footprint import dependent as conflicting  # noqa: E402
from turnproof.model.system import System  # noqa: E402
from turnproof.specs.loader import builtin, load_design, load_scenario  # noqa: E402
from turnproof.specs.properties import PROPERTIES  # noqa: E402

NAIVE_LIMIT = 300_000  # transitions; past this the naive search is reported as not finishing
TRACE_LIMIT = 20_000  # schedules; past this the traces are not counted
TRACE_DESIGNS = ("v1.15.4", "bind-and-serialize")


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
    dp, secs, peak = (
        measure(lambda: dpor_search(system, PROPERTIES)) if memory else _timed(lambda: dpor_search(system, PROPERTIES))
    )
    r["dpor"] = {"states": dp.stats.states, "transitions": dp.stats.transitions, "seconds": secs, "peak": peak}
    if set(dp.findings) != set(res.findings) - set(dp.unjudged):  # never print figures of a wrong search
        raise RuntimeError(f"{label}: dpor and bfs disagree: {sorted(dp.findings)} vs {sorted(res.findings)}")
    violated = frozenset(n for n, f in res.findings.items() if f.trace.lasso is None)
    if violated:  # time to the shortest counterexample of every violated property
        props = tuple(p for p in PROPERTIES if p.name in violated)
        short, secs = _timed(lambda: bfs(system, props, until=violated))[:2]
        r["shortest"] = {"states": short.stats.states, "seconds": secs}
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


def _sources(n: int, design: str) -> System:
    prompts = (Prompt("U1", tools=1),) + tuple(Prompt(f"W{i}", client="plugin") for i in range(1, n))
    return System(load_design(design), Scenario(f"scale-{n}-1", prompts, max_messages=20))


def reach() -> tuple[list[str], list[dict]]:
    """Past the series: 5, 6 and 7 prompt sources, every property. Default: what `turnproof check`
    runs (here dpor over the orbits of the interchangeable plugin wakes, then bfs over them for
    the shortest traces; at 5 sources the median of 3 runs); orbits bfs: the one bfs over the
    orbits the default ran before; reduced: what auto runs where prompts are not interchangeable
    (dpor, then bfs for the shortest traces), at 5 sources. Ratios in the same run."""
    from turnproof.explore.scale.symmetry import symmetric_bfs

    lines = [
        "## Reach",
        "",
        "Every property. Default: what `turnproof check` runs; with three or more interchangeable prompts that is "
        "dpor over their orbits for the verdict, then bfs over the orbits for the shortest traces (states = orbits "
        "of both searches; represented = the plain-model states the orbits dpor explored stand for); at 5 "
        "sources the median of 3 runs. Orbits bfs: one bfs over the orbits (the default before this round; "
        "represented = every plain-model state). Reduced: what auto runs where prompts are not interchangeable "
        "(dpor for the verdict, then bfs for the shortest traces; states counts both).",
        "",
        "| case | search | verdict | states (represented) | transitions | s | states/s | s / default s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    runs = [(n, design) for n in (5, 6, 7) for design in ("v1.15.4", "bind-and-serialize")]
    for n, design in runs:
        system = _sources(n, design)
        case = f"sources={n}, tools=1 ({design})"
        timed = [_timed(lambda system=system: search(system, PROPERTIES, "auto")) for _ in range(3 if n == 5 else 1)]
        res, secs, _ = sorted(timed, key=lambda t: t[1])[len(timed) // 2]
        states, transitions, shown = _explored(res)
        row = {"sources": n, "design": design, "how": "default", "seconds": secs, "states": states}
        lines.append(
            "| "
            + " | ".join([case, "default", res.verdict, shown, f"{transitions:,}", f"{secs:.2f}"])
            + f" | {states / secs:,.0f} | 1.0× |"
        )
        print(lines[-1], file=sys.stderr)
        others = [("orbits bfs", lambda system=system: symmetric_bfs(system, PROPERTIES))] if n < 7 else []
        if n == 5:  # the reduced path at 6 sources takes many minutes
            others.append(("reduced", lambda system=system: reduced(system, PROPERTIES, Options())))
        for how, run in others:
            other, osecs, _ = _timed(run)
            if other.verdict != res.verdict or set(other.findings) != set(res.findings):
                raise SystemExit(f"{case}: the default and {how} disagree")
            o_states, o_transitions, o_shown = _explored(other)
            row[how] = osecs
            cells = [case, how, other.verdict, o_shown, f"{o_transitions:,}", f"{osecs:.2f}"]
            lines.append("| " + " | ".join(cells) + f" | {o_states / osecs:,.0f} | {osecs / secs:.1f}× |")
            print(lines[-1], file=sys.stderr)
        rows.append(row)
    return lines + [""], rows


def _explored(res) -> tuple[int, int, str]:
    """States and transitions of a check, its shortest-trace search included, and the states as
    shown (with what its orbits stand for, over orbits)."""
    short, y = res.shortest or {}, res.stats.symmetry
    states = res.stats.states + short.get("states", 0)
    transitions = res.stats.transitions + short.get("transitions", 0)
    return states, transitions, f"{states:,} ({y['represented_states']:,})" if y else f"{states:,}"


def fmt(x, digits=0) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}" if isinstance(x, float) else f"{x:,}"


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| case | verdict | naive DFS transitions | schedules | s | peak MiB | BFS states | BFS transitions | s "
        "| states/s | peak MiB | DPOR states | DPOR transitions | s | states/s | peak MiB | naive/DPOR transitions "
        "| BFS/DPOR transitions | BFS/DPOR s | sleep-set transitions | K=1 transitions | K=2 transitions "
        "| shortest CE s |",
        "|" + "---|" * 23,
    ]
    for r in rows:
        n, b, dp, sl, p1, p2 = r["naive"], r["bfs"], r["dpor"], r["sleep"], r["pb1"], r["pb2"]
        rate = b["states"] / b["seconds"] if b["seconds"] else 0
        dp_rate = dp["states"] / dp["seconds"] if dp["seconds"] else 0
        naive_ratio = f"{n['transitions'] / max(dp['transitions'], 1):.1f}×" if n else "naive did not finish"
        short = r.get("shortest")
        lines.append(
            f"| {r['case']} | {r['verdict']} | {fmt(n and n['transitions'])} | {fmt(n and n['schedules'])} "
            f"| {fmt(n and n['seconds'], 2)} | {fmt(n and n['peak'], 1)} | {fmt(b['states'])} "
            f"| {fmt(b['transitions'])} | {b['seconds']:.2f} | {rate:,.0f} | {b['peak']:.1f} | {fmt(dp['states'])} "
            f"| {fmt(dp['transitions'])} | {dp['seconds']:.2f} | {dp_rate:,.0f} | {dp['peak']:.1f} | {naive_ratio} "
            f"| {b['transitions'] / max(dp['transitions'], 1):.1f}× "
            f"| {b['seconds'] / max(dp['seconds'], 1e-9):.1f}× | {fmt(sl['transitions'])} "
            f"| {fmt(p1['transitions'])} | {fmt(p2['transitions'])} | {fmt(short and short['seconds'], 2)} |"
        )
    return lines


def targets(rows: list[dict], series: list[dict]) -> list[str]:
    """The issue's three targets, judged from the rows of this run."""
    finished = [r for r in rows + series if r["naive"]]
    largest = max(finished, key=lambda r: r["bfs"]["states"])
    ratio = largest["naive"]["transitions"] / max(largest["dpor"]["transitions"], 1)
    unfinished = [r for r in rows + series if not r["naive"]]
    lines = [
        "## Targets",
        "",
        f"- Reduced search vs naive DFS on the largest case naive DFS finishes ({largest['case']}, "
        f"{largest['bfs']['states']:,} states): {largest['naive']['transitions']:,} vs "
        f"{largest['dpor']['transitions']:,} transitions, **{ratio:.0f}×** (target ≥ 10×: "
        f"{'met' if ratio >= 10 else 'missed'}).",
    ]
    if unfinished:
        big = max(unfinished, key=lambda r: r["bfs"]["states"])
        lines.append(
            f"  On the largest case overall ({big['case']}, {big['bfs']['states']:,} states) naive DFS did not finish "
            f"within {NAIVE_LIMIT:,} transitions; DPOR took {big['dpor']['transitions']:,}, so the ratio is "
            f"> {NAIVE_LIMIT / max(big['dpor']['transitions'], 1):.0f}×."
        )
    proof = next(r for r in series if r["case"] == "sources=3, tools=2 (bind-and-serialize)")
    lines.append(
        "- Proving bind-and-serialize on 3 prompt sources × 2 tool round-trips: "
        f"DPOR {proof['dpor']['seconds']:.2f} s, BFS {proof['bfs']['seconds']:.2f} s "
        f"(target < 60 s: {'met' if proof['dpor']['seconds'] < 60 else 'missed'})."
    )
    v = [r for r in rows if r["case"].startswith("v1.15.4 ×") and r.get("shortest")]
    worst = max(v, key=lambda r: r["shortest"]["seconds"])
    lines.append(
        f"- Shortest counterexample for v1.15.4 on every built-in scenario (BFS stopping once every violated "
        f"property has its shortest trace): slowest {worst['case']}, {worst['shortest']['seconds']:.2f} s "
        f"(target < 1 s: {'met' if worst['shortest']['seconds'] < 1 else 'missed'})."
    )
    return lines + [""]


# The figures issue 15 measured before this work (bench/RESULTS.md of 2026-11-25, on the model of
# that day; the model has changed since, so these ratios mix engine and model changes): states/s.
BEFORE = {"v1.15.4 × idle-window": (6_653, 4_988), "sources=4, tools=1": (5_518, 8_402)}


def targets_15(
    rows: list[dict], series: list[dict], spins: list[dict], reached: list[dict], floors: list[dict]
) -> list[str]:
    """Issue 15's targets, judged from this run's rows."""
    by_case = {r["case"]: r for r in rows + series}
    lines = ["## Targets (issue 15)", ""]
    for case, (bfs_before, dpor_before) in BEFORE.items():
        r = by_case.get(case)
        if r is None:  # (--quick)
            continue
        b = r["bfs"]["states"] / r["bfs"]["seconds"]
        d = r["dpor"]["states"] / r["dpor"]["seconds"]
        ok = "met" if min(b / bfs_before, d / dpor_before) >= 10 else "missed"
        lines.append(
            f"- States/s on {case}: BFS {b:,.0f} ({b / bfs_before:.2f}× the {bfs_before:,} before), DPOR {d:,.0f} "
            f"({d / dpor_before:.2f}× the {dpor_before:,} before; the issue's figures, measured on the model of "
            f"2026-11-25) (target ≥ 10×: {ok})."
        )
    idle = [r for r in rows if r["case"].endswith("× idle-window")]
    if idle:  # (not in --quick)
        inbox = {d for d in builtin("design") if load_design(d).engine == "inbox"}
        legacy = [r for r in idle if r["case"].split(" × ")[0] not in inbox]
        v2 = [r for r in idle if r["case"].split(" × ")[0] in inbox]
        for label, group in (("the v1.15.4-like (legacy engine)", legacy), ("the V2 inbox", v2)):
            if not group:
                continue
            worst = min(group, key=lambda r: r["bfs"]["transitions"] / max(r["dpor"]["transitions"], 1))
            ratio = worst["bfs"]["transitions"] / max(worst["dpor"]["transitions"], 1)
            slow = min(group, key=lambda r: r["bfs"]["seconds"] / max(r["dpor"]["seconds"], 1e-9))
            speed = slow["bfs"]["seconds"] / max(slow["dpor"]["seconds"], 1e-9)
            lines.append(
                f"- BFS/DPOR transitions on {label} idle-window designs: at least {ratio:.1f}× ({worst['case']}) "
                f"(target ≥ 10×: {'met' if ratio >= 10 else 'missed'}); DPOR faster than BFS by at least "
                f"{speed:.1f}× ({slow['case']}) (target ≥ 5×: {'met' if speed >= 5 else 'missed'})."
            )
            lines += _ceiling([f for f in floors if f["row"] in group])
    for r in spins:
        t, s = r["turnproof"], r["spin"]
        lines.append(
            f"- {r['case']} ({r['property']}) against SPIN, end to end: turnproof {t['wall']:.2f} s, SPIN "
            f"{s['wall']:.2f} s, {s['wall'] / t['wall']:.2f}× (CPU {t['cpu']:.2f} s vs {s['cpu']:.2f} s); verdicts "
            f"{t['verdict']} / {s['verdict']} (target: turnproof at or below SPIN: "
            f"{'met' if t['wall'] <= s['wall'] else 'missed'})."
        )
    five = next((r for r in reached if (r["sources"], r["how"], r["design"]) == (5, "default", "v1.15.4")), None)
    if five:
        lines.append(
            f"- 5 prompt sources with the default strategy (v1.15.4, median of 3): {five['seconds']:.2f} s; "
            f"one bfs over the orbits {five['orbits bfs']:.2f} s ({five['orbits bfs'] / five['seconds']:.1f}×), "
            f"the reduced search {five['reduced']:.2f} s ({five['reduced'] / five['seconds']:.1f}×) "
            f"(target < 2 s: {'met' if five['seconds'] < 2 else 'missed'})."
        )
    six = [r for r in reached if r["sources"] == 6]  # (7 sources: the largest-case line below)
    if six:
        lines.append(
            "- 6 prompt sources, default, every property: "
            + "; ".join(
                f"{r['design']} {r['seconds']:.1f} s ({r['states']:,} orbits; one bfs over the orbits "
                f"{r['orbits bfs']:.1f} s)"
                for r in six
            )
            + " (target: reported)."
        )
    within = [r for r in reached if r["seconds"] <= 60]  # every property
    if within:
        big = max(within, key=lambda r: (r["sources"], r["states"]))
        lines.append(
            f"- Largest case finishing within 60 s here, every property: sources={big['sources']} "
            f"({big['design']}, {big['how']}), "
            f"{big['seconds']:.1f} s."
        )
    return lines + [""]


def _ceiling(floors: list[dict]) -> list[str]:
    """What the floor section says of a group of idle-window designs: how far a DPOR optimal in traces
    could take the ratio, and how far dpor is from that floor."""
    if not floors:
        return []
    low = min(floors, key=lambda f: f["ceiling"])
    high = max(floors, key=lambda f: f["ceiling"])
    gap = [f["row"]["dpor"]["transitions"] / f["floor"] for f in floors]
    commute = sum(f["commute"] for f in floors) / max(sum(f["dependent"] for f in floors), 1)
    r = low["row"]
    per_step = (r["bfs"]["seconds"] / r["bfs"]["transitions"]) / (r["dpor"]["seconds"] / r["dpor"]["transitions"])
    span = f"{min(gap):.2f}" if len(gap) == 1 else f"{min(gap):.2f}–{max(gap):.2f}"
    best = f"{low['ceiling']:.1f}× ({low['case']}" + (
        f"; {high['ceiling']:.1f}× at best, {high['case']})" if len(floors) > 1 else ")"
    )
    return [
        f"  Under this dependency relation a DPOR optimal in traces reaches at most {best}: BFS transitions "
        f"over those of one schedule per trace. dpor's transitions are {span}× that floor. Of the pairs the "
        f"relation calls dependent, {commute:.0%} end in the same world in either order. At the floor, and at "
        f"this run's cost per transition (a DPOR step costs {1 / per_step:.1f}× a BFS step: it records "
        f"footprints), DPOR would be {low['ceiling'] * per_step:.1f}× faster than BFS on {low['case']}."
    ]


def traces_section(designs=TRACE_DESIGNS, scenarios=None) -> list[str]:
    """Mazurkiewicz traces counted exactly where naive DFS walks at most TRACE_LIMIT schedules, and
    the schedules dpor's and the sleep-set search's explored graphs stand for, per trace."""
    lines = [
        "## Mazurkiewicz traces (small cases)",
        "",
        f"Cases with at most {TRACE_LIMIT:,} maximal schedules (to a world at rest or a step past the bound). "
        "Traces: classes of schedules equal up to",
        "swapping adjacent steps whose footprints do not conflict (explore/search/mazurkiewicz.py). Explored "
        "schedules: paths through",
        "the graph a reduced search explored, to a world at rest or through a step past the bound; per trace, "
        "optimal DPOR's is 1.00.",
        "Covered: the traces those paths reach, and what the missed ones end in. DPOR promises every world at "
        "rest, a violating",
        "world of every violated property and a step past the bound if one exists, not every trace ending past "
        "the bound; the sleep-set",
        "search with its visited set promises every world, not every trace.",
        "",
        "| case | naive schedules | traces | naive per trace | DPOR schedules | DPOR per trace | DPOR covered "
        "| sleep schedules | sleep per trace | sleep covered | worlds at rest | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    skipped, ratios = [], {"dpor": [], "sleep": []}
    missed = {"dpor": [0, 0], "sleep": [0, 0]}
    for d in designs:
        for sc in scenarios or builtin("scenario"):
            t = time.perf_counter()
            try:
                c = count_traces(System(load_design(d), load_scenario(sc)), TRACE_LIMIT)
            except TooLarge:
                skipped.append(f"{d} × {sc}")
                continue
            n, dp, sl = c.naive, c.reduced["dpor"], c.reduced["sleep"]
            for name, r in c.reduced.items():
                ratios[name].append(c.ratio(name))
                missed[name] = [a + b for a, b in zip(missed[name], r.missed(n), strict=True)]
            lines.append(
                f"| {d} × {sc} | {n.schedules:,} | {n.traces:,} | {n.schedules / n.traces:.2f} | {dp.schedules:,} "
                f"| {c.ratio('dpor'):.2f} | {_covered(dp, n)} | {sl.schedules:,} | {c.ratio('sleep'):.2f} "
                f"| {_covered(sl, n)} | {len(n.ends):,} | {time.perf_counter() - t:.1f} |"
            )
            print(f"traces: {d} × {sc} done", file=sys.stderr)
    lines.append("")
    if skipped:
        lines += [f"Not counted (more than {TRACE_LIMIT:,} schedules): {', '.join(skipped)}.", ""]
    for name, label in (("dpor", "DPOR"), ("sleep", "Sleep sets")):
        rs = ratios[name]
        if rs:
            lines.append(
                f"- {label}: {min(rs):.2f}–{max(rs):.2f} explored schedules per trace over {len(rs)} cases, median "
                f"{statistics.median(rs):.2f} (optimal DPOR: 1.00); traces its paths miss: {missed[name][0]} "
                f"ending at rest, {missed[name][1]} ending past the bound."
            )
    return lines + [""]


def floor_section(rows: list[dict], series: list[dict]) -> tuple[list[str], list[dict]]:
    """How far dpor is from the best a DPOR can do under this dependency relation, on the idle-window
    designs and the 4-source cases: the worlds and steps of one schedule per trace, and how exact the
    relation is (pairs it calls dependent that end in the same world in either order anyway)."""
    lines = [
        "## DPOR against the floor of its dependency relation",
        "",
        "Floor: the worlds and steps of one schedule per Mazurkiewicz trace, the first in the naive search's fiber "
        "order, and in the",
        "reverse order (explore/search/mazurkiewicz.py `floor`): what a DPOR that is optimal in traces visits "
        "exploring in that order.",
        "Ceiling: BFS transitions over the smaller floor's, the most BFS/DPOR such a search reaches here. "
        "Dependent pairs: pairs of",
        "steps enabled together in a reachable world whose footprints conflict; commute anyway: of those, pairs "
        "that both run in either",
        "order and end in the same world (a relation exact on these worlds would call them independent).",
        "",
        "| case | BFS states | BFS transitions | DPOR states | DPOR transitions | floor worlds (order / reversed) "
        "| floor transitions (order / reversed) | DPOR / floor transitions | ceiling BFS / floor transitions "
        "| dependent pairs | commute anyway | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_case = {r["case"]: r for r in rows + series}
    out = []
    cases = [(f"{d} × idle-window", System(load_design(d), load_scenario("idle-window"))) for d in builtin("design")]
    cases.append(("sources=4, tools=1", _sources(4, "v1.15.4")))
    cases.append(("sources=4, tools=1 (bind-and-serialize)", _sources(4, "bind-and-serialize")))
    for case, system in cases:
        r = by_case.get(case)
        if r is None:  # (--quick)
            continue
        t = time.perf_counter()
        fps = Footprints(system)  # every world's moves, once for the three figures
        ahead, back = floor(system, footprints=fps), floor(system, reverse=True, footprints=fps)
        dependent, commute = _exactness(fps)
        best = min(ahead.transitions, back.transitions)
        f = {"case": case, "floor": best, "ceiling": r["bfs"]["transitions"] / best, "row": r}
        f["commute"], f["dependent"] = commute, dependent
        out.append(f)
        lines.append(
            f"| {case} | {r['bfs']['states']:,} | {r['bfs']['transitions']:,} | {r['dpor']['states']:,} "
            f"| {r['dpor']['transitions']:,} | {len(ahead.worlds):,} / {len(back.worlds):,} "
            f"| {ahead.transitions:,} / {back.transitions:,} | {r['dpor']['transitions'] / best:.2f} "
            f"| {f['ceiling']:.1f}× | {dependent:,} | {commute:,} ({commute / max(dependent, 1):.0%}) "
            f"| {time.perf_counter() - t:.1f} |"
        )
        print(f"floor: {case} done", file=sys.stderr)
    return lines + [""], out


def _exactness(fps: Footprints) -> tuple[int, int]:
    """(pairs of steps enabled together whose footprints conflict, those of them that commute anyway),
    over every world within the bound."""
    dependent = commute = 0
    stack, seen = [fps.system.initial()], set()
    while stack:
        w = stack.pop()
        if w in seen:
            continue
        seen.add(w)
        here = fps.of(w)
        for a, (wa, fa, cut_a) in here.items():
            if cut_a:
                continue
            stack.append(wa)
            for b, (wb, fb, cut_b) in here.items():
                if b <= a or cut_b or not conflicting(*fa, *fb):
                    continue
                dependent += 1
                ma, mb = fps.of(wa), fps.of(wb)
                commute += b in ma and a in mb and ma[b][0] == mb[a][0]
    return dependent, commute


def _covered(r, every) -> str:
    """Traces reached, and what the missed ones end in."""
    rest, past = r.missed(every)
    miss = [f"{rest} at rest" if rest else "", f"{past} past the bound" if past else ""]
    return f"{r.covered:,}" + (f" (misses {', '.join(m for m in miss if m)})" if rest or past else "")


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
        "loop-terminates included. DPOR: stateful dynamic partial-order reduction over footprints (the verdict",
        "of the default strategy; same verdicts as BFS, tested and asserted here). Sleep sets: exhaustive DFS with",
        "sleep sets over a visited set. K=1 / K=2: BFS over schedules with at most 1 / 2 preemptions (bug",
        "finding, not a proof). Shortest CE s: BFS that stops once every violated property has its shortest",
        "trace (what the default adds after DPOR). Peak MiB is traced allocation during each search",
        "(tracemalloc), in a second run.",
        "",
    ]
    version = spin_bench.setup()
    spins = spin_bench.compare() if version else []
    reach_lines, reached = ([], []) if args.quick else reach()
    whole = {r["case"]: r["bfs"]["states"] for r in rows}
    floor_lines, floors = floor_section(rows, series)
    text = "\n".join(
        head
        + targets_15(rows, series, spins, reached, floors)
        + targets(rows, series)
        + ["## Built-in designs × scenarios", ""]
        + table(rows)
        + ["", "## Scaling", ""]
        + table(series)
        + [""]
        + reach_lines
        + floor_lines
        + traces_section()
        + repair_bench.section()
        + (spin_bench.table(spins, version, whole) if spins else ["SPIN: not installed (apt-get install spin)", ""])
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
