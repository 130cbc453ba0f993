"""The explored state space as a graph: whole when small, else the neighbourhood of the
counterexample paths; counterexample paths drawn bold.
"""

from __future__ import annotations

from pathlib import Path

import graphviz
import networkx as nx
from turnproof.explore.search.result import Observer, Result
from turnproof.explore.views.graphs import write
from turnproof.model.world import World

WHOLE_UP_TO = 200  # states; larger spaces are cut down to the paths and their next steps


class StateGraph(Observer):
    """Numbers every world as it is explored and keeps every transition between them."""

    def __init__(self) -> None:
        self.graph = nx.DiGraph()
        self.number: dict[World, int] = {}

    def _node(self, w: World) -> int:
        n = self.number.get(w)
        if n is None:
            n = self.number[w] = len(self.number)
            pcs = " ".join(f"{f.name}:{f.pc}" for f in w.fibers if f.pc != "end")
            self.graph.add_node(n, label=f"#{n}\\n{pcs or 'all done'}\\n{len(w.store.messages)} messages")
        return n

    def edge(self, w, step, nxt, depths) -> None:
        a = self._node(w)
        if depths[1] is None:  # cut by the bound
            self.graph.add_node("cut", label="past the bound")
            self.graph.add_edge(a, "cut", fiber=step.fiber)
            return
        self.graph.add_edge(a, self._node(nxt), fiber=step.fiber)

    def done(self, result: Result, parents: dict, depth: dict) -> None:
        for w in parents:
            self._node(w)
        self.quiescent = {self.number[w] for w in parents if not result.system.successors(w)}
        self.paths = {}
        for name, f in result.findings.items():
            worlds = [f.trace.initial] + [w for _, w in f.trace.steps]
            self.paths[name] = [self.number[w] for w in worlds if w in self.number]

    def view(self) -> nx.DiGraph:
        """The whole graph, or the counterexample paths with one step around them."""
        if self.graph.number_of_nodes() <= WHOLE_UP_TO:
            return self.graph
        keep = {n for path in self.paths.values() for n in path} | {0}
        keep |= {m for n in list(keep) for m in self.graph.successors(n)}
        return self.graph.subgraph(keep)

    def write(self, out: Path) -> list[Path]:
        g = self.view()
        bold = {(a, b) for path in self.paths.values() for a, b in zip(path, path[1:], strict=False)}
        whole = g.number_of_nodes() == self.graph.number_of_nodes()
        title = f"{'explored state space' if whole else 'neighbourhood of the counterexamples'}: "
        title += f"{g.number_of_nodes()} of {self.graph.number_of_nodes()} states"
        d = graphviz.Digraph("states", graph_attr={"label": title, "labelloc": "t", "fontname": "Helvetica"})
        d.attr("node", fontname="Helvetica", fontsize="9", shape="ellipse")
        for n, a in g.nodes(data=True):
            shape = "doublecircle" if n == 0 else "box" if n in self.quiescent else "ellipse"
            d.node(str(n), a["label"], shape=shape, style="dashed" if n == "cut" else "")
        for a, b, attrs in g.edges(data=True):
            style = {"penwidth": "3", "color": "#dc2626"} if (a, b) in bold else {"color": "#9ca3af"}
            d.edge(str(a), str(b), label=attrs["fiber"], fontsize="8", **style)
        out.mkdir(parents=True, exist_ok=True)
        return write(d, out / "state-graph")
