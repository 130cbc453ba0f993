"""Mazurkiewicz traces counted exactly (explore/search/mazurkiewicz.py): against hand counts,
against a brute-force closure of schedules under swaps of adjacent independent steps, and the
schedules dpor's and the sleep-set search's explored graphs stand for."""

from __future__ import annotations

import pytest
from conftest import system
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dpor import OPS, Toy
from test_footprint import reachable
from turnproof.explore.search.dpor import dpor_search
from turnproof.explore.search.mazurkiewicz import Explored, TooLarge, count, floor, traces
from turnproof.explore.search.naive import naive_dfs
from turnproof.explore.search.sleep import sleep_search
from turnproof.specs.properties import PROPERTIES


def swap_classes(sys_) -> tuple[int, int]:
    """(schedules, traces) by brute force: every maximal schedule as its fibers and footprints,
    then the classes of the closure under swapping two adjacent steps of different fibers whose
    footprints do not conflict (the swapped schedule must exist: the commutation test's claim)."""
    runs: dict[tuple, list] = {}

    def walk(w, fibers, fps):
        moves = sys_.moves(w)
        if not moves:
            runs[fibers] = fps
        for step, nxt, fp in moves:
            if sys_.bounded_out(nxt):
                runs[(*fibers, step.fiber)] = [*fps, fp]
            else:
                walk(nxt, (*fibers, step.fiber), [*fps, fp])

    walk(sys_.initial(), (), [])
    parent = {s: s for s in runs}

    def root(s):
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for s, fps in runs.items():
        for i in range(len(s) - 1):
            if s[i] != s[i + 1] and not fps[i].conflicts(fps[i + 1]):
                t = (*s[:i], s[i + 1], s[i], *s[i + 2 :])
                assert t in runs, (s, i)
                parent[root(s)] = root(t)
    return len(runs), len({root(s) for s in runs})


# --- hand counts ---------------------------------------------------------------------------------


def test_independent_fibers_make_one_trace():
    # f0 increments the observed variable twice, f1 variable 1 once: 3 interleavings, one trace
    t = traces(Toy(((("inc", 0), ("inc", 0)), (("inc", 1),))))
    assert (t.schedules, t.traces) == (3, 1)


def test_one_dependent_pair_makes_two_traces():
    # both increment variable 1 (f0 after an independent step): 3 interleavings, 2 orders of the pair
    t = traces(Toy(((("inc", 0), ("inc", 1)), (("inc", 1),))))
    assert (t.schedules, t.traces) == (3, 2)


def test_two_readers_of_one_variable_commute_but_not_with_its_writer():
    # reads commute with reads; the write splits them: f2's write before, between or after the
    # reads of f0 and f1 gives 2 x 2 orders of the dependent pairs
    t = traces(Toy(((("add", 1),), (("add", 1),), (("inc", 1),))))
    assert (t.schedules, t.traces) == (6, 4)


def test_too_many_schedules_is_refused_with_a_clear_error():
    with pytest.raises(TooLarge, match=r"v1\.15\.4 × two-instances: more than 100 schedules"):
        traces(system("v1.15.4", "two-instances"), limit=100)


# --- against brute force -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "design,scenario",
    [("v1.15.4", "tool-race"), ("v1.15.4", "double-async"), ("bind-and-serialize", "two-instances")],
)
def test_traces_match_the_swap_closure_on_built_ins(design, scenario):
    sys_ = system(design, scenario)
    t = traces(sys_)
    assert (t.schedules, t.traces) == swap_classes(sys_)
    assert t.schedules == naive_dfs(sys_).schedules
    assert 1 <= t.traces < t.schedules  # a reduction exists on these: two clients interleave


SMALL = st.lists(st.lists(OPS, min_size=1, max_size=3).map(tuple), min_size=2, max_size=3).map(tuple)


@settings(max_examples=60, deadline=None)
@given(SMALL, st.integers(0, 3))
def test_traces_match_the_swap_closure_on_random_programs(programs, limit):
    toy = Toy(programs, limit)
    t = traces(toy)
    assert (t.schedules, t.traces) == swap_classes(toy)


# --- what the reduced searches stand for ---------------------------------------------------------


@pytest.mark.parametrize(
    "design,scenario",
    [
        ("v1.15.4", "tool-race"),
        ("v1.15.4", "abort-race"),
        ("v1.15.4", "client-messageid"),  # every schedule ends past the bound
        ("bind-and-serialize", "shell-then-prompt"),
    ],
)
def test_the_reduced_searches_against_the_traces(design, scenario):
    sys_ = system(design, scenario)
    c = count(sys_)
    assert c.naive.traces <= c.naive.schedules
    for name, r in c.reduced.items():
        # the graph's paths counted by dynamic programming and walked one by one agree, and are
        # schedules of the model
        assert r.schedules == r.walked.schedules <= c.naive.schedules, name
        assert r.walked.forms <= c.naive.forms, name
        # every world at rest is reached: both searches keep every reachable world's verdicts
        assert r.walked.ends == c.naive.ends, name
    # dpor reaches every trace ending at rest (optimal DPOR: one schedule per trace), and explores
    # fewer schedules than naive DFS
    dpor = c.reduced["dpor"]
    assert dpor.missed(c.naive)[0] == 0 and c.ratio("dpor") >= 1
    assert c.ratio("dpor") < c.naive.schedules / c.naive.traces
    if not c.naive.past:
        assert dpor.covered == c.naive.traces


def test_a_world_where_every_step_slept_ends_no_schedule():
    """The sleep-set search's graph has worlds with no step taken that are not at rest: a path
    ending there is not a schedule, and the count says so."""
    sys_ = system("v1.15.4", "abort-race")
    graph = Explored()
    sleep_search(sys_, PROPERTIES, observers=(graph,))
    stuck = [w for w, steps in graph.steps.items() if not steps and sys_.successors(w)]
    assert stuck
    whole = Explored()
    whole.steps = {w: {st.fiber: n for st, n in sys_.successors(w)} for w in graph.steps}
    assert whole.schedules(sys_) == naive_dfs(sys_).schedules  # every step taken: every schedule


# --- the floor: one schedule per trace -----------------------------------------------------------


def first_of_each_trace(sys_, reverse=False) -> tuple[set, set]:
    """By brute force: walk every maximal schedule in fiber order (or its reverse), name each by
    its events and its ordered dependent pairs of them, and keep the worlds and steps of the first
    schedule of each trace (the worlds before a step past the bound, as the searches count them)."""
    worlds, steps, forms = set(), set(), set()

    def walk(w, events, frames):
        moves = sys_.moves(w)
        if reverse:
            moves = moves[::-1]
        if not moves:
            end(events, frames)
        for step, nxt, fp in moves:
            k = sum(1 for f, _, _ in events if f == step.fiber)
            path = [*events, (step.fiber, k, fp)]
            if sys_.bounded_out(nxt):
                end(path, frames)
            else:
                walk(nxt, path, [*frames, (w, step.fiber, nxt)])

    def end(events, frames):
        form = (
            frozenset((f, k) for f, k, _ in events),
            frozenset(
                ((a[0], a[1]), (b[0], b[1]))
                for i, a in enumerate(events)
                for b in events[i + 1 :]
                if a[0] == b[0] or a[2].conflicts(b[2])
            ),
        )
        if form in forms:
            return
        forms.add(form)
        worlds.add(sys_.initial())
        for w, f, nxt in frames:
            worlds.add(nxt)
            steps.add((w, f))
        if len(events) > len(frames):  # the last step went past the bound, from the last world
            steps.add((frames[-1][2] if frames else sys_.initial(), events[-1][0]))

    walk(sys_.initial(), [], [])
    return worlds, steps


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "design,scenario",
    [
        ("v1.15.4", "tool-race"),
        ("v1.15.4", "abort-race"),
        ("v1.15.4", "client-messageid"),  # every schedule ends past the bound
        ("v1.15.4", "mint-gap"),
        ("bind-and-serialize", "two-instances"),
    ],
)
def test_the_floor_is_the_first_schedule_of_each_trace(design, scenario, reverse):
    sys_ = system(design, scenario)
    worlds, steps = first_of_each_trace(sys_, reverse)
    f = floor(sys_, reverse)
    assert (f.worlds, f.transitions) == (worlds, len(steps))
    # every world at rest ends some trace, so it is on the floor, and no world is there twice
    every = reachable(sys_)  # world -> its moves
    assert {w for w, moves in every.items() if not moves} <= f.worlds <= every.keys()
    assert f.transitions >= len(f.worlds) - 1


@settings(max_examples=60, deadline=None)
@given(SMALL, st.integers(0, 3), st.booleans())
def test_the_floor_is_the_first_schedule_of_each_trace_on_random_programs(programs, limit, reverse):
    toy = Toy(programs, limit)
    worlds, steps = first_of_each_trace(toy, reverse)
    f = floor(toy, reverse)
    assert (f.worlds, f.transitions) == (worlds, len(steps))


def test_dpor_explores_near_the_floor_where_it_is_counted():
    """On these, dpor explores the worlds a trace-optimal DPOR visits, give or take a few: what its
    reduction can still gain is bounded by the dependency relation, not by the search."""
    for design, scenario in (("v1.15.4", "abort-queued"), ("v1.15.4", "queue-plugin"), ("v1.15.4", "mint-gap")):
        sys_ = system(design, scenario)
        explored = dpor_search(sys_, PROPERTIES).stats.states
        f = len(floor(sys_).worlds)
        assert explored <= 1.1 * f, (design, scenario, explored, f)  # (it may go below: another order)
