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

from turnproof.conform import HarnessError, RegistryUnavailable  # noqa: E402
from turnproof.conform.drive import (  # noqa: E402
    check_design,
    check_scenario,
    complete,
    default_schedule,
    diff,
    driveable,
    load_schedule,
    model_tree,
    real_tree,
    violations,
)
from turnproof.conform.fakellm import FakeLLM, analyse, prompt_text  # noqa: E402
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


def test_only_the_faithful_design_and_driveable_scenarios_are_accepted():
    check_design(load_design("v1.15.4"))
    with pytest.raises(HarnessError, match="only the v1.15.4 design"):
        check_design(load_design("bind-turn"))
    check_scenario(load_scenario("tool-race"))
    with pytest.raises(HarnessError, match="route shell"):
        check_scenario(load_scenario("shell-then-prompt"))
    with pytest.raises(HarnessError, match="client-minted"):
        check_scenario(load_scenario("clock-skew"))
    with pytest.raises(HarnessError, match="granularity effect"):
        check_scenario(load_scenario("idle-window"))


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


@conformance
def test_tool_race_counterexample_reproduces_on_the_real_server(opencode_bin):
    from turnproof.conform.drive import conform

    r = conform(load_design("v1.15.4"), load_scenario("tool-race"), runs=2, binary=opencode_bin)
    assert r.schedule == "U1,r1,U2,r1*3" and r.not_driveable is None
    assert any(v.startswith("turn-binding") for v in r.model_violations)
    assert r.conforms, r.text()
    assert r.exit_code == 0 and r.agree == 2
    for run in r.runs:  # U1's continuation, carrying its tool result, written under U2
        assert run.tree["A1"]["parent"] == "U1" and run.tree["A1"]["finish"] == "tool-calls"
        assert run.tree["A2"]["parent"] == "U2" and run.tree["A2"]["finish"] == "stop"
        assert any("reminder:U2" in c["users"] for c in run.calls)
    doc = r.to_json()
    assert doc["verdict"] == "conforms" and doc["agreement"] == {"runs": 2, "conform": 2}
    assert "agreement: 2/2 runs conform" in r.text()
    assert not _my_servers(), "an opencode server outlived the run"


@conformance
def test_a_schedule_the_model_calls_clean_is_clean_on_the_real_server(opencode_bin):
    from turnproof.conform.drive import conform

    r = conform(load_design("v1.15.4"), load_scenario("tool-race"), "U1,r1*6,U1,U2", runs=2, binary=opencode_bin)
    assert r.model_violations == []
    assert r.conforms, r.text()
    assert [lab for lab in r.runs[0].order] == ["U1", "A1", "A2", "U2", "A3"]
    assert r.runs[0].tree["A2"]["parent"] == "U1" and r.runs[0].tree["A3"]["parent"] == "U2"


from turnproof.conform.suite import CASES  # noqa: E402


@conformance
@pytest.mark.parametrize("scenario,schedule,what", CASES, ids=[f"{c[0]}:{c[1] or 'default'}" for c in CASES])
def test_every_suite_case_agrees_on_the_real_server(opencode_bin, scenario, schedule, what):
    """The conformance suite of docs/conformance.md, one run per case: model and real tree agree."""
    from turnproof.conform.suite import run_case

    r = run_case(scenario, schedule, "1.15.4", runs=1, binary=opencode_bin)
    assert not isinstance(r, HarnessError), f"{scenario}: harness error: {r}"
    assert r.not_driveable is None and r.conforms, r.text()


@conformance
def test_ctrl_c_stops_the_server_and_its_tools(opencode_bin, tmp_path):
    """SIGINT while a tool is held: the harness exits and leaves no process behind."""
    script = (
        "import sys; from pathlib import Path; from turnproof.specs.loader import load_design, load_scenario\n"
        "from turnproof.conform.drive import conform\n"
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


def test_cli_refuses_a_design_the_real_server_is_not(tmp_path):
    from click.testing import CliRunner
    from turnproof.cli.main import main

    r = CliRunner().invoke(main, ["conform", "--design", "bind-turn", "--scenario", "tool-race"])
    assert r.exit_code == 2 and r.output.startswith("turnproof: error:") and r.output.count("\n") == 1
