"""A check's result as plain data (the `--json` object and trace.json) and as readable text."""

from __future__ import annotations

import json
from pathlib import Path

from turnproof.explore.search.fingerprint import collision_bound
from turnproof.explore.search.minimize import CRITERIA
from turnproof.explore.search.result import Result
from turnproof.explore.search.trace import Trace, guard, messages
from turnproof.explore.views.graphs import message_tree, sequence, sequence_dot, tree_dot, write
from turnproof.model.bundle import VERSION
from turnproof.model.ids import show
from turnproof.model.source import TAG, ref
from turnproof.specs.inbox import promised


def trace_json(t: Trace) -> dict:
    steps = []
    for i, (step, after) in enumerate(t.steps, 1):
        r = ref(step.action)
        steps.append(
            {
                "step": i,
                "fiber": step.fiber,
                "action": step.action,
                "source": str(r),
                "events": [{"action": e.ref, "source": str(ref(e.ref)), "says": e.says} for e in step.events],
                "messages": messages(after),
                "guard": guard(after),
            }
        )
    doc = {"schedule": t.schedule, "length": len(t), "steps": steps}
    if t.lasso:
        doc["lasso"] = {"prefix": t.lasso[0], "cycle": t.lasso[1], "cycle_from": t.cycle_from + 1}
    return doc


def result_json(res: Result) -> dict:
    sc = res.system.scenario
    props = []
    for p in res.properties:
        judged = p.name not in res.unjudged
        entry: dict = {"name": p.name, "holds": p.name not in res.findings if judged else None, "when": p.when}
        entry["judged"] = judged
        if not judged:
            entry["why"] = res.unjudged[p.name]
        if p.when == "at_rest" and res.stats.quiescent == 0:
            entry["vacuous"] = True  # no quiescent state was reached within the bound
        f = res.findings.get(p.name)
        if f:
            entry |= {"violation": f.violation.says, "schedule": f.trace.schedule, "trace": trace_json(f.trace)}
            m = res.minimal.get(p.name)
            if m:
                entry["minimal"] = {
                    "criteria": list(CRITERIA),
                    "length": len(m.trace),
                    "preemptions": m.preemptions,
                    "fibers": m.fibers,
                    "candidates": m.candidates,
                    "method": m.method,
                }
        props.append(entry)
    s = res.stats
    extra = {"random": res.random} if res.strategy == "random" else {}
    chosen = {"chosen_by": res.chosen_by} if res.chosen_by else {}
    return (
        extra
        | {"strategy": res.strategy}
        | chosen
        | {
            "design": res.system.design.name,
            "scenario": sc.name,
            "opencode": opencode_of(res.system.design),
            "granularity": sc.granularity,
            "bound": {"max_messages": sc.max_messages, "cut": s.cut, "complete": res.complete}
            | ({"preemptions": res.preemption_bound} if res.preemption_bound is not None else {}),
            "verdict": res.verdict,
            "properties": props,
            "stats": {
                "states": s.states,
                "transitions": s.transitions,
                "max_depth": s.max_depth,
                "quiescent": s.quiescent,
                "seconds": round(s.seconds, 3),
            }
            | ({"reduction": res.search} if res.search else {})
            | _scale_stats(s)
            | ({"shortest": res.shortest | {"seconds": round(res.shortest["seconds"], 3)}} if res.shortest else {}),
        }
    )


TRACE_KIND = {"random": "shrunk", "sleep": "first found", "dpor": "dpor"}  # bfs: "shortest"


def _scale_stats(s) -> dict:
    """What the options of explore/scale/options.py add to the stats (only when they were used)."""
    out: dict = {}
    if s.bytes_per_state is not None:
        out |= {"bytes_per_state": round(s.bytes_per_state, 1), "peak_bytes": s.peak_bytes}
    if s.fingerprint_bits:
        out["fingerprint"] = {"bits": s.fingerprint_bits, "collision_probability": collision_bound(s.states)}
    if s.symmetry:
        out["symmetry"] = s.symmetry
    if s.engine:
        out |= {"workers": s.workers, "engine": s.engine}
    return out


def opencode_of(design) -> str:
    """The opencode a design's steps cite: v1.15.4 lines, or the newest bundle's V2 inbox engine."""
    return f"{VERSION} V2 inbox" if design.engine == "inbox" else TAG


def text(res: Result, retry: str = "") -> str:
    """The result as readable text; `retry` is what an undecided verdict advises trying (a command
    line says its flag)."""
    sc, s = res.system.scenario, res.stats
    if res.strategy == "random":
        r = res.random
        qualifier = f" in {r['runs']} random schedules (seed {r['seed']}; not a proof)"
    elif res.preemption_bound is not None:
        qualifier = f" within {res.preemption_bound} preemption(s) (schedules with more were not explored)"
    elif res.complete:
        qualifier = " (every reachable state explored, nothing cut)"
    else:
        qualifier = f" within the bound (max_messages={sc.max_messages}; {s.cut} steps cut)"
    if res.strategy == "dpor" and res.complete:
        qualifier = " (every schedule covered up to the order of independent steps, nothing cut)"
    if res.findings:
        verdict = "verdict: VIOLATED"
    elif res.unjudged:
        advice = f"; try {retry}" if retry else ""
        verdict = f"verdict: UNDECIDED (nothing violated, but {', '.join(res.unjudged)} not judged{advice})"
    else:
        verdict = f"verdict: HOLDS{qualifier}"
    design = res.system.design
    head = f"design {design.name} × scenario {sc.name} (opencode {opencode_of(design)}, granularity {sc.granularity})"
    lines = [head, verdict]
    for p in res.properties:
        f = res.findings.get(p.name)
        shape = p.name.startswith("shape:")
        if p.name in res.unjudged:
            lines.append(f"  ? {p.name}: {res.unjudged[p.name]}")
        elif f is None:
            vacuous = p.when == "at_rest" and s.quiescent == 0
            note = ": unreachable" if shape else " (vacuous: no state at rest within the bound)" if vacuous else ""
            lines.append(f"  ✓ {p.name}{note}")
        else:
            given_up = "" if shape or promised(design, p.name) else " [not promised by steer delivery]"
            lines.append(f"  ✗ {p.name}: {'reached: ' if shape else ''}{f.violation.says}{given_up}")
            if f.trace.lasso:
                prefix, cycle = f.trace.lasso
                lines.append(f"      lasso: prefix {prefix}, then the cycle {cycle} for ever")
            elif p.name in res.minimal:
                m = res.minimal[p.name]
                lines.append(
                    f"      minimal trace: {len(f.trace)} steps, {m.preemptions} preemption(s), {m.fibers} fibers, "
                    f"schedule {f.trace.schedule}"
                )
            else:
                kind = "shortest" if res.shortest else TRACE_KIND.get(res.strategy, "shortest")
                lines.append(f"      {kind} trace: {len(f.trace)} steps, schedule {f.trace.schedule}")
    if res.strategy == "random":
        r = res.random
        lines.append(
            f"ran {r['runs']} schedules ({r['schedules']} distinct) over {s.states} distinct states, "
            f"{s.transitions} steps, longest {s.max_depth}, in {s.seconds:.2f}s"
        )
    else:
        how = ""
        if res.strategy in ("dpor", "sleep") and res.search:
            enabled = s.transitions + res.search["pruned"]
            how = f" ({res.strategy}: {res.search['pruned']} of {enabled} enabled steps pruned)"
            if res.search.get("stopped"):
                how += ", stopped once every property was violated"
        lines.append(
            f"explored {s.states} states, {s.transitions} transitions{how}, max depth {s.max_depth}, "
            f"{s.quiescent} quiescent, in {s.seconds:.2f}s"
        )
    if res.shortest:
        b = res.shortest
        lines.append(
            f"shortest traces by bfs: {b['states']} states, {b['transitions']} transitions to depth "
            f"{b['max_depth']}, in {b['seconds']:.2f}s"
        )
    if res.chosen_by.startswith(("auto, after dpor", "auto: prompts")):
        lines.append(f"strategy {res.strategy}: chosen by {res.chosen_by}")
    return "\n".join(lines + _scale_text(s))


def _scale_text(s) -> list[str]:
    out = []
    if s.symmetry:
        y = s.symmetry
        groups = "; ".join(", ".join(g) for g in y["groups"]) or "none in this scenario"
        out.append(
            f"symmetry: interchangeable prompts {groups}: {s.states} orbits stand for "
            f"{y['represented_states']} states, {y['represented_transitions']} transitions ({y['reduction']}x fewer)"
        )
    if s.fingerprint_bits:
        out.append(
            f"fingerprints: {s.fingerprint_bits}-bit; chance that two of the {s.states} states collided "
            f"<= {collision_bound(s.states):.1e}"
        )
    if s.engine:
        out.append(f"workers: {s.workers} ({'processes of this machine' if s.engine == 'local' else 'Dask'})")
    if s.bytes_per_state is not None:
        peak = s.peak_bytes / 2**20
        where = " in the owner process (workers hold one level's worlds)" if s.engine else ""
        per = f"{s.bytes_per_state:,.0f} bytes per stored state{where}"
        out.append(f"memory: {per}, peak {peak:,.1f} MiB (tracemalloc)")
    return out


def narrate(t: Trace) -> list[str]:
    """The steps of a trace, one line per sub-action, with the opencode line each stands for."""
    out = []
    for i, (step, _) in enumerate(t.steps, 1):
        for j, e in enumerate(step.events):
            head = f"{i:>3}. {step.fiber:<4}" if j == 0 else " " * 10
            out.append(f"{head} {e.says}  [{ref(e.ref)}]")
    return out


def trace_doc(res: Result, name: str) -> dict:
    """The trace.json of one finding: what replay and explain read back."""
    f = res.findings[name]
    doc = {"design": res.system.design.name, "scenario": res.system.scenario.name, "property": name}
    doc |= {"granularity": res.system.scenario.granularity}
    doc |= {"design_file": _ref(res.system.design), "scenario_file": _ref(res.system.scenario)}
    doc |= {"violation": f.violation.says, "highlight": [show(i) for i in f.violation.nodes]}
    if res.system.design.engine == "inbox":  # its steps cite the newest bundle, not v1.15.4 lines
        doc["opencode"] = opencode_of(res.system.design)
    return doc | trace_json(f.trace)


def write_graphs(res: Result, out: Path) -> list[Path]:
    """For each violated property: message tree, sequence diagram (.dot/.svg) and trace.json."""
    written: list[Path] = []
    for name, f in res.findings.items():
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        title = f"{res.system.design.name} × {res.system.scenario.name}: {name}\\n{f.violation.says}"
        written += write(tree_dot(message_tree(f.trace.final, f.violation.nodes), title), d / "message-tree")
        written += write(sequence_dot(sequence(f.trace), title), d / "sequence")
        path = d / "trace.json"
        path.write_text(json.dumps(trace_doc(res, name), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _ref(spec) -> str:
    """How to load a design or scenario again: its built-in name, or its file's absolute path."""
    path = Path(spec.path) if spec.path else None
    builtin = path is not None and path.parent.name in ("designs", "scenarios") and path.parent.parent.name == "specs"
    return spec.name if builtin or path is None else str(path.resolve())
