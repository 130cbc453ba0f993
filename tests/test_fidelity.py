"""The model against what the real opencode 1.15.4 server was measured to do (shared notes).

Each test drives the model into the situation a measurement describes (a schedule prefix),
then explores every way the rest can play out and checks the outcome the server showed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from conftest import system
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.naive import naive_dfs
from turnproof.explore.search.trace import decode, replay
from turnproof.model.config import Design, Prompt, Scenario
from turnproof.model.ids import ServerClock
from turnproof.model.store import Message
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.loader import builtin, load_scenario
from turnproof.specs.properties import PROPERTIES, no_terminal_siblings, own_reply

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
    # built-in scenario that runs one server instance at await granularity on server ids alone
    for name in builtin("scenario"):
        sc = load_scenario(name)
        server_ids = all(p.id == "server" for p in sc.prompts) and sc.server == ServerClock()
        if sc.instances == 1 and sc.granularity == "await" and server_ids:
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


# --- Fidelity II: request order, the mint/write gap, abort, and what requests return -----------


CLOCK_AHEAD = system("v1.15.4", "client-clock-ahead")


def test_a_client_clock_ahead_gives_four_siblings_from_one_loop(cli, tmp_path):
    """The issue's first bullet: U1 by prompt_async with a client id 1 s ahead (6 server ids),
    U2 and U3 sent while U1's tool runs. The request ends with U3 (newest by creation), so the
    model stops; the exit test still compares ids, so the loop goes on until a reply's id passes U1's."""
    r = cli("check", "--design", "v1.15.4", "--scenario", "client-clock-ahead", "--shape", "four-siblings",
            "--json", "--out", str(tmp_path))  # fmt: skip
    doc = json.loads(r.output)
    shape = next(p for p in doc["properties"] if p["name"] == "shape:four-siblings")
    assert r.exit_code == 1 and not shape["holds"]
    fibers = set(decode(shape["schedule"]))
    assert {f for f in fibers if f.startswith("r")} == {"r1"}  # a single loop
    # the schedule of the real run: the tool is released right after U2 and U3 were sent
    w = replay(CLOCK_AHEAD, "U1,r1*2,U2,U3,r1").final
    while "r1" in [f.name for f in CLOCK_AHEAD.enabled(w)]:
        w = CLOCK_AHEAD.apply(w, "r1")[1]
    assert len(w.runs) == 1 and w.run(1).done == "ok"
    u1 = next(m for m in w.store.messages if m.label == "U1")
    stops = [c for c in w.store.children(u1.id) if c.terminal]
    assert [c.finish for c in w.store.children(u1.id)] == ["tool-calls"] + ["stop"] * 4
    assert [c.id < u1.id for c in sorted(stops, key=lambda m: m.seq)] == [True, True, True, False]
    assert children(w, "U2") == children(w, "U3") == []  # never answered


def test_the_request_is_in_creation_order_and_the_model_answers_its_newest_prompt():
    w = replay(CLOCK_AHEAD, "U1,r1*2,U2,U3,r1*2").final  # the read after the tool result
    run = w.fiber("r1")
    assert [w.store.get(i).label for i in run.seen] == ["U1", "A1", "U2", "U3"]
    assert run.answer == "stop"  # U3 asks for no tool; by id the newest user is U1 (asks one)
    assert w.store.latest().user.label == "U1"  # lastUser stays by id: A2's parent is U1
    assert w.store.get(run.msg).parent == next(m.id for m in w.store.messages if m.label == "U1")


def test_the_loop_returns_the_newest_non_user_message_by_creation():
    # Session.findMessage: (time_created, id) newest first; across the 48-bit wrap the newest
    # reply has the lowest id
    sc = ServerClock(wrap_after=2)
    w = World()
    for n, role in ((1, "user"), (2, "assistant"), (3, "assistant")):
        w, mid, created = w.mint(sc)
        w = w.write(Message(mid, w.store.writes, role, f"M{n}", created=created))
    assert w.store.latest().assistant.label == "M2" and w.store.newest_reply().label == "M3"


def test_an_assistant_written_in_the_mint_write_gap_ends_the_turn_with_the_prompt_unanswered():
    # createUserMessage awaits the chat.message hook after fixing U2's id: A2, written meanwhile,
    # gets a newer id, so the exit test reads U2 < A2 and the loop ends; U2's request returns A2
    sys_ = system("v1.15.4", "mint-gap")
    w = replay(sys_, "U1,r1*2,U2,r1*2").final  # U2 minted; U1's continuation A2 written after
    assert w.fiber("U2").pc == "write" and w.fiber("U2").msg < w.store.latest().assistant.id
    unanswered = [e for e in ends_after(sys_, "U1,r1*2,U2,r1*2") if not children(e, "U2")]
    # U2 joins r1 before it exits, or starts r2 after, which exits at once: U2 < A2 by id
    assert {len(e.runs) for e in unanswered} == {1, 2}
    assert all(result(e, "U2") == "A2" and own_reply(e) is not None for e in unanswered)
    # without the await, U2 is written with the mint and always answered
    assert all(children(e, "U2") for e in naive_dfs(TOOL_RACE).ends)


def test_own_reply_flags_the_two_request_tool_race():
    # measured: two blocking /message requests, U2 sent during U1's tool, both returned U2's reply
    sys_ = system("v1.15.4", "blocking-tool-race")
    for w in ends_after(sys_, "U1,r1*2,U2"):
        assert result(w, "U1") == result(w, "U2") == "A2" and children(w, "U2") == [("A2", "stop")]
        assert "U1's /message request returned A2 (a reply to U2)" in own_reply(w).says
    assert own_reply_holds_on("tool-race")  # U1 by prompt_async: its 204 returned nothing


def own_reply_holds_on(scenario: str) -> bool:
    return "own-reply" not in bfs(system("v1.15.4", scenario), PROPERTIES).findings


def test_no_silent_drop_refutes_a_busy_runner_that_rejects_prompt_async():
    # guard the whole turn and reject overlapping prompts: prompt_async already answered 204,
    # then its prompt is dropped without a trace in the store; only no-silent-drop sees it
    quiet = Design("reject-after-204", guard="turn", overlap="reject")
    res = bfs(System(quiet, load_scenario("double-async")), PROPERTIES)
    assert set(res.findings) == {"no-silent-drop"}
    assert "U2 was accepted, but its user message was never written" in res.findings["no-silent-drop"].violation.says
    # a blocking /message refused as busy is a failure its client sees
    blocking = Scenario("two-blocking", (Prompt("U1", route="prompt"), Prompt("U2", route="prompt")))
    assert "no-silent-drop" not in bfs(System(quiet, blocking), PROPERTIES).findings


def test_an_aborted_tool_ends_completed_or_error_by_a_race_with_cleanup():
    # SessionProcessor.cleanup waits up to 250 ms for the aborted tool: whichever moves first wins
    sys_ = system("v1.15.4", "abort-race")
    w = replay(sys_, "U1,r1*2,X1,r1").final
    assert w.fiber("r1").pc == "cleanup" and w.fiber("t1").pc == "settle"
    a1 = w.store.messages[1].id
    settled = replay(sys_, "U1,r1*2,X1,r1,t1,r1").final.store.get(a1)
    late = replay(sys_, "U1,r1*2,X1,r1,r1,t1").final.store.get(a1)
    assert [p.status for p in settled.tools] == ["completed"] and [p.status for p in late.tools] == ["error"]
    for m in (settled, late):
        assert m.error == "aborted" and m.completed and m.finish is None


def test_a_cancelled_run_s_waiters_get_the_newest_non_user_message():
    sys_ = system("v1.15.4", "abort-race")
    for w in ends_after(sys_, "U1,r1*2,U2,X1"):
        assert w.run(1).done == "cancelled"
        assert result(w, "U1") == result(w, "U2") == w.store.newest_reply().label == "A1"


def test_with_the_whole_turn_guarded_a_client_id_is_still_the_one_sent():
    # guard = turn moves the write into the run, but the request carries its messageID: the id is
    # the client's clock when U2 was sent, while U1's server id is minted when its run writes it
    sys_ = system("serialize-turn", "clock-skew-zero")
    sent = replay(sys_, "U1,U2").final
    assert [m.label for m in sent.store.messages] == [] and sent.fiber("U2").msg is not None
    w = replay(sys_, "U1,U2,r1*6,r2").final
    u1, u2 = (next(m for m in w.store.messages if m.label == n) for n in ("U1", "U2"))
    assert u2.id == sent.fiber("U2").msg and u2.id < u1.id and w.fiber("U2").msg is None
    # so U1 is still lastUser by id once U2 is written: the id-order exit test leaves U2 unanswered
    assert children(w, "U2") == [] and w.fiber("r2").pc == "end"
