"""The partial-order reduced search never changes a verdict: on every built-in design × scenario
it violates and judges what plain BFS does, and its counterexamples replay under the plain model;
on random small programs it reaches every world at rest and every value a property reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import checked, pairs, system
from conftest import reduced as cached_dpor
from hypothesis import given, settings
from hypothesis import strategies as st
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.dpor import dpor_search
from turnproof.explore.search.liveness import abstract
from turnproof.explore.search.trace import replay
from turnproof.explore.views.report import result_json
from turnproof.model.fibers import Event, Step
from turnproof.model.footprint import Footprint
from turnproof.specs.loader import builtin
from turnproof.specs.properties import PROPERTIES, Property, Violation

PAIRS = pairs(builtin("design"), builtin("scenario"))  # idle-window ones marked slow
TOOL_RACE = Path(__file__).parent.parent / "specs" / "scenarios" / "tool-race.toml"


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_dpor_agrees_with_bfs(design, scenario):
    sys_ = system(design, scenario)
    plain, reduced = checked(design, scenario), cached_dpor(design, scenario)
    assert set(reduced.findings) == set(plain.findings)
    assert reduced.unjudged == {} and plain.unjudged == {}  # the same judged set: every property
    assert reduced.stats.quiescent == plain.stats.quiescent  # every world at rest is reached
    assert reduced.complete == plain.complete  # a step past the bound is met when one exists
    assert reduced.stats.states <= plain.stats.states and reduced.stats.transitions <= plain.stats.transitions
    s = reduced.search
    assert s["enabled"] == reduced.stats.transitions + s["pruned"] and s["pruned"] >= 0
    if scenario == "idle-window" and sys_.design.engine == "legacy":
        # the largest built-in spaces: fewer states, far fewer transitions (under the inbox engine
        # idle-window is small: a few hundred states, every step writing what a property reads);
        # 4x since onIdle's deletes are clears that commute (3x before)
        assert reduced.stats.states * 2 < plain.stats.states
        assert reduced.stats.transitions * 4 < plain.stats.transitions
    for name, f in reduced.findings.items():
        again = replay(sys_, f.trace.schedule)  # a schedule of the plain model
        assert again.final == f.trace.final
        if f.trace.lasso:
            start = again.steps[f.trace.cycle_from - 1][1] if f.trace.cycle_from else again.initial
            assert abstract(start, sys_) == abstract(again.final, sys_), name
        else:
            assert f.prop.check(again.final) == f.violation, name
            if f.prop.when == "at_rest":
                assert not sys_.successors(again.final)


def test_dpor_reports_progress_as_it_goes():
    seen = []
    res = dpor_search(system("v1.15.4", "async-overlap"), PROPERTIES, lambda st, depth: seen.append((st.states, depth)))
    assert [n for n, _ in seen] == [500 * (i + 1) for i in range(res.stats.states // 500)] and seen
    assert all(0 < d for _, d in seen)


def test_a_cut_without_a_lasso_leaves_loop_terminates_unjudged(tmp_path, cli):
    """With a bound so low that steps are cut and no loop runs away, bfs proves loop-terminates on
    the whole graph; dpor cannot, says so, and never counts it as holding; auto then runs bfs."""
    sys_ = system("bind-and-serialize", "tool-race", max_messages=3)
    plain, reduced = bfs(sys_, PROPERTIES), dpor_search(sys_, PROPERTIES)
    assert plain.stats.cut and "loop-terminates" not in plain.findings and plain.holds
    assert list(reduced.unjudged) == ["loop-terminates"] and not reduced.holds
    assert reduced.verdict == "undecided" and "loop-terminates" not in reduced.findings
    doc = result_json(reduced)
    entry = next(p for p in doc["properties"] if p["name"] == "loop-terminates")
    assert (entry["judged"], entry["holds"], doc["verdict"]) == (False, None, "undecided")
    scenario = tmp_path / "low.toml"
    scenario.write_text(TOOL_RACE.read_text(encoding="utf-8").replace("max_messages = 12", "max_messages = 3"))
    r = cli("check", "--design", "bind-and-serialize", "--scenario", str(scenario), "--strategy", "dpor")
    assert r.exit_code == 3
    assert "verdict: UNDECIDED" in r.output and "? loop-terminates: not judged by dpor" in r.output
    r = cli("check", "--design", "bind-and-serialize", "--scenario", str(scenario), "--json")
    doc = json.loads(r.output)
    assert (r.exit_code, doc["strategy"], doc["verdict"]) == (0, "bfs", "holds")
    assert doc["chosen_by"] == "auto, after dpor could not judge loop-terminates"


def test_cli_dpor_json_and_auto(cli, tmp_path):
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--strategy", "dpor", "--json")
    doc = json.loads(r.output)
    assert r.exit_code == 1 and doc["strategy"] == "dpor" and all(p["judged"] for p in doc["properties"])
    red = doc["stats"]["reduction"]
    assert red["pruned"] > 0 and red["enabled"] == doc["stats"]["transitions"] + red["pruned"]
    auto = json.loads(cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--json").output)
    assert (auto["strategy"], auto["chosen_by"]) == ("dpor", "auto")
    shortest = auto["stats"].pop("shortest")  # auto shortens dpor's traces with a bfs that stops early
    assert 0 < shortest["states"] <= checked("v1.15.4", "tool-race").stats.states
    auto.pop("chosen_by"), auto["stats"].pop("seconds"), doc["stats"].pop("seconds")
    assert auto == doc  # here dpor's first traces happen to be the shortest already
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--strategy", "dpor")
    assert "dpor trace: 6 steps, schedule U1,r1,U2,r1*3" in r.output and "(dpor: " in r.output
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race")
    assert "shortest trace: 6 steps, schedule U1,r1,U2,r1*3" in r.output and "shortest traces by bfs: " in r.output
    m = json.loads(cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--minimize", "--json").output)
    assert (m["strategy"], m["chosen_by"]) == ("bfs", "auto: --minimize needs bfs")
    for flag in (["--minimize"], ["--state-graph"], ["--preemptions", "1"]):
        r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--strategy", "dpor", *flag)
        assert r.exit_code == 2 and f"{flag[0]} needs --strategy bfs" in r.output


# --- random small programs: the algorithm against plain BFS, away from the turn model ---------

VARS = 3  # shared variables: 0 is what the property reads (kind "obs"), 2 what the bound reads ("cnt")


@dataclass(frozen=True)
class Toy:
    """Fibers running straight-line code over shared variables: write, add-into-local, increment,
    and wait-until-nonzero (enabledness only grows: variables only grow). A step's footprint is
    what it reads and what it changes, as the turn model's are."""

    programs: tuple[tuple[tuple[str, int], ...], ...]
    limit: int = 99  # past this value of variable 2 a world is cut, as past max_messages
    bound_reads = ("cnt",)

    def initial(self):
        return (tuple(0 for _ in self.programs), tuple(0 for _ in self.programs), tuple(0 for _ in range(VARS)))

    def _loc(self, x: int):
        return (("obs",), ("var", 1), ("cnt",))[x]

    def moves(self, w):
        pcs, locs, vs = w
        out = []
        for i, prog in enumerate(self.programs):
            if pcs[i] >= len(prog):
                continue
            op, x = prog[pcs[i]]
            if op == "wait" and vs[x] == 0:
                continue
            reads = {("fiber", i), ("bound",), self._loc(x)}
            acc, nv = locs[i], list(vs)
            if op == "add":
                acc = acc + vs[x]
            elif op == "write":
                nv[x] = 1 + acc + i
            elif op == "inc":
                nv[x] = vs[x] + 1
            nxt = (pcs[:i] + (pcs[i] + 1,) + pcs[i + 1 :], locs[:i] + (acc,) + locs[i + 1 :], tuple(nv))
            writes = {("fiber", i)} | ({self._loc(x)} if nv[x] != vs[x] else set())
            if self.bounded_out(nxt):
                writes.add(("bound",))
            out.append((Step(f"f{i}", (Event("toy", op),)), nxt, Footprint(frozenset(reads), frozenset(writes))))
        return out

    def successors(self, w):
        return [(s, n) for s, n, _ in self.moves(w)]

    def enabled(self, w):
        return [s.fiber for s, _ in self.successors(w)]

    def bounded_out(self, w):
        return w[2][2] > self.limit

    def apply(self, w, fiber):
        return next((s, n) for s, n in self.successors(w) if s.fiber == fiber)


OPS = st.tuples(st.sampled_from(["write", "add", "inc", "wait"]), st.integers(0, VARS - 1))
PROGRAMS = st.lists(st.lists(OPS, min_size=1, max_size=4).map(tuple), min_size=2, max_size=3).map(tuple)


def _spies():
    """Properties that hold everywhere but note what they saw: the obs values, the worlds at rest."""
    seen, rest = set(), set()
    watch = Property("obs", "always", "", lambda w: seen.add(w[2][0]), ("obs",))
    quiet = Property("rest", "at_rest", "", lambda w: rest.add(w))
    return seen, rest, (watch, quiet)


@pytest.mark.slow  # hypothesis: 300 random programs
@settings(max_examples=300, deadline=None)
@given(PROGRAMS, st.integers(0, 4))
def test_dpor_on_random_programs_reaches_what_bfs_reaches(programs, limit):
    toy = Toy(programs, limit)
    seen_b, rest_b, props_b = _spies()
    seen_d, rest_d, props_d = _spies()
    plain, reduced = bfs(toy, props_b), dpor_search(toy, props_d)
    assert rest_d == rest_b  # every world at rest
    assert seen_d == seen_b  # every value the always-property reads
    assert bool(reduced.stats.cut) == bool(plain.stats.cut)  # a step past the bound, if there is one
    assert reduced.stats.states <= plain.stats.states


def test_a_violation_found_on_a_toy_replays():
    toy = Toy(((("inc", 1), ("write", 0)), (("add", 1), ("inc", 2), ("write", 0))))
    small = Property("small", "always", "", lambda w: Violation(f"obs is {w[2][0]}", ()) if w[2][0] > 2 else None)
    small = Property(small.name, small.when, small.statement, small.check, ("obs",))
    f = dpor_search(toy, (small,)).findings["small"]
    again = replay(toy, f.trace.schedule)
    assert again.final == f.trace.final and small.check(again.final) is not None
    assert set(bfs(toy, (small,)).findings) == {"small"}


@dataclass(frozen=True)
class Spin:
    """Two fibers flipping a bit each, for ever: a space with cycles."""

    def initial(self):
        return (0, 0)

    def moves(self, w):
        return [(Step(f"f{i}", (Event("toy", "flip"),)), w[:i] + (1 - w[i],) + w[i + 1 :], _flip(i)) for i in range(2)]

    def bounded_out(self, w):
        return False


def _flip(i: int) -> Footprint:
    return Footprint(frozenset({("fiber", i), ("var", i)}), frozenset({("fiber", i), ("var", i)}))


def test_dpor_restarts_without_reduction_on_a_cycle():
    """Worlds of the turn model only grow; a model whose worlds recur gets the unreduced search."""
    res = dpor_search(Spin(), ())
    assert res.search["restarted_without_reduction"] is True
    assert res.stats.states == 4 and res.stats.transitions == 8
