"""--state-graph: the whole space when small, the counterexamples' neighbourhood when not."""

from __future__ import annotations

from conftest import system
from turnproof.explore.search.bfs import bfs
from turnproof.explore.views.stategraph import WHOLE_UP_TO, StateGraph
from turnproof.specs.properties import PROPERTIES


def test_small_spaces_are_drawn_whole_with_the_paths_bold(tmp_path):
    g = StateGraph()
    res = bfs(system("v1.15.4", "tool-race"), PROPERTIES, observers=(g,))
    assert g.view().number_of_nodes() == res.stats.states
    assert g.graph.number_of_edges() == res.stats.transitions  # no cut steps here, every edge distinct
    files = g.write(tmp_path)
    dot = (tmp_path / "state-graph.dot").read_text()
    assert f"{res.stats.states} of {res.stats.states} states" in dot
    path = g.paths["turn-binding"]
    assert len(path) == len(res.findings["turn-binding"].trace) + 1
    assert dot.count("penwidth=3") >= len(path) - 1
    assert any(f.suffix == ".dot" for f in files)


def test_large_spaces_keep_the_neighbourhood_of_the_counterexamples():
    g = StateGraph()
    res = bfs(system("v1.15.4", "async-overlap"), PROPERTIES, observers=(g,))
    assert res.stats.states > WHOLE_UP_TO
    view = g.view()
    assert view.number_of_nodes() < res.stats.states
    for path in g.paths.values():
        assert all(n in view for n in path)


def test_cli_state_graph(cli, tmp_path):
    r = cli(
        "check", "--design", "bind-and-serialize", "--scenario", "tool-race", "--state-graph", "--out", str(tmp_path)
    )
    assert r.exit_code == 0 and (tmp_path / "state-graph.dot").is_file()
