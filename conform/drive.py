"""Drive the real opencode server through a model schedule and compare the message trees.

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
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, fields
from pathlib import Path

from turnproof.conform import HarnessError
from turnproof.conform.fakellm import MARKER, Call, FakeLLM, prompt_text
from turnproof.model.config import Design, Scenario
from turnproof.model.store import ASSISTANT
from turnproof.model.system import System
from turnproof.model.world import World

SUPPORTED_ROUTES = ("prompt", "prompt_async")
STEP_TIMEOUT = 30.0  # seconds the real server gets to reach the next gate
MAX_COMPLETION = 200  # model steps to bring a schedule to rest

# Model step kinds that have no controllable real counterpart, said once per report.
UNCONTROLLED = {
    "loop.read": "the loop's read, assistant write and model call run at once after the previous step (no gate)",
    "loop.exit": "the loop's exit test and finishRun run at once after the previous step (no gate)",
    "runner.await.prompt_async": "prompt_async's await has no real counterpart: the route answered 204 at once",
    "runner.await.prompt": "the blocking /message request's return is awaited, not controlled",
}


# --- the model side ------------------------------------------------------------------------


def check_design(design: Design) -> None:
    """Only the faithful v1.15.4 design describes the real server."""
    faithful = Design(name=design.name)
    knobs = [f.name for f in fields(Design) if f.name not in ("name", "description", "path")]
    changed = [k for k in knobs if getattr(design, k) != getattr(faithful, k)]
    if changed:
        raise HarnessError(
            f"design {design.name}: only the v1.15.4 design can be conformed against the real server "
            f"(this one changes {', '.join(changed)})"
        )


def check_scenario(scenario: Scenario) -> None:
    if scenario.granularity != "await":
        raise HarnessError(
            f"scenario {scenario.name}: granularity {scenario.granularity}: only await steps can be driven"
        )
    for p in scenario.prompts:
        where = f"scenario {scenario.name}: prompt {p.name}"
        if p.route not in SUPPORTED_ROUTES:
            raise HarnessError(f"{where}: route {p.route} is not driven by the harness yet (only prompt, prompt_async)")
        if p.instance != 0:
            raise HarnessError(f"{where}: instance {p.instance}: the harness drives one server instance")
        if p.id != "server":
            raise HarnessError(f"{where}: id {p.id}: client-minted message ids are not driven by the harness yet")
        if not MARKER.fullmatch(f"[turnproof:{p.name}]"):
            raise HarnessError(f"{where}: name must be letters, digits, '_', '.', '-'")


AUTONOMOUS = ("start", "next")  # loop steps the real loop takes at once, with no gate before them


@dataclass(frozen=True)
class Eager(System):
    """The model restricted to the schedules the real server can be held to: a loop whose next
    step is its read (start / next) takes it before anything else moves, as the real loop does."""

    def enabled(self, w: World):
        fs = super().enabled(w)
        eager = [f for f in fs if f.kind == "run" and f.pc in AUTONOMOUS]
        return eager[:1] or fs


def driveable(system: System, schedule: str) -> str | None:
    """None when the real server can be held to `schedule`; else why not, naming the step."""
    from turnproof.explore.search.trace import decode, most_steps

    try:
        names = decode(schedule, most_steps(system))  # bounded before anything is expanded
    except ValueError as e:
        raise HarnessError(f"schedule {schedule[:60]!r}: {e}") from None
    if not names:
        raise HarnessError(f"schedule {schedule!r} names no step")
    w = system.initial()
    for i, name in enumerate(names, 1):
        ready = [f.name for f in system.enabled(w) if f.kind == "run" and f.pc in AUTONOMOUS]
        if ready and name not in ready:
            return (
                f"step {i} moves {name} while {ready[0]} is about to read the messages; the real loop reads at once, "
                f"so {name} cannot be held until after that read"
            )
        try:
            _, w = system.apply(w, name)
        except ValueError as e:
            raise HarnessError(f"schedule {schedule!r} does not apply: step {i}: {e}") from None
    return None


def complete(system: System, schedule: str):
    """Replay `schedule`, then run to rest: loop fibers first (lowest first), then clients in order.

    Returns (trace, completion schedule). The completion is the model's own choice of how the
    rest of the run goes when the real server is left to itself after the schedule.
    """
    from turnproof.explore.search.trace import Trace, encode, replay

    try:
        trace = replay(system, schedule)
    except ValueError as e:
        raise HarnessError(f"schedule {schedule!r} does not apply: {e}") from None
    steps = list(trace.steps)
    w = trace.final
    added: list[str] = []
    order = {p.name: i for i, p in enumerate(system.scenario.prompts)}
    while True:
        enabled = system.enabled(w)
        if not enabled:
            break
        if len(added) >= MAX_COMPLETION:
            raise HarnessError(
                f"schedule {schedule!r} does not come to rest within {MAX_COMPLETION} more steps: "
                "a run that never ends cannot be compared"
            )
        runs = sorted(
            (f for f in enabled if f.kind == "run"), key=lambda f: int(f.name[1:]) if f.name[1:].isdigit() else 0
        )
        f = runs[0] if runs else min(enabled, key=lambda f: order.get(f.prompt, 99))
        step, w = system.apply(w, f.name)
        steps.append((step, w))
        added.append(f.name)
    return Trace(trace.initial, tuple(steps)), encode(added)


def violations(system: System, trace) -> list[str]:
    """Every property the (completed) trace violates: on the way, or at rest at its end."""
    from turnproof.specs.properties import PROPERTIES

    out = []
    for p in PROPERTIES:
        if p.when == "always":
            for i, (_, w) in enumerate(trace.steps, 1):
                v = p.check(w)
                if v:
                    out.append(f"{p.name} (step {i}): {v.says}")
                    break
        elif p.when == "at_rest" and not system.enabled(trace.final):
            v = p.check(trace.final)
            if v:
                out.append(f"{p.name} (at rest): {v.says}")
    return out


def default_schedule(system: System) -> tuple[str, str]:
    """The shortest counterexample of the first violated (non-lasso) property, else a clean run."""
    from turnproof.explore.search.bfs import bfs
    from turnproof.specs.properties import PROPERTIES

    res = bfs(Eager(system.design, system.scenario), PROPERTIES)
    for p in PROPERTIES:
        f = res.findings.get(p.name)
        if f is not None and f.trace.lasso is None:
            return f.trace.schedule, f"shortest driveable counterexample of {p.name}"
    return "", "no driveable counterexample: the model's canonical run"


def model_tree(w: World) -> dict[str, dict]:
    out = {}
    for m in w.store.messages:
        node = {"role": m.role}
        if m.role == ASSISTANT:
            node |= {
                "parent": w.store.get(m.parent).label if m.parent is not None else None,
                "finish": m.finish,
                "completed": m.completed,
                "error": m.error,
                "tools": [p.status for p in m.tools],
            }
        out[m.label] = node
    return out


def model_order(w: World) -> list[str]:
    return [m.label for m in w.store.messages]


# --- the real side -------------------------------------------------------------------------


class Http:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body=None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw.strip() else None)
        except urllib.error.HTTPError as e:
            detail = " ".join(e.read().decode(errors="replace").split())[:200]
            raise HarnessError(f"{method} {path}: HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
            raise HarnessError(f"{method} {path}: {e}") from None


def real_tree(msgs: list[dict]) -> tuple[dict[str, dict], list[str], dict[str, str]]:
    """The persisted messages as the model's tree: users named by their marker, assistants A1…
    in creation order. Returns (tree, labels in id order, real id -> label)."""
    label: dict[str, str] = {}
    infos = [m["info"] for m in msgs]
    n = 0
    for m in sorted(msgs, key=lambda m: (m["info"].get("time", {}).get("created", 0), m["info"]["id"])):
        info = m["info"]
        if info["role"] == "user":
            text = " ".join(p.get("text", "") for p in m.get("parts", []) if p.get("type") == "text")
            marks = MARKER.findall(text)
            label[info["id"]] = marks[0] if marks else f"user?{info['id'][-6:]}"
        else:
            n += 1
            label[info["id"]] = f"A{n}"
    tree = {}
    for m in msgs:
        info = m["info"]
        node = {"role": info["role"]}
        if info["role"] == "assistant":
            err = info.get("error")
            err_name = None
            if err:
                err_name = "aborted" if err.get("name") == "MessageAbortedError" else err.get("name", "error")
            node |= {
                "parent": label.get(info.get("parentID"), info.get("parentID")),
                "finish": info.get("finish"),
                "completed": bool(info.get("time", {}).get("completed")),
                "error": err_name,
                "tools": [p.get("state", {}).get("status") for p in m.get("parts", []) if p.get("type") == "tool"],
            }
        tree[label[info["id"]]] = node
    order = [label[i["id"]] for i in sorted(infos, key=lambda i: i["id"])]
    return tree, order, label


FIELDS = ("role", "parent", "finish", "completed", "error", "tools")


def show_node(node: dict | None) -> str:
    if node is None:
        return "—"
    if node["role"] == "user":
        return "user"
    s = f"assistant ← {node['parent']} finish={node['finish'] or '-'}"
    if not node["completed"]:
        s += " (not completed)"
    if node["error"]:
        s += f" error={node['error']}"
    if node["tools"]:
        s += f" tools={','.join(node['tools'])}"
    return s


def diff(model: dict, real: dict, morder: list[str], rorder: list[str]) -> list[str]:
    """Side-by-side lines (label, model, real) for every label that differs; [] when equal."""
    labels = list(dict.fromkeys(list(model) + list(real)))
    rows = [
        (lab, show_node(model.get(lab)), show_node(real.get(lab))) for lab in labels if model.get(lab) != real.get(lab)
    ]
    out = []
    if rows:
        w1 = max(len(r[0]) for r in rows)
        w2 = max(max(len(r[1]) for r in rows), len("model"))
        out.append(f"{'':<{w1}}  {'model':<{w2}}  real")
        out += [f"{a:<{w1}}  {b:<{w2}}  {c}" for a, b, c in rows]
    if morder != rorder and not rows:
        out.append(f"id order: model {' '.join(morder)} · real {' '.join(rorder)}")
    return out


def tree_lines(tree: dict, order: list[str]) -> list[str]:
    return [f"{lab}: {show_node(tree[lab])}" for lab in order if lab in tree]


@dataclass
class Run:
    """One drive of the real server through the schedule."""

    n: int
    conforms: bool = False
    tree: dict = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "run": self.n,
            "conforms": self.conforms,
            "messages": [{"label": lab} | self.tree[lab] for lab in self.order if lab in self.tree],
            "diff": self.diff,
            "deviations": self.deviations,
            "steps": self.steps,
            "model_calls": self.calls,
            "seconds": round(self.seconds, 2),
        }


class Driver:
    """Drives one session of a running server through a completed model trace."""

    def __init__(self, http: Http, llm: FakeLLM, system: System, trace, n: int, timeout: float = STEP_TIMEOUT):
        self.http, self.llm, self.system, self.trace = http, llm, system, trace
        self.timeout = timeout
        self.run = Run(n)
        self.sid = ""
        self.calls: dict[str, Call] = {}  # loop fiber -> its held call
        self.assistant_of: dict[int, str] = {}  # call number -> real assistant id
        self.tool_of: dict[str, tuple[int, str]] = {}  # loop fiber -> (tool gate, assistant id)
        self.last_call = self.first_call = max((c.n for c in llm.calls), default=0)
        self.blocking: dict[str, dict] = {}  # prompt name -> {"thread", "result", "error"}
        self.off = False  # the real server left the schedule: stop driving, drain

    # helpers

    def messages(self) -> list[dict]:
        return self.http.call("GET", f"/session/{self.sid}/message")[1] or []

    def busy(self) -> bool:
        st = self.http.call("GET", "/session/status")[1] or {}
        s = st.get(self.sid)
        return bool(s) and s.get("type") != "idle"

    def wait(self, pred, what: str, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.05)
        return bool(pred())

    def deviate(self, i: int, says: str) -> None:
        self.run.deviations.append(f"step {i}: {says}")
        self.off = True

    def note(self, i: int, fiber: str, model: str, real: str) -> None:
        self.run.steps.append({"step": i, "fiber": fiber, "model": model, "real": real})

    # the drive

    def drive(self) -> Run:
        t0 = time.monotonic()
        self.sid = self.http.call("POST", "/session", {})[1]["id"]
        try:
            for i, (step, after) in enumerate(self.trace.steps, 1):
                if self.off:
                    self.note(i, step.fiber, step.events[0].says, "not driven: the real server left the schedule")
                    continue
                self.step(i, step, after)
            self.drain()
            tree, order, _ = real_tree(self.messages())
        finally:
            self.release_all()
        self.run.tree, self.run.order = tree, order
        m = model_tree(self.trace.final)
        self.run.diff = diff(m, tree, model_order(self.trace.final), order)
        self.run.conforms = not self.run.diff
        self.run.calls = [c.summary() for c in self.llm.calls if c.n > self.first_call and c.tooled]
        self.run.seconds = time.monotonic() - t0
        return self.run

    def step(self, i: int, step, after: World) -> None:
        refs = [e.ref for e in step.events]
        f = step.fiber
        said = "; ".join(e.says for e in step.events)
        if refs[0] in ("route.prompt", "route.prompt_async"):
            self.send(i, f, refs[0].split(".", 1)[1], said)
        elif refs[0] == "runner.await":
            self.await_client(i, f, said)
        elif "llm.call" in refs:
            self.model_call(i, f, after, said)
        elif "loop.exit" in refs:
            ok = self.wait(lambda: not self.busy() and not self.llm.held(), "idle")
            self.note(i, f, said, "uncontrolled: the session went idle" if ok else "session still busy")
            if not ok:
                held = self.llm.held()
                extra = f" (the loop called the model again: call {held[0].n})" if held else ""
                self.deviate(i, f"the model's {f} exits here; the real loop did not go idle{extra}")
        elif refs[0] in ("llm.tool_call", "llm.finish"):
            self.release_call(i, f, refs[0], said)
        elif refs[0] == "llm.tool_result":
            self.release_tool(i, f, said)
        else:
            raise HarnessError(f"step {i}: {f} does {refs[0]}, which the harness cannot drive")

    def send(self, i: int, name: str, route: str, said: str) -> None:
        body: dict = {"parts": [{"type": "text", "text": prompt_text(name)}]}
        if self.system.scenario.prompt(name).no_reply:
            body["noReply"] = True
        if route == "prompt_async":
            self.http.call("POST", f"/session/{self.sid}/prompt_async", body)
            real = f"POST /session/{{id}}/prompt_async {name}"
        else:
            slot: dict = {"result": None, "error": None}

            def blocking():
                try:
                    slot["result"] = self.http.call(
                        "POST", f"/session/{self.sid}/message", body, timeout=self.timeout * 6
                    )[1]
                except HarnessError as e:
                    slot["error"] = str(e)

            t = threading.Thread(target=blocking, name=f"prompt-{name}", daemon=True)
            slot["thread"] = t
            self.blocking[name] = slot
            t.start()
            real = f"POST /session/{{id}}/message {name} (blocking)"
        ok = self.wait(lambda: self.user_stored(name), "user")
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

    def await_client(self, i: int, name: str, said: str) -> None:
        slot = self.blocking.get(name)
        if slot is None:
            self.note(i, name, said, "no real counterpart (prompt_async answered 204 at once)")
            return
        slot["thread"].join(self.timeout)
        if slot["thread"].is_alive():
            self.note(i, name, said, "blocking request has not returned")
            self.deviate(i, f"{name}'s blocking request did not return within {self.timeout:.0f}s")
            return
        if slot["error"]:
            self.note(i, name, said, f"blocking request failed: {slot['error']}")
            return
        res = slot["result"] or {}
        info = res.get("info", {})
        _, _, labels = real_tree(self.messages())
        self.note(i, name, said, f"blocking request returned {labels.get(info.get('id'), info.get('id', '?'))}")

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
        newest = max((m["info"] for m in msgs if m["info"]["role"] == "assistant"), key=lambda x: x["id"], default=None)
        if newest is not None:
            self.assistant_of[call.n] = newest["id"]
        f = after.fiber(fiber)
        seen = [after.store.get(mid) for mid in f.seen]
        model_users = [m.label for m in seen if m.role == "user"]
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
        aid = self.assistant_of.get(call.n)
        if call.answer == "tool":
            ok = self.wait(lambda: self.llm.tool_started(call.tool), "tool")
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
            elif ref != "llm.tool_call":
                self.deviate(i, "the model streams a stop reply here; the real call got a tool call")
        else:
            ok = self.wait(lambda: self.finished(aid), "finish")
            self.note(
                i,
                fiber,
                said,
                f"released call {call.n} with a stop reply; "
                + ("assistant finished" if ok else "assistant not finished"),
            )
            if not ok:
                self.deviate(i, f"the assistant of call {call.n} did not finish within {self.timeout:.0f}s")
            elif ref != "llm.finish":
                self.deviate(i, "the model streams a tool call here; the real call got a stop reply")

    def finished(self, aid: str | None, finish: str | None = None) -> bool:
        for m in self.messages():
            info = m["info"]
            if info["id"] == aid:
                done = bool(info.get("finish")) and bool(info.get("time", {}).get("completed"))
                return done and (finish is None or info.get("finish") == finish)
        return False

    def release_tool(self, i: int, fiber: str, said: str) -> None:
        if fiber not in self.tool_of:
            self.note(i, fiber, said, "no running tool to complete")
            self.deviate(i, f"{fiber} has no running tool")
            return
        n, aid = self.tool_of.pop(fiber)
        self.llm.release_tool(n)
        ok = self.wait(lambda: self.finished(aid, "tool-calls"), "tool-calls")
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
            pending = [s for s in self.blocking.values() if s["thread"].is_alive()]
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


# --- the report ----------------------------------------------------------------------------


@dataclass
class ConformReport:
    design: str
    scenario: str
    version: str
    schedule: str
    origin: str  # where the schedule came from
    completion: str  # what the model adds to bring it to rest
    model_violations: list[str]
    model_tree: dict
    model_order: list[str]
    runs: list[Run]
    uncontrolled: list[str]
    not_driveable: str | None = None  # why the real server cannot be held to the schedule

    @property
    def agree(self) -> int:
        return sum(1 for r in self.runs if r.conforms)

    @property
    def conforms(self) -> bool:
        return bool(self.runs) and self.agree == len(self.runs)

    @property
    def exit_code(self) -> int:
        return 0 if self.conforms else 1

    def to_json(self) -> dict:
        return {
            "design": self.design,
            "scenario": self.scenario,
            "opencode": self.version,
            "schedule": self.schedule,
            "schedule_origin": self.origin,
            "completion": self.completion,
            "verdict": "conforms" if self.conforms else "disagrees",
            "driveable": self.not_driveable is None,
            **({"not_driveable": self.not_driveable} if self.not_driveable else {}),
            "agreement": {"runs": len(self.runs), "conform": self.agree},
            "model": {
                "violations": self.model_violations,
                "messages": [{"label": lab} | self.model_tree[lab] for lab in self.model_order],
            },
            "uncontrolled": self.uncontrolled,
            "runs": [r.to_json() for r in self.runs],
        }

    def side_by_side(self) -> list[str]:
        """The model's final message tree beside the real server's (first run)."""
        left = tree_lines(self.model_tree, self.model_order)
        right = tree_lines(self.runs[0].tree, self.runs[0].order) if self.runs else []
        width = max([len("model") + 2] + [len(x) + 2 for x in left])
        out = [f"  {'model'.ljust(width)}| real opencode {self.version} (run 1)"]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            out.append(f"  {a.ljust(width)}| {b}")
        return out

    def text(self) -> str:
        full = ",".join(x for x in (self.schedule, self.completion) if x)
        lines = [
            f"design {self.design} × scenario {self.scenario} against the real opencode {self.version}",
            f"schedule: {self.schedule or '(empty)'} ({self.origin})",
        ]
        if self.completion:
            lines.append(f"  completed to rest by the model with {self.completion}: {full}")
        if self.not_driveable:
            lines.append(f"  ⚠ not driveable as written: {self.not_driveable}")
        if self.model_violations:
            lines.append("model: violated")
            lines += [f"  ✗ {v}" for v in self.model_violations]
        else:
            lines.append("model: clean (no property violated)")
        lines += self.side_by_side()
        for r in self.runs:
            if r.conforms:
                lines.append(f"run {r.n}: conforms ({r.seconds:.1f}s)")
            else:
                lines.append(f"run {r.n}: DIFFERS ({r.seconds:.1f}s)")
                lines += [f"  {x}" for x in r.diff]
                lines.append("  real message tree:")
                lines += [f"    {x}" for x in tree_lines(r.tree, r.order)]
            lines += [f"  note: {d}" for d in r.deviations]
        verdict = "real and model agree" if self.conforms else "real and model DISAGREE"
        if self.not_driveable and not self.conforms:
            verdict += " (the schedule could not be held on the real server, see above)"
        lines.append(f"agreement: {self.agree}/{len(self.runs)} runs conform — {verdict}")
        if self.uncontrolled:
            lines.append("not controllable on the real server (waited for, not held):")
            lines += [f"  - {u}" for u in self.uncontrolled]
        return "\n".join(lines)


def load_schedule(arg: str) -> str:
    """A schedule string, or the `schedule` of a trace.json written by `turnproof check`."""
    path = Path(arg)
    if arg.endswith(".json") or path.is_file():
        from turnproof.explore.search.confirm import load_trace
        from turnproof.specs.loader import InputError

        try:
            return load_trace(path)["schedule"]
        except InputError as e:
            raise HarnessError(str(e)) from None
    return arg


def conform(
    design,
    scenario,
    schedule: str | None = None,
    version: str = "1.15.4",
    runs: int = 1,
    timeout: float = STEP_TIMEOUT,
    binary: Path | None = None,
) -> ConformReport:
    """Drive the real opencode `version` through `schedule` (default: the shortest counterexample
    of the first violated property) `runs` times and compare each final message tree with the
    model's. `design` and `scenario` are loaded turnproof objects (specs.loader)."""
    from turnproof.conform.server import OpencodeServer, fetch_binary

    if design.engine == "inbox":  # the V2 route of 1.18.34: conform/inbox.py drives it
        from turnproof.conform.inbox import conform as conform_inbox

        return conform_inbox(design, scenario, schedule, version, runs, timeout, binary)
    if runs < 1:
        raise HarnessError(f"--runs: {runs}: expected at least 1")
    check_design(design)
    check_scenario(scenario)
    system = System(design, scenario)
    if schedule is None:
        schedule, origin = default_schedule(system)
    else:
        origin = "given"
    why = driveable(system, schedule)
    trace, completion = complete(system, schedule)
    uncontrolled = _uncontrolled(trace, scenario)
    report = ConformReport(
        design=design.name,
        scenario=scenario.name,
        version=version,
        schedule=schedule,
        origin=origin,
        completion=completion,
        model_violations=violations(system, trace),
        model_tree=model_tree(trace.final),
        model_order=model_order(trace.final),
        runs=[],
        uncontrolled=uncontrolled,
        not_driveable=why,
    )
    exe = Path(binary) if binary else fetch_binary(version)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="turnproof-gates-") as gates:
        tools_for = {p.name: p.tools for p in scenario.prompts}
        with FakeLLM(Path(gates), tools_for) as llm, OpencodeServer(exe, llm.base_url, version=version) as srv:
            http = Http(srv.url)
            for n in range(1, runs + 1):
                try:
                    report.runs.append(Driver(http, llm, system, trace, n, timeout).drive())
                except HarnessError as e:
                    raise HarnessError(f"run {n}: {e}") from None
    return report


def _uncontrolled(trace, scenario: Scenario) -> list[str]:
    seen = []
    for step, _ in trace.steps:
        refs = [e.ref for e in step.events]
        key = None
        if "llm.call" in refs:
            key = "loop.read"
        elif "loop.exit" in refs:
            key = "loop.exit"
        elif refs[0] == "runner.await":
            key = f"runner.await.{scenario.prompt(step.fiber).route}"
        if key and UNCONTROLLED[key] not in seen:
            seen.append(UNCONTROLLED[key])
    return seen
