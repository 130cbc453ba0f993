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
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, fields
from pathlib import Path

from turnproof.conform import Agreement, HarnessError
from turnproof.conform.clock import AHEAD, Pacer, after_all, mint
from turnproof.conform.fakellm import MARKER, Call, FakeLLM, prompt_text
from turnproof.conform.target import Target
from turnproof.model import ids
from turnproof.model.config import Design, Scenario
from turnproof.model.store import ASSISTANT
from turnproof.model.system import System
from turnproof.model.world import World

SUPPORTED_ROUTES = ("prompt", "prompt_async", "shell", "abort")
STEP_TIMEOUT = 30.0  # seconds the real server gets to reach the next gate
RETRIES = 2  # drives of a run redone when the paced clock did not hold (reported as discarded)
MAX_COMPLETION = 200  # model steps to bring a schedule to rest
# The designs that describe a shipped release, and the release each describes.
FAITHFUL = {"v1.15.4": "1.15.4", "upstream-1.18.34": "1.18.34"}

# Model step kinds that have no controllable real counterpart, said once per report.
UNCONTROLLED = {
    "loop.read": "the loop's read, assistant write and model call run at once after the previous step (no gate)",
    "loop.exit": "the loop's exit test and finishRun run at once after the previous step (no gate)",
    "runner.await.prompt_async": "prompt_async's await has no real counterpart: the route answered 204 at once",
    "runner.await.prompt": "the blocking /message request's return is awaited, not controlled",
    "loop.interrupted": "the interrupted loop unwinds inside the abort request (Fiber.interrupt runs it inline)",
    "abort.return": "the abort request returns when the whole cancel has finished: awaited, not controlled",
    "shell.messages": "the shell's user message, assistant and running bash part are written at once (no gate)",
    "shell.interrupted": "an aborted shell's command is killed and its part completed inside the abort request",
    "clock": "client-minted ids: the model's clock is paced in real time (conform/clock.py), not held",
}


# --- the model side ------------------------------------------------------------------------


def _knobs(design: Design) -> dict:
    return {f.name: getattr(design, f.name) for f in fields(Design) if f.name not in ("name", "description", "path")}


def check_design(design: Design) -> str:
    """Only a design that describes a shipped release can be compared with the real server: the
    name of the faithful design it equals (v1.15.4 or upstream-1.18.34)."""
    from turnproof.specs.loader import load_design

    for name in FAITHFUL:
        if _knobs(design) == _knobs(load_design(name)):
            return name
    base = _knobs(load_design("v1.15.4"))
    changed = [k for k, v in _knobs(design).items() if v != base[k]]
    raise HarnessError(
        f"design {design.name}: only the v1.15.4 design or upstream-1.18.34 describe a release that can be "
        f"conformed against the real server (this one changes {', '.join(changed)} from v1.15.4)"
    )


def check_scenario(scenario: Scenario) -> None:
    if scenario.granularity != "await":
        raise HarnessError(
            f"scenario {scenario.name}: granularity {scenario.granularity}: only await steps can be driven "
            "(the real runtime yields at its 2048-operation budget, which the harness cannot hold)"
        )
    clock = getattr(scenario, "server", None)
    if clock is not None and (clock.wrap_after is not None or clock.back_after is not None):
        raise HarnessError(
            f"scenario {scenario.name}: the server's clock wraps or steps back: the harness cannot move "
            "the real server's clock"
        )
    for p in scenario.prompts:
        where = f"scenario {scenario.name}: prompt {p.name}"
        if p.route not in SUPPORTED_ROUTES:
            raise HarnessError(f"{where}: route {p.route} is not driven by the harness")
        if getattr(p, "hook", False):
            raise HarnessError(
                f"{where}: a chat.message plugin hook: the harness runs opencode with --pure (no plugins), so "
                "there is no hook to hold between the id's mint and the message's write"
            )
        if getattr(p, "parts", "text") not in ("text", "agent"):
            raise HarnessError(f"{where}: {p.parts} parts are not sent by the harness (text only)")
        if not MARKER.fullmatch(f"[turnproof:{p.name}]"):
            raise HarnessError(f"{where}: name must be letters, digits, '_', '.', '-'")


AUTONOMOUS = ("start", "next")  # loop steps the real loop takes at once, with no gate before them


def autonomous(scenario: Scenario, f) -> bool:
    """Does the real server take this fiber's next step at once, with nothing the harness can hold
    before it? The loop's read (start / next), an interrupted fiber's unwinding (Fiber.interrupt
    runs it inline), the shell's first writes (before its `ready` latch opens), and the abort's
    return once the interrupted fiber has stopped."""
    if f.ended:
        return False
    if f.kind == "tool":  # an aborted tool call settling: the gated command dies at SIGTERM at once
        return True
    if f.kind == "run":
        return f.pc in AUTONOMOUS or f.interrupt or f.pc == "cleanup"
    route = scenario.prompt(f.prompt).route
    if route == "shell":
        return f.pc == "shell.start" or (f.interrupt and f.pc != "send")
    if route == "abort":
        return f.pc in ("await_ready", "await_int")
    return False


@dataclass(frozen=True)
class Eager(System):
    """The model restricted to the schedules the real server can be held to: a fiber whose next
    step the real server takes at once (`autonomous`) takes it before anything else moves."""

    name_blind = False  # the first autonomous fiber in fiber order goes first: a place decides

    def enabled(self, w: World):
        fs = super().enabled(w)
        eager = [f for f in fs if autonomous(self.scenario, f)]
        # an aborted tool settles before the loop's cleanup stops waiting for it: the gated
        # command dies at SIGTERM at once, well inside cleanup's 250 ms wait (fidelity notes §6)
        eager.sort(key=lambda f: f.kind != "tool")
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
        ready = [f for f in system.enabled(w) if autonomous(system.scenario, f)]
        if ready and name not in [f.name for f in ready]:
            f = ready[0]
            what = "is about to read the messages" if f.kind == "run" and f.pc in AUTONOMOUS else "moves at once"
            return (
                f"step {i} moves {name} while {f.name} {what}; the real server takes that step at once, "
                f"so {name} cannot be held until after it"
            )
        try:
            _, w = system.apply(w, name)
        except ValueError as e:
            raise HarnessError(f"schedule {schedule!r} does not apply: step {i}: {e}") from None
    return None


def complete(system: System, schedule: str):
    """Replay `schedule`, then run to rest: a step the real server takes at once first, then loop
    fibers (lowest first), then clients in order.

    Returns (trace, completion schedule). The completion is the model's own choice of how the
    rest of the run goes when the real server is left to itself after the schedule. A run that
    outgrows the scenario's bound (a loop that runs away) stops there: `cut(system, trace)`.
    """
    from turnproof.explore.search.trace import Trace, encode, replay

    try:
        trace = replay(system, schedule)
    except ValueError as e:
        raise HarnessError(f"schedule {schedule!r} does not apply: {e}") from None
    eager = Eager(system.design, system.scenario)
    steps = list(trace.steps)
    w = trace.final
    added: list[str] = []
    order = {p.name: i for i, p in enumerate(system.scenario.prompts)}
    while not system.bounded_out(w):
        enabled = eager.enabled(w)
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


def cut(system: System, trace) -> bool:
    """Did the completed run stop at the scenario's bound rather than at rest?"""
    return system.bounded_out(trace.final) and bool(system.enabled(trace.final))


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
    if cut(system, trace):
        out.append(
            f"runs away: the run has not come to rest at the bound of {system.scenario.max_messages} messages "
            "(compared there, then the real session is aborted)"
        )
    return out


def default_schedule(system: System) -> tuple[str, str]:
    """The shortest counterexample of the first violated (non-lasso) property, else a clean run."""
    return schedules(system)[0]


def schedules(system: System, limit: int = 50000) -> list[tuple[str, str]]:
    """What a suite drives for one design and scenario: the shortest driveable counterexample of
    each violated property (a schedule shared by several properties once, naming them all), then
    the shortest clean schedule. Each as (schedule, what it is). Liveness counterexamples (lassos)
    are left out: a run that never ends cannot be compared."""
    from turnproof.explore.search.bfs import bfs
    from turnproof.specs.properties import PROPERTIES
    from turnproof.specs.shapes import SHAPES

    asked = tuple(PROPERTIES) + tuple(SHAPES.values())
    res = bfs(Eager(system.design, system.scenario), asked)
    found: dict[str, list[str]] = {}
    for p in asked:
        f = res.findings.get(p.name)
        if f is not None and f.trace.lasso is None:
            found.setdefault(f.trace.schedule, []).append(p.name)
    out = []
    for sch, names in found.items():
        props = [n for n in names if not n.startswith("shape:")]
        shapes = [n.removeprefix("shape:") for n in names if n.startswith("shape:")]
        what = [f"counterexample of {', '.join(props)}"] if props else []
        what += [f"reach of the seed's {', '.join(shapes)} shape"] if shapes else []
        out.append((sch, "shortest driveable " + " and ".join(what)))
    clean = clean_schedule(system, limit)
    if clean is not None:
        out.append((clean, "shortest clean schedule"))
    elif not out:
        out.append(("", "no driveable counterexample: the model's canonical run"))
    return out


def clean_schedule(system: System, limit: int = 50000) -> str | None:
    """The shortest driveable schedule to rest on which the model violates no property (None if
    there is none within `limit` worlds)."""
    from collections import deque

    from turnproof.explore.search.trace import encode
    from turnproof.specs.properties import PROPERTIES

    eager = Eager(system.design, system.scenario)
    always = [p for p in PROPERTIES if p.when == "always"]
    at_rest = [p for p in PROPERTIES if p.when == "at_rest"]
    w0 = eager.initial()
    parent: dict = {w0: None}
    todo = deque([w0])
    while todo and len(parent) < limit:
        w = todo.popleft()
        fs = eager.enabled(w)
        if not fs:
            if any(p.check(w) for p in at_rest):
                continue
            path = []
            while parent[w] is not None:
                w, name = parent[w]
                path.append(name)
            return encode(path[::-1])
        for f in fs:
            _, nxt = eager.apply(w, f.name)
            if nxt in parent or eager.bounded_out(nxt) or any(p.check(nxt) for p in always):
                continue
            parent[nxt] = (w, f.name)
            todo.append(nxt)
    return None


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
    shells: dict[str, str] = {}  # a shell's user message has no marker: its bash part's command does
    for m in msgs:
        for p in m.get("parts", []):
            command = str((p.get("state") or {}).get("input", {}).get("command", "")) if p.get("type") == "tool" else ""
            marks = MARKER.findall(command)
            if marks and m["info"].get("parentID"):
                shells[m["info"]["parentID"]] = marks[0]
    n = 0
    for m in sorted(msgs, key=lambda m: (m["info"].get("time", {}).get("created", 0), m["info"]["id"])):
        info = m["info"]
        if info["role"] == "user":
            text = " ".join(p.get("text", "") for p in m.get("parts", []) if p.get("type") == "text")
            marks = MARKER.findall(text) or [shells.get(info["id"], f"user?{info['id'][-6:]}")]
            label[info["id"]] = marks[0]
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
    late: list[str] = field(default_factory=list)  # server ids minted after their paced window

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
        self.last_call = self.first_call = max((c.n for c in llm.calls), default=0)
        self.requests: dict[str, dict] = {}  # prompt name -> {"thread", "result", "error"} of a blocking request
        self.off = False  # the real server left the schedule: stop driving, drain
        self.returns: list[tuple[str, str, str]] = []  # blocking request: (prompt, model's label, real label)
        self.pacer: Pacer | None = None
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

    def background(self, name: str, method: str, path: str, body) -> dict:
        """Send a request that blocks (prompt, shell, abort) from a thread; its slot records the answer."""
        slot: dict = {"result": None, "error": None}

        def go():
            try:
                slot["result"] = self.http.call(method, path, body, timeout=self.timeout * 6)[1]
            except HarnessError as e:
                slot["error"] = str(e)

        slot["thread"] = threading.Thread(target=go, name=f"request-{name}", daemon=True)
        self.requests[name] = slot
        slot["thread"].start()
        return slot

    def returned(self, i: int, name: str) -> dict | None:
        """Wait for `name`'s blocking request to return; its slot, or None (a deviation) if it did not."""
        slot = self.requests.get(name)
        if slot is None:
            return None
        slot["thread"].join(self.timeout)
        if slot["thread"].is_alive():
            self.deviate(i, f"{name}'s request did not return within {self.timeout:.0f}s")
            return None
        return slot

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
        return self.run

    def pace(self, k: int, before: World) -> None:
        """Client-minted ids: before a step the harness controls, wait for the window of the first
        tick the server mints from it until the next controlled step (conform/clock.py)."""
        steps = self.trace.steps
        if self.pacer is None or autonomous(self.scenario, before.fiber(steps[k][0].fiber)):
            return
        w = before
        for j in range(k, len(steps)):
            step, after = steps[j]
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
        self.after, self.before = after, before
        if was.kind == "tool":  # an aborted tool call settling
            self.note(i, f, said, "uncontrolled: the aborted gated command died at SIGTERM and returned")
        elif was.kind == "run":
            if was.interrupt or was.pc == "cleanup":
                self.interrupted(i, f, said, was)
            elif "llm.call" in refs:
                self.model_call(i, f, after, said)
            elif "loop.exit" in refs:
                self.exit(i, f, said, after)
            elif refs[0] in ("llm.tool_call", "llm.finish"):
                self.release_call(i, f, refs[0], said)
            elif refs[0] == "llm.tool_result":
                self.release_tool(i, f, said)
            else:
                raise HarnessError(f"step {i}: {f} does {refs[0]}, which the harness cannot drive")
        else:
            route = self.scenario.prompt(was.prompt).route
            if route == "abort":
                self.abort_step(i, f, said, was, refs, after)
            elif route == "shell":
                self.shell_step(i, f, said, was)
            elif was.pc == "send" and refs[0] == f"route.{route}" and "prompt.mint" not in refs:
                self.send(i, f, route, said, before, writes="prompt.user" in refs)
            elif was.pc == "await":
                self.await_client(i, f, said)
            else:
                raise HarnessError(f"step {i}: {f} does {refs[0]}, which the harness cannot drive")

    def abort_step(self, i: int, f: str, said: str, was, refs: list[str], after: World) -> None:
        if was.pc == "send":
            self.abort(i, f, said, after)
        elif "runner.idleIfCurrent" in refs:
            slot = self.returned(i, f)
            got = "" if slot is None else (slot["error"] or json.dumps(slot["result"]))
            self.note(i, f, said, f"uncontrolled: the abort request returned {got}" if slot else "abort still open")
        else:  # stop-shell: the shell's ready latch is open; the interrupt follows inside the abort
            self.note(i, f, said, "uncontrolled: inside the abort request")

    def shell_step(self, i: int, f: str, said: str, was) -> None:
        if was.pc == "send":
            self.shell(i, f, said, self.after)
        elif was.pc == "shell.start":
            ok = self.wait(lambda: self.llm.tool_started(self.shell_gate[f]), "shell")
            self.note(i, f, said, "uncontrolled: shell messages written, command running" if ok else "not running")
            if not ok:
                self.deviate(i, f"{f}'s command did not start within {self.timeout:.0f}s")
        else:
            if not was.interrupt:
                self.llm.release_tool(self.shell_gate[f])
            slot = self.returned(i, f)
            how = "uncontrolled: the aborted shell ended" if was.interrupt else "released the shell's command"
            self.note(i, f, said, f"{how}; the shell request returned" if slot else f"{how}; request still open")

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
            ok = self.wait(lambda: not self.busy(f.instance) and not new_call(), "idle")
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
            return self.pacer.client_id(tick) if self.pacer else mint(int(time.time() * 1000 + AHEAD * 1000))
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
        if name not in self.requests:
            self.note(i, name, said, "no real counterpart (prompt_async answered 204 at once)")
            return
        slot = self.returned(i, name)
        if slot is None:
            self.note(i, name, said, "blocking request has not returned")
            return
        if slot["error"]:
            self.note(i, name, said, f"blocking request failed: {slot['error']}")
            return
        info = (slot["result"] or {}).get("info", {})
        _, _, labels = real_tree(self.messages())
        got = labels.get(info.get("id"), info.get("id", "?"))
        self.note(i, name, said, f"blocking request returned {got}")
        want = self.after.fiber(name).result
        if want in model_tree(self.trace.final):  # the model says which message the request returns
            self.returns.append((name, want, got))

    def abort(self, i: int, name: str, said: str, after: World) -> None:
        """POST /session/{id}/abort: answers `true` only once the whole cancel has finished."""
        where = self.query(self.scenario.prompt(name).instance)
        self.background(name, "POST", f"/session/{self.sid}/abort{where}", None)
        if after.fiber(name).ended:  # no busy runner: the cancel sets the status idle and returns
            slot = self.returned(i, name)
            got = "" if slot is None else (slot["error"] or json.dumps(slot["result"]))
            self.note(i, name, said, f"POST /session/{{id}}/abort {name}: returned {got} (nothing to cancel)")
        else:
            self.note(i, name, said, f"POST /session/{{id}}/abort {name}: the cancel runs (request open)")

    def interrupted(self, i: int, fiber: str, said: str, was) -> None:
        """The interrupted loop unwinds inside the abort: its assistant ends completed (aborted)."""
        self.calls.pop(fiber, None)
        self.tool_of.pop(fiber, None)
        aid = self.assistant.get(fiber) if was.msg else None
        ok = aid is None or self.wait(lambda: self.completed(aid), "aborted")
        real = "uncontrolled: the loop was interrupted" + ("" if ok else "; assistant not completed")
        self.note(i, fiber, said, real)
        if not ok:
            self.deviate(i, f"{fiber}'s assistant was not completed within {self.timeout:.0f}s of the abort")

    def shell(self, i: int, name: str, said: str, after: World) -> None:
        """POST /session/{id}/shell: blocks until the command ends; refused as busy (400 in 1.15.4,
        409 in 1.18.34) unless the runner is Idle."""
        p = self.scenario.prompt(name)
        gate = self.llm.new_gate()
        self.shell_gate[name] = gate
        command = f": '[turnproof:{name}]'; " + self.llm.tool_command(gate)
        body = {"agent": "build", "command": command}
        mid = self.message_id(name, self.before)
        if mid:
            body["messageID"] = mid
        self.background(name, "POST", f"/session/{self.sid}/shell{self.query(p.instance)}", body)
        if after.fiber(name).ended:  # the model's runner was busy: RunnerBusy
            slot = self.returned(i, name)
            got = "no answer" if slot is None else (slot["error"] or "200")
            self.note(i, name, said, f"POST /session/{{id}}/shell {name}: {got}")
            # 1.15.4 maps SessionBusyError to 400 BadRequest; 1.18.34 answers 409 with its tag
            err = (slot or {}).get("error") or ""
            busy = any(x in err for x in ("HTTP 400", "HTTP 409", "SessionBusyError"))
            if slot is not None and not busy:
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
            pending = [s for s in self.requests.values() if s["thread"].is_alive()]
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
class ConformReport(Agreement):
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
    note: str = ""  # e.g. a design driven against another release than the one it describes
    discarded: list[str] = field(default_factory=list)  # drives redone: the paced clock did not hold
    target: Target | None = None  # the executable driven, when not the release fetched by version

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
            **({"note": self.note} if self.note else {}),
            **({"discarded": self.discarded} if self.discarded else {}),
            "runs": [r.to_json() for r in self.runs],
            **({"opencode_binary": self.target.to_json()} if self.target else {}),
        }

    def side_by_side(self) -> list[str]:
        """The model's final message tree beside the real server's (first run)."""
        left = tree_lines(self.model_tree, self.model_order)
        right = tree_lines(self.runs[0].tree, self.runs[0].order) if self.runs else []
        width = max([len("model") + 2] + [len(x) + 2 for x in left])
        what = self.target.label() if self.target else f"opencode {self.version}"
        out = [f"  {'model'.ljust(width)}| real {what} (run 1)"]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            out.append(f"  {a.ljust(width)}| {b}")
        return out

    def text(self) -> str:
        full = ",".join(x for x in (self.schedule, self.completion) if x)
        what = f"the real {self.target.label()}" if self.target else f"the real opencode {self.version}"
        lines = [f"design {self.design} × scenario {self.scenario} against {what}"]
        if self.target:
            t = self.target
            lines.append(f"  ran: {t.path} (--version {t.version}, sha256 {t.sha256[:16]}…)")
        lines.append(f"schedule: {self.schedule or '(empty)'} ({self.origin})")
        if self.completion:
            to = "to the bound" if any(v.startswith("runs away") for v in self.model_violations) else "to rest"
            lines.append(f"  completed {to} by the model with {self.completion}: {full}")
        if self.not_driveable:
            lines.append(f"  ⚠ not driveable as written: {self.not_driveable}")
        if self.note:
            lines.append(f"  note: {self.note}")
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
        if self.discarded:
            lines.append("drives discarded and redone, the paced clock not held (not counted):")
            lines += [f"  - {d}" for d in self.discarded]
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


class Harness:
    """One real server (with its project directories) and one fake LLM, for many conformance cases:
    `with Harness(version) as h: h.conform(design, scenario, schedule, runs)`. Each run drives a
    fresh session; the server is stopped on exit, error or interrupt."""

    def __init__(self, version: str = "1.15.4", binary: Path | None = None, timeout: float = STEP_TIMEOUT, target=None):
        self.version, self.binary, self.timeout, self.target = version, binary, timeout, target
        self._stack = None

    def __enter__(self) -> Harness:
        import contextlib
        import tempfile

        from turnproof.conform.server import OpencodeServer, fetch_binary

        exe = Path(self.binary) if self.binary else fetch_binary(self.version)
        self._stack = contextlib.ExitStack()
        try:
            gates = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="turnproof-gates-"))
            self.llm = self._stack.enter_context(FakeLLM(Path(gates)))
            self.server = self._stack.enter_context(OpencodeServer(exe, self.llm.base_url, version=self.version))
        except BaseException:
            self._stack.close()
            raise
        self.http = Http(self.server.url)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def conform(self, design, scenario, schedule: str | None = None, runs: int = 1) -> ConformReport:
        """Drive `schedule` (default: the shortest driveable counterexample of the first violated
        property) `runs` times and compare each final message tree with the model's."""
        report, trace = prepare(design, scenario, schedule, self.version, runs, self.target)
        if scenario.instances > self.server.directories:
            raise HarnessError(
                f"scenario {scenario.name}: {scenario.instances} directory contexts; the server has "
                f"{self.server.directories}"
            )
        self.llm.tools_for = {p.name: p.tools for p in scenario.prompts}
        dirs = tuple(str(self.server.directory(k)) for k in range(1, self.server.directories))
        system = System(design, scenario)
        for n in range(1, runs + 1):
            for attempt in range(1, RETRIES + 2):
                try:
                    run = Driver(self.http, self.llm, system, trace, n, self.timeout, dirs).drive()
                except HarnessError as e:
                    raise HarnessError(f"run {n}: {e}") from None
                if not run.late or attempt > RETRIES:
                    break
                # the server minted an id too late for the paced clock: this drive did not test
                # the schedule; it is counted as discarded, never as agreement or disagreement
                report.discarded.append(f"run {n}, drive {attempt}: {run.late[0]}")
            report.runs.append(run)
        return report


def prepare(design, scenario, schedule: str | None, version: str, runs: int, target: Target | None = None):
    """The model side of a conformance case: checks, the schedule completed to rest, the report
    without runs yet, and the completed trace. With a `target` (a patched build or any
    executable) any design may be driven; the report names what ran."""
    if runs < 1:
        raise HarnessError(f"--runs: {runs}: expected at least 1")
    faithful = check_design(design) if target is None else ""
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
    if target is not None:
        report.target, report.note = target, target.note(design)
    elif FAITHFUL[faithful] != version:
        report.note = f"design {design.name} describes opencode {FAITHFUL[faithful]}, driven against {version}"
    return report, trace


def conform(
    design,
    scenario,
    schedule: str | None = None,
    version: str | None = None,
    runs: int = 1,
    timeout: float = STEP_TIMEOUT,
    binary: Path | None = None,
) -> ConformReport:
    """Drive the real opencode `version` through `schedule` `runs` times on a server of its own
    (see `Harness.conform`). `design` and `scenario` are loaded turnproof objects (specs.loader).
    `binary`: any executable that behaves like `opencode`; a design that is not its release's own
    is driven on the release patched with it (conform/target.py, conform/build)."""
    if design.engine == "inbox":  # the V2 route of 1.18.34: conform/inbox.py drives it
        from turnproof.conform.inbox import conform as conform_inbox

        return conform_inbox(design, scenario, schedule, version or "1.18.34", runs, timeout, binary)
    from turnproof.conform.target import given, resolve

    # bad input is refused before anything is fetched or built (any design may be patched)
    if binary is not None:
        target = given(binary, version)
        version = target.release
        prepare(design, scenario, schedule, version, runs, target)
    else:
        prepare(design, scenario, schedule, version or "1.15.4", runs, _ANY)
        version, binary, target = resolve(design, version)
    with Harness(version, binary, timeout, target) as h:
        return h.conform(design, scenario, schedule, runs)


class _Any:
    """Stands in for a target before it is built: prepare accepts any design, names nothing."""

    def note(self, design) -> str:
        return ""


_ANY = _Any()


def _uncontrolled(trace, scenario: Scenario) -> list[str]:
    seen = []
    before = trace.initial
    for step, after in trace.steps:
        refs = [e.ref for e in step.events]
        was = before.fiber(step.fiber)
        key = None
        if refs[0] == "loop.interrupted" or (was.kind == "run" and was.interrupt):
            key = "loop.interrupted"
        elif "llm.call" in refs:
            key = "loop.read"
        elif "loop.exit" in refs:
            key = "loop.exit"
        elif refs[0] == "runner.await":
            key = f"runner.await.{scenario.prompt(step.fiber).route}"
        elif refs[0] == "runner.idleIfCurrent":
            key = "abort.return"
        elif refs[0] == "shell.messages":
            key = "shell.messages"
        elif refs[0] in ("shell.done", "runner.finishShell") and was.interrupt:
            key = "shell.interrupted"
        if key and UNCONTROLLED[key] not in seen:
            seen.append(UNCONTROLLED[key])
        before = after
    if any(p.id == "client" for p in scenario.prompts):
        seen.append(UNCONTROLLED["clock"])
    return seen
