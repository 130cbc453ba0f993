"""Message ids and clocks, and the loop-terminates property (lassos), against the measurements."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import replace

import pytest
from conftest import pairs, system
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.liveness import Lassos, abstract
from turnproof.explore.search.naive import naive_dfs
from turnproof.explore.search.trace import decode, replay
from turnproof.model import ids
from turnproof.specs.properties import PROPERTIES

ID_SCENARIOS = ["clock-skew", "clock-skew-zero", "client-messageid"]


def test_ids_sort_as_opencode_compares_them():
    # same tick: the server's id sorts first, a client id minted "a moment later" after it
    assert ids.server(3) < ids.client(3) < ids.server(4)
    assert ids.client(2) < ids.server(3)  # a client clock one tick behind
    assert all(ids.server(t) < ids.client(ids.AFTER_ALL) for t in range(1000))
    assert [ids.show(i) for i in (ids.server(3), ids.client(3), ids.client(math.inf), None)] == ["3", "3c", "max", "-"]


def test_client_ids_are_distinct_and_sort_by_their_mint():
    # the k-th client id minted in a run carries counter CLIENT + k - 1: in one tick a later mint
    # sorts after an earlier one, and every client id after the server's id of that tick
    first, second = ids.client(3), ids.client(3, ids.CLIENT + 1)
    assert ids.server(3) < first < second < ids.server(4)
    assert ids.client(2, ids.CLIENT + 5) < ids.server(3) < first  # the tick decides first
    assert ids.client(ids.AFTER_ALL) < ids.client(ids.AFTER_ALL, ids.CLIENT + 1)
    assert [ids.show(i) for i in (first, second, ids.client(math.inf, 4))] == ["3c", "3c2", "maxc3"]
    assert ids.is_client(first) and not ids.is_client(ids.server(3))


def reachable(sys_):
    seen, todo = {sys_.initial()}, [sys_.initial()]
    while todo:
        w = todo.pop()
        for _, nxt in sys_.successors(w):
            if nxt not in seen and not sys_.bounded_out(nxt):
                seen.add(nxt)
                todo.append(nxt)
    return seen


def same_tick_orders(scenario: str) -> set[tuple[str, ...]]:
    """The orders U1 and U2 take in the store, over every reachable world where both ids were
    read in one tick (their clocks' readings fell between the same two server ids)."""
    out = set()
    for w in reachable(system("v1.15.4", scenario)):
        users = [m for m in w.store.messages if m.label in ("U1", "U2")]
        if len(users) == 2 and users[0].id[0] == users[1].id[0]:
            assert users[0].id != users[1].id  # distinct, as the real ids are
            out.add(tuple(m.label for m in users))
    return out


def test_one_client_clock_mints_in_order_two_clocks_in_either():
    # one web client (one process, one counter): U2, minted after U1, sorts after it even in one tick
    assert same_tick_orders("client-ids-gap") == {("U1", "U2")}
    # the web client and a script on the same machine: either reading may come first in a tick
    assert same_tick_orders("client-ids-two-clocks") == {("U1", "U2"), ("U2", "U1")}


def test_two_client_ids_in_one_gap_bind_the_tool_continuation_to_the_later_one():
    """The real 1.15.4 and 1.18.34 servers (4 of 4 runs): U1 and U2 minted on one clock 2 s ahead,
    U2 during U1's tool: the tool's continuation under U2, U1 unanswered."""
    sys_ = system("v1.15.4", "client-ids-gap")
    res = bfs(sys_, PROPERTIES)
    assert res.findings["turn-binding"].trace.schedule == "U1,r1,U2,r1*3"
    assert res.findings["tool-followup"].trace.schedule == "U1,r1,U2,r1*11,U1,U2"
    sent = replay(sys_, "U1,r1*2,U2").final  # U2 sent while U1's tool runs
    w = replay(sys_, "U1,r1*2,U2,r1*10,U1,U2").final
    u1, u2 = (next(m for m in w.store.messages if m.label == n) for n in ("U1", "U2"))
    assert ids.server(sent.clock) < u1.id < u2.id  # both ahead of every server id then, U2 after U1
    a1, a2 = (next(m for m in w.store.messages if m.label == n) for n in ("A1", "A2"))
    assert a1.parent == u1.id and a1.finish == "tool-calls" and a2.parent == u2.id
    assert not [m for m in w.store.children(u1.id) if m.answers]  # U1 unanswered
    assert not sys_.successors(w)


def finding(design, scenario, prop):
    return bfs(system(design, scenario), PROPERTIES).findings.get(prop)


@pytest.mark.parametrize("scenario", ["clock-skew", "client-messageid"])
def test_an_id_ahead_of_the_server_makes_the_loop_run_away(scenario):
    sys_ = system("v1.15.4", scenario)
    res = bfs(sys_, PROPERTIES)
    assert "no-terminal-siblings" in res.findings
    f = res.findings["loop-terminates"]
    prefix, cycle = f.trace.lasso
    assert prefix and cycle and set(decode(cycle)) == {"r1"}
    # pumping the cycle comes back to the same abstract state every time, writing assistants
    w = replay(sys_, f"{prefix},{cycle}").final
    start = replay(sys_, prefix).final
    again = replay(sys_, f"{prefix},{cycle},{cycle}").final
    assert abstract(start, sys_) == abstract(w, sys_) == abstract(again, sys_)
    assert len(again.store.messages) > len(w.store.messages) > len(start.store.messages)
    assert res.stats.quiescent == 0  # every schedule runs into the bound: no way out


def test_zero_skew_is_clean():
    res = bfs(system("v1.15.4", "clock-skew-zero"), PROPERTIES)
    assert "loop-terminates" not in res.findings and "no-terminal-siblings" not in res.findings
    assert res.complete


@pytest.mark.parametrize("scenario", ID_SCENARIOS)
def test_ending_on_parentid_stops_the_runaway(scenario):
    res = bfs(system("parent-exit", scenario), PROPERTIES)
    assert "loop-terminates" not in res.findings and "no-terminal-siblings" not in res.findings
    assert res.complete
    found = bfs(system("bind-and-serialize", scenario), PROPERTIES).findings
    # clock-skew-zero: U2's client id, minted when U2 is sent, can sort before U1's, which the
    # server mints only when U1's run writes it (guard = turn): U1 is lastUser again after U2's turn
    assert set(found) == ({"no-terminal-siblings"} if scenario == "clock-skew-zero" else set())


@pytest.mark.parametrize("ahead", [0, 1, 2, 3])
def test_the_runaway_lasts_as_long_as_the_skew(ahead):
    # measured: 3 s ahead wrote 21-29 replies; here N server ids ahead writes N extra replies
    sc = system("v1.15.4", "clock-skew").scenario
    u2 = replace(sc.prompts[1], clock=ahead)
    sys_ = system("v1.15.4", "clock-skew", prompts=(sc.prompts[0], u2), max_messages=20)
    res = bfs(sys_, PROPERTIES)
    assert "loop-terminates" not in res.findings and res.complete
    for w in naive_dfs(sys_).ends:
        u = next(m for m in w.store.messages if m.label == "U2")
        assert sum(1 for c in w.store.children(u.id) if c.terminal) == ahead + 1


@pytest.mark.parametrize("ahead", [0.3, 0.5, 0.99])
def test_a_skew_shorter_than_one_server_id_is_the_same_as_none(ahead):
    # measured: 0.3 s ahead was clean on the real server; a client id that sorts before the next
    # server id leaves the exit test as it is with equal clocks
    sc = system("v1.15.4", "clock-skew").scenario
    u2 = replace(sc.prompts[1], clock=ahead)
    res = bfs(system("v1.15.4", "clock-skew", prompts=(sc.prompts[0], u2)), PROPERTIES)
    equal = bfs(system("v1.15.4", "clock-skew-zero"), PROPERTIES)
    assert res.complete and "loop-terminates" not in res.findings and "no-terminal-siblings" not in res.findings
    assert set(res.findings) == set(equal.findings)


@pytest.mark.parametrize(
    "design,scenario",
    [("v1.15.4", s) for s in ["clock-skew", "two-instances", "abort-race", "shell-then-prompt", "plugin-inject"]]
    + [("bind-and-serialize", "abort-race"), *pairs(["v1.15.4"], ["idle-window"])]
    + [("v1.15.4", s) for s in ["id-wrap", "clock-step-back", "mint-gap", "client-clock-ahead", "shell-abort"]]
    + [("v1.15.4", s) for s in ["client-ids-gap", "client-ids-two-clocks"]],
)
def test_the_abstraction_is_a_simulation(design, scenario):
    """Worlds with one abstraction take the same fiber steps into worlds with one abstraction."""
    sys_ = system(design, scenario)
    seen, todo = {sys_.initial()}, [sys_.initial()]
    groups = defaultdict(set)
    while todo:
        w = todo.pop()
        moves = []
        for step, nxt in sys_.successors(w):
            moves.append((step.fiber, abstract(nxt, sys_)))
            if nxt not in seen and not sys_.bounded_out(nxt):
                seen.add(nxt)
                todo.append(nxt)
        groups[abstract(w, sys_)].add(tuple(moves))
    assert all(len(v) == 1 for v in groups.values())
    assert len(groups) < len(seen) or scenario != "clock-skew"  # it does merge growing worlds


def test_ids_as_1_15_4_mints_them_wrap_and_step_back():
    # Identifier.create: the low 48 bits of ms*4096+counter; ids past the wrap sort below earlier
    # ones while time.created keeps growing; a clock step back takes both back together
    wrap = ids.ServerClock(wrap_after=2)
    assert ids.server(wrap.id_tick(3)) < ids.server(wrap.id_tick(1)) and wrap.reading(3) > wrap.reading(2)
    assert ids.show(ids.server(wrap.id_tick(3))) == "3w"
    back = ids.ServerClock(back_after=2, back_by=2)
    assert [back.reading(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 0.5, 1.5, 2.5]
    assert back.id_tick(3) == back.reading(3) and ids.show(ids.server(back.id_tick(3))) == "0.5"
    assert (wrap.jump_ahead(1), wrap.jump_ahead(3), ids.ServerClock().jump_ahead(0)) == (1, None, None)


def test_after_the_id_wrap_the_loop_runs_away():
    # the reply's id sorts below U1's for ~795 days: every stop reply fails the exit test
    res = bfs(system("v1.15.4", "id-wrap"), PROPERTIES)
    prefix, cycle = res.findings["loop-terminates"].trace.lasso
    assert set(decode(cycle)) == {"r1"} and res.stats.quiescent == 0
    assert bfs(system("parent-exit", "id-wrap"), PROPERTIES).holds


@pytest.mark.parametrize("back", [1, 2, 3])
def test_a_clock_stepping_back_writes_one_extra_reply_per_id_it_lost(back):
    # the ids (and time.created) minted after the step sort below U1's until the clock catches up
    sys_ = system("v1.15.4", "clock-step-back", max_messages=12, server=ids.ServerClock(back_after=1, back_by=back))
    res = bfs(sys_, PROPERTIES)
    assert res.complete and "loop-terminates" not in res.findings
    for w in naive_dfs(sys_).ends:
        u = next(m for m in w.store.messages if m.label == "U1")
        assert sum(1 for c in w.store.children(u.id) if c.terminal) == back + 1


def test_two_loops_ping_pong_for_ever_on_two_instances():
    f = finding("v1.15.4", "two-instances", "loop-terminates")
    assert set(decode(f.trace.lasso[1])) == {"r1", "r2"}


def test_json_reports_the_lasso(cli, tmp_path):
    r = cli("check", "--design", "v1.15.4", "--scenario", "clock-skew", "--json", "--out", str(tmp_path))
    doc = json.loads(r.output)
    prop = next(p for p in doc["properties"] if p["name"] == "loop-terminates")
    lasso = prop["trace"]["lasso"]
    assert not prop["holds"] and lasso["prefix"] and lasso["cycle"]
    assert decode(prop["schedule"]) == decode(lasso["prefix"]) + decode(lasso["cycle"])
    assert lasso["cycle_from"] == len(decode(lasso["prefix"])) + 1
    assert "repeat" in (tmp_path / "loop-terminates" / "sequence.dot").read_text()


@pytest.mark.parametrize("scenario", ["two-instances", "clock-skew", "id-wrap"])
def test_bfs_abstracts_only_what_reaches_a_cut_and_finds_the_lasso_a_full_graph_does(scenario):
    """bfs abstracts only the worlds from which a cut step can be reached; a `Lassos` observer
    shown every world and step must find the same start world and the same cycle."""

    class Every(Lassos):
        def done(self, result, parents, depth):
            self.found = self.find(depth)

    s = system("v1.15.4", scenario)
    every = Every(s)
    res = bfs(s, PROPERTIES, observers=(every,))
    trace = res.findings["loop-terminates"].trace
    start = trace.steps[trace.cycle_from - 1][1] if trace.cycle_from else trace.initial
    assert res.stats.cut and every.found is not None
    assert every.found == (start, [st.fiber for st, _ in trace.steps[trace.cycle_from :]])
