"""Footprints against the model itself, on every reachable world of every built-in pair: steps
judged independent commute, keep each other's footprint, and no step disables another fiber;
each always-property, and the bound, reads only the location kinds declared for it (what makes a
step visible to the reduced searches)."""

from __future__ import annotations

from collections import deque

import pytest
from conftest import pairs, system
from turnproof.model.fibers import enabled
from turnproof.model.footprint import _NOTES, FAST, Footprint, Watched, _accessor, split, written
from turnproof.model.inbox import step
from turnproof.model.system import BOUND
from turnproof.specs.loader import builtin
from turnproof.specs.properties import PROPERTIES
from turnproof.specs.shapes import SHAPES

PAIRS = pairs(builtin("design"), builtin("scenario"))  # idle-window ones marked slow
DECLARED = [p for p in (*PROPERTIES, *SHAPES.values()) if p.when == "always"]


def reachable(sys_):
    """Every world within the bound, each with its moves by fiber (computed once per world)."""
    moves = {}
    init = sys_.initial()
    queue = deque([init])
    moves[init] = {st.fiber: (st, nxt, fp) for st, nxt, fp in sys_.moves(init)}
    while queue:
        w = queue.popleft()
        for _, nxt, _ in moves[w].values():
            if not sys_.bounded_out(nxt) and nxt not in moves:
                moves[nxt] = {st.fiber: (st, n, fp) for st, n, fp in sys_.moves(nxt)}
                queue.append(nxt)
    return moves


class Generic(Watched):
    """Every accessor through the generic wrapper over _NOTES, the written-out ones (FAST) too."""

    __slots__ = ()


for _name in FAST:
    setattr(Generic, _name, _accessor(_name, _NOTES[_name]))


def the_long_way(sys_, w) -> dict:
    """Each enabled fiber's footprint as recorded without shortcuts: enabledness re-run watched for
    every fiber (not only at a wait), every accessor noting through _NOTES."""
    out = {}
    for f in sys_.enabled(w):
        reads = {("fiber", f.name), BOUND}
        enabled(sys_.scenario, Generic(w, reads), f)
        _, after = step(sys_.design, sys_.scenario, Generic(w, reads), f)
        reads, clears = split(reads)
        writes = (written(w, after.world) - clears) | ({BOUND} if sys_.bounded_out(after.world) else frozenset())
        out[f.name] = Footprint(reads, writes, clears)
    return out


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_the_dependency_relation_holds_on_every_reachable_world(design, scenario):
    sys_ = system(design, scenario)
    moves = reachable(sys_)
    independent = 0
    for i, (w, here) in enumerate(moves.items()):
        if i % 16 == 0:  # the recording view changes nothing: moves are the plain successors
            assert [(s.fiber, n) for s, n in sys_.successors(w)] == [(s.fiber, n) for s, n, _ in here.values()]
            # and the shortcuts `moves` takes record what the long way does
            assert {a: fp for a, (_, _, fp) in here.items()} == the_long_way(sys_, w), w
        for a, (_, wa, fa) in here.items():
            if sys_.bounded_out(wa):
                continue
            # no step disables another fiber: what DPOR's persistence argument rests on
            assert set(here) - {a} <= set(moves[wa]), (w, a)
            for b, (_, wb, fb) in here.items():
                if b <= a or fa.conflicts(fb):
                    continue
                independent += 1
                # judged independent: both orders run, end in the same world, and neither changes
                # the other's footprint
                assert not sys_.bounded_out(wb)
                assert b in moves[wa] and a in moves[wb], (w, a, b)
                assert moves[wa][b][1] == moves[wb][a][1], (w, a, b)
                assert moves[wa][b][2] == fb and moves[wb][a][2] == fa, (w, a, b)
        for p in DECLARED:
            reads: set = set()
            p.check(Watched(w, reads))
            assert {loc[0] for loc in reads} <= set(p.reads), p.name
        reads = set()
        sys_.bounded_out(Watched(w, reads))
        assert {loc[0] for loc in reads} <= set(sys_.bound_reads)
    # the relation is not trivially "everything depends" (one client alone never has two fibers
    # enabled at once: its loop runs while it awaits)
    assert independent > 0 or len(sys_.scenario.prompts) == 1


def test_conflicts_is_symmetric_and_read_read_is_no_conflict():
    a = Footprint(frozenset({("x",), ("y",)}), frozenset({("y",)}))
    b = Footprint(frozenset({("x",)}), frozenset())
    c = Footprint(frozenset({("y",)}), frozenset())
    assert not a.conflicts(b) and not b.conflicts(a)
    assert a.conflicts(c) and c.conflicts(a)


def test_an_unrecorded_accessor_fails_rather_than_going_unnoticed():
    w = system("v1.15.4", "tool-race").initial()
    with pytest.raises(AttributeError, match="not recorded"):
        Watched(w, set()).write_everything()


def test_two_blind_clears_commute_but_a_clear_conflicts_with_a_read_or_a_write():
    entry = ("map", 0)
    clear = Footprint(frozenset(), frozenset(), frozenset({entry}))
    assert not clear.conflicts(clear)
    for other in (Footprint(frozenset({entry}), frozenset()), Footprint(frozenset({entry}), frozenset({entry}))):
        assert clear.conflicts(other) and other.conflicts(clear)


def test_two_runners_going_idle_clear_the_map_entry_independently():
    """two-instances: two onIdle deletes of one map entry, each blind (the entry it held is only
    named in the event's text), are independent; the commutation test above proves them so."""
    sys_ = system("v1.15.4", "two-instances")
    found = 0
    for here in reachable(sys_).values():
        clears = [fp for _, _, fp in here.values() if fp.clears]
        found += len(clears) >= 2 and not clears[0].conflicts(clears[1])
    assert found > 0


def test_the_v2_coordinator_entry_is_apart_from_the_inbox_rows():
    """upstream-1.18.34-queue × idle-window: an admission (session_input's rows and seq) and a step
    that only touches the coordinator's entry are independent, and no dependent pair of steps
    conflicts only through the rows while ending in the same world in either order."""
    sys_ = system("upstream-1.18.34-queue", "idle-window")
    moves = reachable(sys_)
    apart = 0
    for here in moves.values():
        for a, (_, wa, fa) in here.items():
            for b, (_, wb, fb) in here.items():
                if b <= a or sys_.bounded_out(wa) or sys_.bounded_out(wb):
                    continue
                kinds = {loc[0] for loc in fa.writes} | {loc[0] for loc in fb.writes}
                if not fa.conflicts(fb):
                    apart += {"inbox", "entry"} <= kinds
                    continue
                shared = {loc[0] for loc in (fa.writes & (fb.reads | fb.writes)) | (fb.writes & fa.reads)}
                same = b in moves[wa] and a in moves[wb] and moves[wa][b][1] == moves[wb][a][1]
                assert not (same and shared == {"inbox"}), (a, b)
    assert apart > 0
    # reading which engine runs notes nothing; the entry and the rows note their own locations
    w = sys_.initial()
    reads: set = set()
    inbox = Watched(w, reads).inbox
    assert inbox.on and not reads
    assert inbox.entry is None
    assert reads == {("entry",)}
    inbox.pending()
    assert reads == {("entry",), ("inbox",)}
