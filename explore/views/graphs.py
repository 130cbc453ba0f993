"""Counterexample pictures as networkx graphs, drawn with graphviz: the message tree and the
fibers' sequence diagram. `.dot` is always written; `.svg` when the `dot` binary is present.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import graphviz
import networkx as nx
from turnproof.explore.search.trace import Trace
from turnproof.model.ids import show
from turnproof.model.store import ASSISTANT, TOOL_CALLS, USER
from turnproof.model.world import World

FILL = {"user": "#dbeafe", "stop": "#dcfce7", TOOL_CALLS: "#ffedd5", "open": "#f3f4f6", "aborted": "#fee2e2"}


def message_tree(w: World, highlight: tuple[int, ...] = ()) -> nx.DiGraph:
    """Users and assistants as nodes, parentID as edges (user -> assistant), in id order."""
    g = nx.DiGraph(name="message tree")
    node = {m.id: f"m{m.seq}" for m in w.store.messages}
    for m in w.store.messages:
        if m.role == USER:
            note = "\\n(shell)" if m.synthetic else "\\n(noReply)" if m.no_reply else ""
            kind, text = "user", f"{m.label}\\nuser · id {show(m.id)}{note}"
        else:
            kind = "aborted" if m.error else (m.finish if m.finish in ("stop", TOOL_CALLS) else "open")
            tools = "".join(f"\\ntool: {p.status}" for p in m.tools)
            text = f"{m.label}\\nassistant · id {show(m.id)}\\nfinish: {m.finish or '—'}{tools}\\nby {m.source}"
        g.add_node(node[m.id], label=text, kind=kind, role=m.role, hot=m.id in highlight)
    for m in w.store.messages:
        if m.role == ASSISTANT and m.parent is not None:
            g.add_edge(node[m.parent], node[m.id], label="parentID")
    return g


def sequence(trace: Trace) -> nx.DiGraph:
    """One lane per fiber, one node per step; lifeline edges, and forks/wakes across lanes."""
    g = nx.DiGraph(name="schedule")
    last: dict[str, str] = {}
    before = trace.initial
    for f in before.fibers:
        g.add_node(f"head_{f.name}", label=f.name, lane=f.name, head=True)
        last[f.name] = f"head_{f.name}"
    made_by: dict[str, str] = {}
    woke: dict[int, str] = {}
    for i, (step, after) in enumerate(trace.steps, 1):
        node = f"s{i}"
        words = "\\n".join(e.says for e in step.events)
        cycle = trace.cycle_from is not None and i > trace.cycle_from
        g.add_node(node, label=f"{i}. {words}", lane=step.fiber, step=i, hot=False, cycle=cycle)
        if step.fiber not in last:
            g.add_node(f"head_{step.fiber}", label=step.fiber, lane=step.fiber, head=True)
            last[step.fiber] = f"head_{step.fiber}"
            if step.fiber in made_by:
                g.add_edge(made_by[step.fiber], node, kind="fork")
        g.add_edge(last[step.fiber], node, kind="life")
        last[step.fiber] = node
        for f in after.fibers:
            if f.name not in {h.name for h in before.fibers}:
                made_by[f.name] = node
        for r_before, r_after in zip(before.runs, after.runs, strict=False):
            if r_before.done is None and r_after.done is not None:
                woke[r_after.id] = node
        actor = before.fiber(step.fiber)
        if actor.pc == "await" and actor.run in woke:
            g.add_edge(woke[actor.run], node, kind="wake")
        before = after
    if trace.steps:
        g.nodes[f"s{len(trace.steps)}"]["hot"] = True
    if trace.cycle_from is not None and trace.cycle_from < len(trace.steps):
        g.add_edge(f"s{len(trace.steps)}", f"s{trace.cycle_from + 1}", kind="repeat")
    return g


def tree_dot(g: nx.DiGraph, title: str) -> graphviz.Digraph:
    d = graphviz.Digraph(
        "message_tree", graph_attr={"rankdir": "TB", "label": title, "labelloc": "t", "fontname": "Helvetica"}
    )
    d.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="11")
    users = [n for n, a in g.nodes(data=True) if a["role"] == USER]
    with d.subgraph() as row:
        row.attr(rank="same")
        for n in users:
            _node(row, n, g.nodes[n])
    for n, a in g.nodes(data=True):
        if a["role"] != USER:
            _node(d, n, a)
    for a, b in zip(users, users[1:], strict=False):
        d.edge(a, b, style="invis")
    for a, b, attrs in g.edges(data=True):
        d.edge(a, b, label=attrs.get("label", ""), fontsize="9")
    return d


def _node(d: graphviz.Digraph, n: str, a: dict) -> None:
    style = {"color": "#dc2626", "penwidth": "3"} if a.get("hot") else {}
    d.node(n, a["label"], fillcolor=FILL[a["kind"]], **style)


def sequence_dot(g: nx.DiGraph, title: str) -> graphviz.Digraph:
    d = graphviz.Digraph(
        "schedule",
        graph_attr={"rankdir": "TB", "label": title, "labelloc": "t", "fontname": "Helvetica", "newrank": "true"},
    )
    d.attr("node", fontname="Helvetica", fontsize="10")
    heads = [n for n, a in g.nodes(data=True) if a.get("head")]
    with d.subgraph() as row:
        row.attr(rank="same")
        for n in heads:
            row.node(n, g.nodes[n]["label"], shape="box", style="filled", fillcolor="#e5e7eb", group=g.nodes[n]["lane"])
    steps = sorted((a["step"], n) for n, a in g.nodes(data=True) if not a.get("head"))
    loop = graphviz.Digraph(
        "cluster_cycle", graph_attr={"label": "cycle: repeats for ever", "style": "dashed", "color": "#dc2626"}
    )
    for _, n in steps:
        a = g.nodes[n]
        hot = {"color": "#dc2626", "penwidth": "3"} if a["hot"] else {}
        (loop if a.get("cycle") else d).node(n, a["label"], shape="note", group=a["lane"], **hot)
    if any(a.get("cycle") for a in g.nodes.values()):
        d.subgraph(loop)
    for a, b in zip(heads, heads[1:], strict=False):
        d.edge(a, b, style="invis")
    for (_, a), (_, b) in zip(steps, steps[1:], strict=False):
        d.edge(a, b, style="invis", weight="0")
    for a, b, attrs in g.edges(data=True):
        if attrs["kind"] == "life":
            d.edge(a, b, weight="10", arrowhead="none", color="#6b7280")
        elif attrs["kind"] == "repeat":
            d.edge(a, b, color="#dc2626", label="repeat", fontsize="9", constraint="false", penwidth="2")
        else:
            d.edge(a, b, style="dashed", color="#2563eb", label=attrs["kind"], fontsize="9", constraint="false")
    return d


def write(d: graphviz.Digraph, base: Path) -> list[Path]:
    """Write `base.dot`, and `base.svg` when graphviz's `dot` is installed."""
    written = [base.with_suffix(".dot")]
    written[0].write_text(d.source, encoding="utf-8")
    if shutil.which("dot"):
        svg = base.with_suffix(".svg")
        svg.write_bytes(d.pipe(format="svg"))
        written.append(svg)
    return written
