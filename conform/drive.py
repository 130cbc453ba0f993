"""The legacy route's driver: one session of the real server held to a completed model trace.

The model's schedule (completed to a state at rest) is a list of fiber steps. Each step kind has
a real counterpart the harness either controls or only waits for:

- client send, `route.prompt_async` -> `POST /session/{id}/prompt_async`; the harness sends it
  and waits until the user message is stored.
- client send, `route.prompt` -> `POST /session/{id}/message`, blocking, in a thread; likewise.
- client await (`runner.await`) -> prompt route: the blocking request returns (awaited);
  prompt_async route: no counterpart (the route answered 204 at once).
- loop start / next that reads, writes an assistant and calls the model (`llm.call`) -> the
  loop's own read and write, then a request to the fake LLM. NOT controllable: the real loop
  does it at once; the harness waits until the call is held at the fake LLM's gate.
- loop start / next that exits (`loop.exit`) -> the loop leaves, `finishRun`. NOT controllable:
  the harness waits until the session is idle.
- `llm.tool_call` -> the held call is answered with a gated `bash` tool call; the harness
  releases it and waits until the tool runs.
- `llm.finish` -> the held call is answered with a stop reply; waits for the assistant's finish.
- `llm.tool_result` -> the harness creates the tool's gate file; waits for finish `tool-calls`.

So a schedule that puts another fiber's step between a loop's previous step and its read
(`U1,U2,r1`: U2 before the loop's first read) cannot be held that way: the real loop reads at
once. The harness sends at the scheduled point and reports, per model call, which prompts the
model read and which the real request carried, so such a deviation shows.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse

from turnproof.conform import HarnessError
from turnproof.conform.clock import AHEAD, ClientClock, Pacer, after_all
from turnproof.conform.fakellm import MARKER, Call, FakeLLM, prompt_text
from turnproof.conform.http import Http, Request, poll
from turnproof.conform.report import Run
from turnproof.conform.schedule import autonomous, cut
from turnproof.conform.tree import diff, model_order, model_tree, real_tree
from turnproof.model import ids, steps
from turnproof.model.system import System
from turnproof.model.world import World

STEP_TIMEOUT = 30.0  # seconds the real server gets to reach the next gate


class Driver:
    """Drives one session of a running server through a completed model trace."""

    def __init__(
        self,
        http: Http,
        llm: FakeLLM,
        system: System,
        trace,
        n: int,
        timeout: float = STEP_TIMEOUT,
        directories: tuple[str, ...] = (),
    ):
        self.http, self.llm, self.system, self.trace = http, llm, system, trace
        self.scenario = system.scenario
        self.timeout = timeout
        self.directories = directories  # per instance > 0: the project directory its requests select
        self.run = Run(n)
        self.sid = ""
        self.calls: dict[str, Call] = {}  # loop fiber -> its held call
        self.assistant: dict[str, str] = {}  # loop fiber -> the real id of the assistant it streams into
        self.tool_of: dict[str, tuple[int, str]] = {}  # loop fiber -> (tool gate, assistant id)
        self.shell_gate: dict[str, int] = {}  # shell prompt -> the gate its command waits on
        self.gates_checked: set[int] = set()  # shell gates checked as held before their release
        self.last_call = self.first_call = max((c.n for c in llm.calls), default=0)
        self.requests: dict[str, Request] = {}  # prompt name -> its blocking request
        self.off = False  # the real server left the schedule: stop driving, drain
        self.returns: list[tuple[str, str, str]] = []  # blocking request: (prompt, model's label, real label)
        self.pacer: Pacer | None = None
        self.ahead = ClientClock()  # clock = ahead: one client's ids an hour ahead, in mint order
        if any(p.id == "client" and not math.isinf(p.clock) for p in self.scenario.prompts):
            self.pacer = Pacer()

    # helpers

    def query(self, instance: int) -> str:
        """`?directory=` for a request of `instance` (the query wins over header and cwd)."""
        if instance == 0:
            return ""
        return "?directory=" + urllib.parse.quote(self.directories[instance - 1], safe="")

    def messages(self) -> list[dict]:
        return self.http.call("GET", f"/session/{self.sid}/message")[1] or []

    def busy(self, instance: int | None = None) -> bool:
        """Is the session busy in directory context `instance` (None: in any)?"""
        for k in range(self.scenario.instances) if instance is None else (instance,):
            st = self.http.call("GET", "/session/status" + self.query(k))[1] or {}
            s = st.get(self.sid)
            if s and s.get("type") != "idle":
                return True
        return False

    def wait(self, pred) -> bool:
        return poll(pred, self.timeout)

    def deviate(self, i: int, says: str) -> None:
        self.run.deviations.append(f"step {i}: {says}")
        self.off = True

    def note(self, i: int, fiber: str, model: str, real: str) -> None:
        self.run.steps.append({"step": i, "fiber": fiber, "model": model, "real": real})

    def background(self, name: str, method: str, path: str, body) -> None:
        """Send a request that blocks (prompt, shell, abort) from a thread, kept by `name`."""
        self.requests[name] = Request(self.http, name, method, path, body, timeout=self.timeout * 6)

    def returned(self, i: int, name: str) -> Request | None:
        """Wait for `name`'s blocking request to return; it, or None (a deviation) if it did not."""
        req = self.requests.get(name)
        if req is None:
            return None
        if not req.join(self.timeout):
            self.deviate(i, f"{name}'s request did not return within {self.timeout:.0f}s")
            return None
        return req

    # the drive

    def drive(self) -> Run:
        t0 = time.monotonic()
        self.sid = self.http.call("POST", "/session", {})[1]["id"]
        if self.pacer:
            self.pacer = Pacer(self.pacer.tick)  # the model's clock starts now
        before = self.trace.initial
        try:
            for i, (step, after) in enumerate(self.trace.steps, 1):
                if self.off:
                    self.note(i, step.fiber, step.events[0].says, "not driven: the real server left the schedule")
                    continue
                self.pace(i - 1, before)
                self.step(i, step, before, after)
                before = after
            msgs = None
            if cut(self.system, self.trace) and not self.off:
                # the model's run is cut at its bound: compare the real tree there, then stop the loop
                msgs = self.messages()
                self.http.call("POST", f"/session/{self.sid}/abort", None)
                self.run.deviations.append("the run reached the model's bound: compared there, then aborted")
            for name in self.shell_gate.keys() - self.aborted():
                self.gate_held(name)  # a shell the schedule left to the drain
            self.drain()
            msgs = msgs if msgs is not None else self.messages()
            tree, order, labels = real_tree(msgs)
        finally:
            self.release_all()
        self.run.tree, self.run.order = tree, order
        m = model_tree(self.trace.final)
        self.run.diff = diff(m, tree, model_order(self.trace.final), order)
        self.run.diff += [
            f"{name}'s blocking request returned {got}; the model's returns {want}"
            for name, want, got in self.returns
            if want != got
        ]
        self.run.conforms = not self.run.diff
        self.run.calls = [c.summary() for c in self.llm.calls if c.n > self.first_call and c.tooled]
        self.run.seconds = time.monotonic() - t0
        if self.pacer:
            self.run.late = self.pacer.late(self.server_ticks(labels))
            self.run.deviations += [f"clock: {x}; the pacing did not hold" for x in self.run.late]
            self.run.unheld += [f"the paced clock did not hold: {x}" for x in self.run.late]
        return self.run

    def aborted(self) -> set[str]:
        """The fibers the model interrupts somewhere in the trace (an aborted shell ends unreleased)."""
        return {f.name for _, w in self.trace.steps for f in w.fibers if f.interrupt}

    def pace(self, k: int, before: World) -> None:
        """Client-minted ids: before a step the harness controls, wait for the window of the first
        tick the server mints from it until the next controlled step (conform/clock.py)."""
        path = self.trace.steps
        if self.pacer is None or autonomous(self.scenario, before.fiber(path[k][0].fiber)):
            return
        w = before
        for j in range(k, len(path)):
            step, after = path[j]
            if j > k and not autonomous(self.scenario, w.fiber(step.fiber)):
                return
            if after.clock > w.clock:
                self.pacer.hold(w.clock + 1)
                return
            w = after

    def server_ticks(self, labels: dict[str, str]) -> dict[int, str]:
        """Model tick -> the real id of the same message, for every server-minted message id."""
        real = {lab: mid for mid, lab in labels.items()}
        out = {}
        for m in self.trace.final.store.messages:
            tick, origin = m.id
            if origin == ids.SERVER and m.label in real:
                out[int(tick)] = real[m.label]
        return out

    def step(self, i: int, step, before: World, after: World) -> None:
        """One model step on the real server, chosen by what the fiber was about to do."""
        refs = [e.ref for e in step.events]
        f = step.fiber
        said = "; ".join(e.says for e in step.events)
        was = before.fiber(f)
        if was.kind == "tool":  # an aborted tool call settling
            self.note(i, f, said, "uncontrolled: the aborted gated command died at SIGTERM and returned")
        elif was.kind == "run":
            if was.interrupt or was.pc == "cleanup":
                self.interrupted(i, f, said, was)
            elif steps.LLM_CALL in refs:
                self.model_call(i, f, after, said)
            elif steps.LOOP_EXIT in refs:
                self.exit(i, f, said, after)
            elif refs[0] in (steps.LLM_TOOL_CALL, steps.LLM_FINISH):
                self.release_call(i, f, refs[0], said)
            elif refs[0] == steps.LLM_TOOL_RESULT:
                self.release_tool(i, f, said)
            else:
                raise HarnessError(f"step {i}: {f} does {refs[0]}, which the harness cannot drive")
        else:
            route = self.scenario.prompt(was.prompt).route
            if route == "abort":
                self.abort_step(i, f, said, was, refs, after)
            elif route == "shell":
                self.shell_step(i, f, said, was, before, after)
            elif was.pc == "send" and refs[0] == steps.route(route) and steps.PROMPT_MINT not in refs:
                self.send(i, f, route, said, before, writes=steps.PROMPT_USER in refs)
            elif was.pc == "await":
                self.await_client(i, f, said, after)
            else:
                raise HarnessError(f"step {i}: {f} does {refs[0]}, which the harness cannot drive")

    def abort_step(self, i: int, f: str, said: str, was, refs: list[str], after: World) -> None:
        if was.pc == "send":
            self.abort(i, f, said, after)
        elif steps.RUNNER_IDLE_IF_CURRENT in refs:
            req = self.returned(i, f)
            got = "" if req is None else (req.error or json.dumps(req.result))
            self.note(i, f, said, f"uncontrolled: the abort request returned {got}" if req else "abort still open")
        else:  # stop-shell: the shell's ready latch is open; the interrupt follows inside the abort
            self.note(i, f, said, "uncontrolled: inside the abort request")

    def shell_step(self, i: int, f: str, said: str, was, before: World, after: World) -> None:
        if was.pc == "send":
            self.shell(i, f, said, before, after)
        elif was.pc == "shell.start":
            ok = self.wait(lambda: self.llm.tool_started(self.shell_gate[f]))
            self.note(i, f, said, "uncontrolled: shell messages written, command running" if ok else "not running")
            if not ok:
                self.deviate(i, f"{f}'s command did not start within {self.timeout:.0f}s")
        else:
            if not was.interrupt:
                self.gate_held(f)
                self.llm.release_tool(self.shell_gate[f])
            req = self.returned(i, f)
            how = "uncontrolled: the aborted shell ended" if was.interrupt else "released the shell's command"
            self.note(i, f, said, f"{how}; the shell request returned" if req else f"{how}; request still open")

    def gate_held(self, name: str) -> None:
        """Before the harness releases shell `name`'s gate: if its request has already returned,
        the gated command ended by itself, the shell was never held, and this drive did not test
        the schedule (`run.unheld`: redone, never counted)."""
        req = self.requests.get(name)
        gate = self.shell_gate[name]
        if req is not None and not req.open and gate not in self.gates_checked:
            why = f"{name}'s shell gate did not hold: the shell returned before the harness released it"
            self.run.unheld.append(why)
            self.run.deviations.append(why)
        self.gates_checked.add(gate)

    def exit(self, i: int, fiber: str, said: str, after: World) -> None:
        """The loop exits: no new model call, and its directory context goes idle unless another
        loop of the model still runs there."""
        f = after.fiber(fiber)
        others = [g for g in after.fibers if g.kind == "run" and g.name != fiber and not g.ended]
        alone = not [g for g in others if g.instance == f.instance]

        def new_call():
            return [c for c in self.llm.held() if c.n > self.last_call]

        guard = after.runners[after.run(f.run).runner]
        if guard.tag == "Running" and guard.run != f.run and after.fiber(f"r{guard.run}").pc == "start":
            # overlap = queue: this finishRun started the next queued run, whose model call comes now
            self.note(i, fiber, said, "uncontrolled: the loop left and finishRun started the queued run")
            return
        if alone:
            ok = self.wait(lambda: not self.busy(f.instance) and not new_call())
        else:  # another loop keeps the status busy: watch for a call of this one for a moment
            time.sleep(0.5)
            ok = not new_call()
        self.note(i, fiber, said, "uncontrolled: the loop left" + (" (session idle)" if alone else ""))
        if not ok:
            held = new_call()
            extra = f" (the loop called the model again: call {held[0].n})" if held else ""
            self.deviate(i, f"the model's {fiber} exits here; the real loop did not leave{extra}")

    def message_id(self, name: str, before: World) -> str | None:
        """The `messageID` the client sends: None for a server-minted id."""
        p = self.scenario.prompt(name)
        if p.id == "after-all":
            return after_all()
        if p.id == "client":
            tick = before.clock + p.clock
            return self.pacer.client_id(tick) if self.pacer else self.ahead.mint(int(time.time() * 1000 + AHEAD * 1000))
        return None

    def send(self, i: int, name: str, route: str, said: str, before: World, writes: bool = True) -> None:
        """Send prompt `name`; wait for its user message when the model's step writes it (with
        guard = turn the run writes it when it starts, so there is nothing to wait for yet)."""
        p = self.scenario.prompt(name)
        body: dict = {"parts": [{"type": "text", "text": prompt_text(name)}]}
        if p.no_reply:
            body["noReply"] = True
        mid = self.message_id(name, before)
        if mid:
            body["messageID"] = mid
        where = self.query(p.instance)
        shown = f" in directory context {p.instance}" if p.instance else ""
        shown += f" with messageID {mid}" if mid else ""
        if route == "prompt_async":
            self.http.call("POST", f"/session/{self.sid}/prompt_async{where}", body)
            real = f"POST /session/{{id}}/prompt_async {name}{shown}"
        else:
            self.background(name, "POST", f"/session/{self.sid}/message{where}", body)
            real = f"POST /session/{{id}}/message {name}{shown} (blocking)"
        if not writes:
            self.note(i, name, said, real + ": its user message is its run's to write")
            return
        ok = self.wait(lambda: self.user_stored(name))
        self.note(i, name, said, real + (": user message stored" if ok else ": user message NOT stored"))
        if not ok:
            self.deviate(i, f"{name} was sent but its user message was not stored within {self.timeout:.0f}s")

    def user_stored(self, name: str) -> bool:
        for m in self.messages():
            if m["info"]["role"] == "user":
                text = " ".join(p.get("text", "") for p in m.get("parts", []) if p.get("type") == "text")
                if name in MARKER.findall(text):
                    return True
        return False

    def await_client(self, i: int, name: str, said: str, after: World) -> None:
        if name not in self.requests:
            self.note(i, name, said, "no real counterpart (prompt_async answered 204 at once)")
            return
        req = self.returned(i, name)
        if req is None:
            self.note(i, name, said, "blocking request has not returned")
            return
        if req.error:
            self.note(i, name, said, f"blocking request failed: {req.error}")
            return
        info = (req.result or {}).get("info", {})
        _, _, labels = real_tree(self.messages())
        got = labels.get(info.get("id"), info.get("id", "?"))
        self.note(i, name, said, f"blocking request returned {got}")
        want = after.fiber(name).result
        if want in model_tree(self.trace.final):  # the model says which message the request returns
            self.returns.append((name, want, got))

    def abort(self, i: int, name: str, said: str, after: World) -> None:
        """POST /session/{id}/abort: answers `true` only once the whole cancel has finished."""
        where = self.query(self.scenario.prompt(name).instance)
        self.background(name, "POST", f"/session/{self.sid}/abort{where}", None)
        if after.fiber(name).ended:  # no busy runner: the cancel sets the status idle and returns
            req = self.returned(i, name)
            got = "" if req is None else (req.error or json.dumps(req.result))
            self.note(i, name, said, f"POST /session/{{id}}/abort {name}: returned {got} (nothing to cancel)")
        else:
            self.note(i, name, said, f"POST /session/{{id}}/abort {name}: the cancel runs (request open)")

    def interrupted(self, i: int, fiber: str, said: str, was) -> None:
        """The interrupted loop unwinds inside the abort: its assistant ends completed (aborted)."""
        self.calls.pop(fiber, None)
        self.tool_of.pop(fiber, None)
        aid = self.assistant.get(fiber) if was.msg else None
        ok = aid is None or self.wait(lambda: self.completed(aid))
        real = "uncontrolled: the loop was interrupted" + ("" if ok else "; assistant not completed")
        self.note(i, fiber, said, real)
        if not ok:
            self.deviate(i, f"{fiber}'s assistant was not completed within {self.timeout:.0f}s of the abort")

    def shell(self, i: int, name: str, said: str, before: World, after: World) -> None:
        """POST /session/{id}/shell: blocks until the command ends; refused as busy (400 in 1.15.4,
        409 in 1.18.34) unless the runner is Idle."""
        p = self.scenario.prompt(name)
        gate = self.llm.new_gate()
        self.shell_gate[name] = gate
        command = f": '[turnproof:{name}]'; " + self.llm.tool_command(gate)
        body = {"agent": "build", "command": command}
        mid = self.message_id(name, before)
        if mid:
            body["messageID"] = mid
        self.background(name, "POST", f"/session/{self.sid}/shell{self.query(p.instance)}", body)
        if after.fiber(name).ended:  # the model's runner was busy: RunnerBusy
            self.gates_checked.add(gate)  # a refused shell runs nothing: no gate to hold
            req = self.returned(i, name)
            got = "no answer" if req is None else (req.error or "200")
            self.note(i, name, said, f"POST /session/{{id}}/shell {name}: {got}")
            # 1.15.4 maps SessionBusyError to 400 BadRequest; 1.18.34 answers 409 with its tag
            err = (req.error if req else None) or ""
            busy = any(x in err for x in ("HTTP 400", "HTTP 409", "SessionBusyError"))
            if req is not None and not busy:
                self.deviate(i, f"the model's runner is busy for {name}; the real shell route answered {got}")
        else:
            self.note(i, name, said, f"POST /session/{{id}}/shell {name} (blocking; command gated)")

    def model_call(self, i: int, fiber: str, after: World, said: str) -> None:
        call = self.llm.wait_call(self.timeout, after=self.last_call)
        if call is None:
            self.note(i, fiber, said, "no model call arrived")
            self.deviate(
                i, f"the model's {fiber} calls the model here; the real server made no call within {self.timeout:.0f}s"
            )
            return
        self.last_call = call.n
        self.calls[fiber] = call
        msgs = self.messages()
        newest = max(
            (m["info"] for m in msgs if m["info"]["role"] == "assistant"),
            key=lambda x: (x.get("time", {}).get("created", 0), x["id"]),
            default=None,
        )
        if newest is not None:
            self.assistant[fiber] = newest["id"]
        f = after.fiber(fiber)
        seen = [after.store.get(mid) for mid in f.seen]
        model_users = [m.label for m in seen if m.role == "user" and not m.synthetic]
        real_users = [u.split(":")[-1] for u in call.users if not u.startswith("'")]
        real_users = [x for u in real_users for x in u.split("+")]
        expect = "tool" if f.answer == "tool" else "stop"
        sent = ", ".join(call.users)
        self.note(
            i, fiber, said, f"uncontrolled: model call {call.n} held (users sent: {sent}; script answers {call.answer})"
        )
        if model_users != real_users:
            carried = ", ".join(real_users) or "none"
            self.run.deviations.append(
                f"step {i}: the model's {fiber} read users {', '.join(model_users)}; the real request carried {carried}"
            )
        if expect != call.answer:
            self.run.deviations.append(
                f"step {i}: the model's script answers {expect}; on the real request it answers {call.answer}"
            )

    def release_call(self, i: int, fiber: str, ref: str, said: str) -> None:
        call = self.calls.pop(fiber, None)
        if call is None:
            self.note(i, fiber, said, "no held call to release")
            self.deviate(i, f"{fiber} has no held model call to answer")
            return
        self.llm.release(call)
        aid = self.assistant.get(fiber)
        if call.answer == "tool":
            ok = self.wait(lambda: self.llm.tool_started(call.tool))
            self.tool_of[fiber] = (call.tool, aid)
            self.note(
                i,
                fiber,
                said,
                f"released call {call.n} with a bash tool call; tool {call.tool} "
                + ("running" if ok else "did not start"),
            )
            if not ok:
                self.deviate(i, f"tool {call.tool} did not start within {self.timeout:.0f}s")
            elif ref != steps.LLM_TOOL_CALL:
                self.deviate(i, "the model streams a stop reply here; the real call got a tool call")
        else:
            ok = self.wait(lambda: self.finished(aid))
            self.note(
                i,
                fiber,
                said,
                f"released call {call.n} with a stop reply; "
                + ("assistant finished" if ok else "assistant not finished"),
            )
            if not ok:
                self.deviate(i, f"the assistant of call {call.n} did not finish within {self.timeout:.0f}s")
            elif ref != steps.LLM_FINISH:
                self.deviate(i, "the model streams a tool call here; the real call got a stop reply")

    def info(self, aid: str | None) -> dict | None:
        for m in self.messages():
            if m["info"]["id"] == aid:
                return m["info"]
        return None

    def finished(self, aid: str | None, finish: str | None = None) -> bool:
        info = self.info(aid)
        if info is None:
            return False
        done = bool(info.get("finish")) and bool(info.get("time", {}).get("completed"))
        return done and (finish is None or info.get("finish") == finish)

    def completed(self, aid: str | None) -> bool:
        info = self.info(aid)
        return info is not None and bool(info.get("time", {}).get("completed"))

    def release_tool(self, i: int, fiber: str, said: str) -> None:
        if fiber not in self.tool_of:
            self.note(i, fiber, said, "no running tool to complete")
            self.deviate(i, f"{fiber} has no running tool")
            return
        n, aid = self.tool_of.pop(fiber)
        self.llm.release_tool(n)
        ok = self.wait(lambda: self.finished(aid, "tool-calls"))
        self.note(
            i, fiber, said, f"released tool {n}; " + ("assistant finish=tool-calls" if ok else "assistant not finished")
        )
        if not ok:
            self.deviate(i, f"tool {n}'s assistant did not reach finish tool-calls within {self.timeout:.0f}s")

    def drain(self) -> None:
        """After the schedule (or once the real server left it): answer everything, wait for rest."""
        if self.off:
            self.llm.gated = False
        deadline = time.monotonic() + self.timeout
        quiet_since = None
        while time.monotonic() < deadline:
            held = self.llm.held()
            for c in held:
                self.llm.release(c)
            for n in range(1, self.llm.tools + 1):
                if self.llm.tool_started(n):
                    self.llm.release_tool(n)
            pending = [r for r in self.requests.values() if r.open]
            if held or pending or self.busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.5:
                break
            time.sleep(0.05)
        else:
            self.run.deviations.append(
                f"the session did not come to rest within {self.timeout:.0f}s after the schedule"
            )
        if self.off:
            self.llm.gated = True

    def release_all(self) -> None:
        for c in self.llm.held():
            self.llm.release(c)
        for n in range(1, self.llm.tools + 1):
            self.llm.release_tool(n)
