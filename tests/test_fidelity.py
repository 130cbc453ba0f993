"""The model against what the real opencode 1.15.4 server was measured to do (shared notes).

Each test drives the model into the situation a measurement describes (a schedule prefix),
then explores every way the rest can play out and checks the outcome the server showed.
"""

from __future__ import annotations

from dataclasses import dataclass

from conftest import system
from turnproof.explore.search.naive import naive_dfs
from turnproof.explore.search.trace import replay
from turnproof.model.config import Design, Prompt, Scenario
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.loader import builtin, load_scenario
from turnproof.specs.properties import PROPERTIES, no_terminal_siblings

V1154 = Design("v1.15.4")


@dataclass(frozen=True)
class From:
    """The same system, started from a given world instead of its initial one."""

    sys: System
    start: World

    def initial(self):
        return self.start

    def successors(self, w):
        return self.sys.successors(w)

    def bounded_out(self, w):
        return self.sys.bounded_out(w)


def ends_after(sys_: System, prefix: str) -> set[World]:
    ends = naive_dfs(From(sys_, replay(sys_, prefix).final)).ends
    assert ends
    return ends


def children(w: World, label: str) -> list[tuple[str, str | None]]:
    u = next(m for m in w.store.messages if m.label == label)
    return [(c.label, c.finish) for c in w.store.children(u.id)]


def result(w: World, fiber: str) -> str:
    return w.fiber(fiber).result


TOOL_RACE = system("v1.15.4", "tool-race")


def test_u2_during_the_held_tool_call_rebinds_the_continuation_to_u2():
    # r1 has created A1 and sent the model call; U2 lands before the tool call streams back
    for w in ends_after(TOOL_RACE, "U1,r1,U2"):
        assert children(w, "U1") == [("A1", "tool-calls")]
        assert children(w, "U2") == [("A2", "stop")]
        assert result(w, "U1") == result(w, "U2") == "A2"


def test_u2_while_the_tool_runs_rebinds_the_continuation_to_u2():
    for w in ends_after(TOOL_RACE, "U1,r1*2,U2"):
        assert children(w, "U1") == [("A1", "tool-calls")]
        assert children(w, "U2") == [("A2", "stop")]
        assert result(w, "U1") == result(w, "U2") == "A2"


def test_the_continuation_saw_u1_its_tool_result_and_u2():
    trace = replay(TOOL_RACE, "U1,r1*2,U2,r1*2")
    run = trace.final.fiber("r1")
    seen = [trace.final.store.get(i).label for i in run.seen]
    assert seen == ["U1", "A1", "U2"]
    assert trace.final.store.get(run.seen[1]).tools[0].status == "completed"


def test_u2_and_u3_during_the_hold_leave_the_lower_id_one_unanswered():
    sc = Scenario("hold-two", (Prompt("U1", tools=1), Prompt("U2", after=("U1",)), Prompt("U3", after=("U1",))))
    sys_ = System(V1154, sc)
    for first, second in (("U2", "U3"), ("U3", "U2")):
        for w in ends_after(sys_, f"U1,r1*2,{first},{second}"):
            assert children(w, "U1") == [("A1", "tool-calls")]
            assert children(w, first) == []  # the lower id of the two queued users
            assert children(w, second) == [("A2", "stop")]


def test_u2_during_the_after_tool_reply_is_clean_to_the_user():
    # A2 (U1's continuation) is in flight when U2 arrives
    ends = ends_after(TOOL_RACE, "U1,r1*4,U2")
    for w in ends:
        assert children(w, "U1") == [("A1", "tool-calls"), ("A2", "stop")]
        assert children(w, "U2") == [("A3", "stop")]
        observable = [p for p in PROPERTIES if p.check and p.name != "turn-serialization"]
        assert all(p.check(w) is None for p in observable)


def test_prompts_sent_together_merge_into_one_model_call():
    sc = Scenario("together", tuple(Prompt(f"U{i}") for i in range(1, 5)), max_messages=12)
    sys_ = System(V1154, sc)
    trace = replay(sys_, "U1,U2,U3,U4,r1")
    run = trace.final.fiber("r1")
    assert [trace.final.store.get(i).label for i in run.seen] == ["U1", "U2", "U3", "U4"]
    for w in ends_after(sys_, "U1,U2,U3,U4,r1"):
        answered = [u for u in ("U1", "U2", "U3", "U4") if children(w, u)]
        assert answered == ["U4"]


def test_no_terminal_siblings_from_timing_alone():
    # measured: 0 of 31 runs on the real server; the faithful model must agree on every
    # built-in scenario that runs one server instance at await granularity
    for name in builtin("scenario"):
        sc = load_scenario(name)
        if sc.instances == 1 and sc.granularity == "await":
            walk = naive_dfs(System(V1154, sc))
            assert all(no_terminal_siblings(w) is None for w in walk.ends), name


def test_on_idle_deletes_the_map_entry_so_the_next_prompt_makes_a_new_runner():
    trace = replay(TOOL_RACE, "U1,r1*6,U2")
    last = trace.steps[-1][0]
    assert any("makes runner #1" in e.says for e in last.events)
    assert trace.final.maps == (1,)


def test_abort_during_a_shell_stops_the_shell_first_then_fails_the_queued_run():
    # notes §4-§5: Runner.cancel sets Idle at once; stop-shell awaits the shell's `ready` latch
    # (open once its messages are written), interrupts it, and only then fails the queued `done`
    sc = Scenario(
        "shell-abort",
        (Prompt("S1", client="tui", route="shell"), Prompt("U1"), Prompt("X1", route="abort", after=("S1",))),
    )
    sys_ = System(V1154, sc)
    w = replay(sys_, "S1,U1,X1").final
    assert w.runners[0].tag == "Idle"  # cancel sets Idle at once (effect/runner.ts:171)
    assert w.run(1).done is None  # the queued run is not failed yet
    assert not w.fiber("S1").interrupt and w.fiber("X1").pc == "await_ready"
    assert "X1" not in [f.name for f in sys_.enabled(w)]  # ready is closed until the shell wrote
    w = replay(sys_, "S1,U1,X1,S1,X1").final
    assert w.fiber("S1").interrupt and w.store.count("user") == 2  # U1 and the shell's message
    assert w.run(1).done is None  # still not failed: the shell has not stopped
    for end in ends_after(sys_, "S1,U1,X1"):
        shell_reply = next(m.label for m in end.store.messages if m.source == "S1")
        assert end.run(1).done == "cancelled"
        # the queued prompt's request and the interrupted shell get the newest non-user message
        assert result(end, "U1") == result(end, "S1") == shell_reply
        assert all(p.check(end) is None for p in PROPERTIES if p.check)


def test_a_shell_refuses_to_start_while_a_loop_runs():
    sc = Scenario("busy", (Prompt("U1"), Prompt("S1", client="tui", route="shell", after=("U1",))))
    w = replay(System(V1154, sc), "U1,S1").final
    assert result(w, "S1") == "busy" and w.runners[0].tag == "Running"
