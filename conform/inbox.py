"""Drive the real opencode 1.18.34 V2 engine (POST /api/session/:id/prompt) through an inbox-model schedule.

Each model step has a real counterpart the harness controls or waits for:

- client send (`v2.route.prompt`) -> `POST /api/session/{id}/prompt` with the prompt's delivery; the
  route answers 200 with the Admitted record once the input is in `session_input` (controlled).
- client send (`v2.route.interrupt`) -> `POST /api/session/{id}/interrupt`, in a thread; the client's
  next step (`v2.interrupt.done`) joins it: the route returns once the drain has stopped.
- a drain step that promotes and calls the model (`v2.request`) -> NOT controllable: the real drain
  does it at once; the harness waits until the call is held at the fake LLM's gate and compares the
  prompts the request carries with those the model's request read.
- `v2.assistant` (first content) -> the held call is released; `v2.tool_call` -> wait until the tool
  runs; `v2.finish` -> wait until the reply was streamed; `v2.tool_result` -> the tool's gate opens.
- a drain step that ends or unwinds the drain (`v2.drain.exit`) -> wait until the session is no
  longer in `GET /api/session/active`.

At rest the harness reads `GET /api/session/{id}/message?order=asc` (the seq-ordered messages) and the
durable history (`/history`: admitted inputs never promoted are still pending) and compares them with
the model's final store and inbox. This module owns the V2 path; conform/drive.py only dispatches here.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from turnproof.conform import Agreement, HarnessError
from turnproof.conform.fakellm import MARKER, FakeLLM, prompt_text
from turnproof.model.config import Design, Scenario
from turnproof.model.inbox import delivery, history
from turnproof.model.store import ASSISTANT
from turnproof.model.system import System
from turnproof.model.world import World

STEP_TIMEOUT = 30.0
INBOX_RELEASES = ("1.18.34", "1.19.5")  # the V2 engine read in 1.18.34; 1.19.5 runs the same code (docs/newest.md)
UNCONTROLLED = {
    "v2.request": "the drain's promotion, request build and model call run at once after the previous step (no gate)",
    "v2.drain.exit": "the drain's exit test and the coordinator's exit handler run at once (no gate)",
}


# --- the model side ------------------------------------------------------------------------


def check(design: Design, scenario: Scenario) -> None:
    if scenario.granularity != "await":
        raise HarnessError(f"scenario {scenario.name}: granularity {scenario.granularity}: only await steps are driven")
    for p in scenario.prompts:
        if p.route not in ("prompt", "prompt_async", "v2", "interrupt", "abort"):
            raise HarnessError(f"scenario {scenario.name}: prompt {p.name}: route {p.route} has no V2 counterpart")
        if not MARKER.fullmatch(f"[turnproof:{p.name}]"):
            raise HarnessError(
                f"scenario {scenario.name}: prompt {p.name}: name must be letters, digits, '_', '.', '-'"
            )


def model_view(w: World) -> tuple[list[str], list[str]]:
    """The final store as the harness compares it: each message in seq order, and pending inputs."""
    rows = []
    for m in history(w):
        if m.role == ASSISTANT:
            tools = f" tools={','.join(p.status for p in m.tools)}" if m.tools else ""
            rows.append(f"assistant finish={m.finish or 'none'}{tools}{' error' if m.error else ''}")
        else:
            rows.append(f"user {m.label}")
    pending = sorted(r.name for r in w.inbox.rows if r.pending)
    return rows, pending


def default_schedule(system: System) -> tuple[str, str]:
    from turnproof.explore.search.bfs import bfs
    from turnproof.specs.properties import PROPERTIES

    res = bfs(system, PROPERTIES)
    for p in PROPERTIES:
        f = res.findings.get(p.name)
        if f is not None and not f.trace.lasso:
            return f.trace.schedule, f"shortest counterexample of {p.name}"
    raise HarnessError(f"{system.design.name} × {system.scenario.name}: nothing violated; give --schedule")


def complete(system: System, schedule: str):
    """Replay `schedule`, then run to rest: drains first (lowest first), then clients in order."""
    from turnproof.explore.search.trace import Trace, encode, replay

    try:
        trace = replay(system, schedule)
    except ValueError as e:
        raise HarnessError(f"schedule {schedule!r} does not apply: {e}") from None
    steps, w, added = list(trace.steps), trace.final, []
    order = {p.name: i for i, p in enumerate(system.scenario.prompts)}
    while True:
        fs = system.enabled(w)
        if not fs:
            break
        f = min(fs, key=lambda f: (f.kind != "run", order.get(f.name, 0), f.name))
        step, w = system.apply(w, f.name)
        steps.append((step, w))
        added.append(f.name)
    full = Trace(system.initial(), tuple(steps)) if added else trace
    return full, encode(added)


def violations(system: System, trace) -> list[str]:
    from turnproof.specs.inbox import promised
    from turnproof.specs.properties import PROPERTIES

    out = []
    for p in PROPERTIES:
        if p.check is None:
            continue
        for i, (_, w) in enumerate(trace.steps, 1):
            at_rest = i == len(trace.steps)
            if p.when == "always" or (p.when == "at_rest" and at_rest):
                v = p.check(w)
                if v:
                    note = "" if promised(system.design, p.name) else " [not promised by steer delivery]"
                    out.append(f"{p.name} ({'at rest' if p.when == 'at_rest' else f'step {i}'}): {v.says}{note}")
                    break
    return out


# --- the real side -------------------------------------------------------------------------


class Api:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body=None, timeout: float = 30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")[:300]
        except (urllib.error.URLError, OSError) as e:
            raise HarnessError(f"{method} {path}: {e}") from None


@dataclass
class Run:
    n: int
    rows: list[str]
    pending: list[str]
    seconds: float
    diff: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0  # model calls whose prompts were compared with the model's request

    @property
    def conforms(self) -> bool:
        return not self.diff

    def to_json(self) -> dict:
        return {
            "run": self.n,
            "conforms": self.conforms,
            "seconds": round(self.seconds, 2),
            "messages": self.rows,
            "pending": self.pending,
            "requests_compared": self.requests,
            "diff": self.diff,
            "notes": self.notes,
        }


def real_view(msgs: list[dict], events: list[dict]) -> tuple[list[str], list[str]]:
    rows = []
    for m in msgs:
        if m.get("type") == "user":
            marks = MARKER.findall(str(m.get("text", "")))
            rows.append(f"user {marks[-1] if marks else '?'}")
        elif m.get("type") == "assistant":
            tools = [c.get("state", {}).get("status") for c in m.get("content") or [] if c.get("type") == "tool"]
            finish = m.get("finish") or "none"
            err = " error" if m.get("error") else ""
            rows.append(f"assistant finish={finish}{f' tools={chr(44).join(tools)}' if tools else ''}{err}")
    admitted, promoted = {}, set()
    for e in events:
        d = e.get("data") or {}
        if e.get("type") == "session.next.prompt.admitted":
            marks = MARKER.findall(json.dumps(d.get("prompt")))
            admitted[d.get("messageID")] = marks[-1] if marks else "?"
        elif e.get("type") == "session.next.prompted":
            promoted.add(d.get("messageID"))
    return rows, sorted(name for mid, name in admitted.items() if mid not in promoted)


class Driver:
    def __init__(self, api: Api, llm: FakeLLM, system: System, trace, n: int, timeout: float):
        self.api, self.llm, self.system, self.trace, self.n, self.timeout = api, llm, system, trace, n, timeout
        self.sid = ""
        self.call = None  # the drain's held (or last) model call
        self.last = len(llm.calls)  # number of the last model call seen (earlier runs' calls are older)
        self.threads: dict[str, threading.Thread] = {}
        self.notes: list[str] = []
        self.requests = 0  # model calls compared
        self.mismatch: list[str] = []  # requests whose prompts differ from the model's

    def wait(self, pred, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.05)
        raise HarnessError(f"timed out waiting for {what}")

    def active(self) -> bool:
        code, doc = self.api.call("GET", "/api/session/active")
        return code == 200 and self.sid in (doc or {}).get("data", {})

    def drive(self) -> Run:
        started = time.monotonic()
        code, doc = self.api.call(
            "POST", "/api/session", {"model": {"id": "turnproof-fake", "providerID": "turnproof"}}
        )
        if code != 200:
            raise HarnessError(f"POST /api/session answered {code}: {doc}")
        self.sid = doc["data"]["id"]
        for i, (step, after) in enumerate(self.trace.steps, 1):
            self.step(i, step, after)
        self.wait(lambda: not self.active(), "the session's drain to finish")
        for t in self.threads.values():
            t.join(self.timeout)
        _, msgs = self.api.call("GET", f"/api/session/{self.sid}/message?order=asc&limit=200")
        _, hist = self.api.call("GET", f"/api/session/{self.sid}/history")
        rows, pending = real_view((msgs or {}).get("data", []), (hist or {}).get("data", []))
        run = Run(self.n, rows, pending, time.monotonic() - started, diff=list(self.mismatch), notes=self.notes)
        run.requests = self.requests
        return run

    def step(self, i: int, step, after: World) -> None:
        refs = [e.ref for e in step.events]
        p = self.system.scenario.prompt(step.fiber) if not step.fiber.startswith("r") else None
        if "v2.route.prompt" in refs:
            body = {"prompt": {"text": prompt_text(p.name)}}
            if p.delivery != "none":
                body["delivery"] = delivery(self.system.design, p)
            if not (p.resume and not p.no_reply):
                body["resume"] = False
            code, doc = self.api.call("POST", f"/api/session/{self.sid}/prompt", body)
            if code != 200:
                raise HarnessError(f"step {i}: POST prompt {p.name} answered {code}: {doc}")
        elif "v2.route.interrupt" in refs:
            t = threading.Thread(target=self.api.call, args=("POST", f"/api/session/{self.sid}/interrupt"), daemon=True)
            t.start()
            self.threads[step.fiber] = t
        elif "v2.interrupt.done" in refs:
            self.threads.pop(step.fiber).join(self.timeout)
        if "v2.request" in refs:
            call = self.llm.wait_call(self.timeout, after=self.last)
            if call is None:
                raise HarnessError(f"step {i}: the drain's model call did not arrive")
            self.call, self.last = call, call.n
            fiber = after.fiber(step.fiber)
            seen = [after.store.get(m).label for m in fiber.seen if after.store.get(m).role == "user"]
            self.requests += 1
            if seen != call.users:
                self.mismatch.append(f"step {i}: the model's request read {seen}, the real one carried {call.users}")
        if "v2.assistant" in refs:
            self.llm.release(self.call)
        if "v2.tool_call" in refs:
            self.wait(lambda: self.llm.tool_started(self.call.tool), f"tool {self.call.tool} to start")
        if "v2.finish" in refs:
            self.wait(lambda: self.call.answered is not None, "the reply to be streamed")
        if "v2.tool_result" in refs:
            self.llm.release_tool(self.call.tool)
        if "v2.drain.exit" in refs and after.inbox.entry is None:
            self.wait(lambda: not self.active(), "the drain to end")


# --- the report ----------------------------------------------------------------------------


@dataclass
class InboxReport(Agreement):
    design: str
    scenario: str
    version: str
    schedule: str
    origin: str
    completion: str
    model_violations: list[str]
    model_rows: list[str]
    model_pending: list[str]
    runs: list[Run]

    def to_json(self) -> dict:
        return {
            "design": self.design,
            "scenario": self.scenario,
            "opencode": self.version,
            "engine": "inbox",
            "schedule": self.schedule,
            "schedule_origin": self.origin,
            "completion": self.completion,
            "verdict": "conforms" if self.conforms else "disagrees",
            "agreement": {"runs": len(self.runs), "conform": self.agree},
            "model": {"violations": self.model_violations, "messages": self.model_rows, "pending": self.model_pending},
            "uncontrolled": list(UNCONTROLLED.values()),
            "runs": [r.to_json() for r in self.runs],
        }

    def text(self) -> str:
        full = ",".join(x for x in (self.schedule, self.completion) if x)
        lines = [
            f"design {self.design} × scenario {self.scenario} against the real opencode {self.version} (V2 route)",
            f"schedule: {self.schedule} ({self.origin})",
        ]
        if self.completion:
            lines.append(f"  completed to rest by the model with {self.completion}: {full}")
        lines.append("model: violated" if self.model_violations else "model: clean (no property violated)")
        lines += [f"  ✗ {v}" for v in self.model_violations]
        right = self.runs[0].rows if self.runs else []
        width = max([len("model (seq order)") + 2] + [len(x) + 2 for x in self.model_rows])
        lines.append(f"  {'model (seq order)'.ljust(width)}| real opencode {self.version} (run 1)")
        for i in range(max(len(self.model_rows), len(right))):
            a = self.model_rows[i] if i < len(self.model_rows) else ""
            b = right[i] if i < len(right) else ""
            lines.append(f"  {a.ljust(width)}| {b}")
        real_pending = self.runs[0].pending if self.runs else []
        lines.append(
            f"  pending in session_input: model {self.model_pending or 'none'} | real {real_pending or 'none'}"
        )
        for r in self.runs:
            said = f"{r.requests} model request(s) compared"
            lines.append(f"run {r.n}: {'conforms' if r.conforms else 'DIFFERS'} ({r.seconds:.1f}s; {said})")
            lines += [f"  {d}" for d in r.diff] + [f"  note: {x}" for x in r.notes]
        verdict = "real and model agree" if self.conforms else "real and model DISAGREE"
        lines.append(f"agreement: {self.agree}/{len(self.runs)} runs conform — {verdict}")
        lines.append("not controllable on the real server (waited for, not held):")
        lines += [f"  - {u}" for u in UNCONTROLLED.values()]
        return "\n".join(lines)


def conform(
    design: Design,
    scenario: Scenario,
    schedule: str | None = None,
    version: str = "1.18.34",
    runs: int = 1,
    timeout: float = STEP_TIMEOUT,
    binary: Path | None = None,
) -> InboxReport:
    """Drive the real V2 engine through `schedule` `runs` times; compare messages and pending inputs."""
    from turnproof.conform.server import OpencodeServer, fetch_binary

    if runs < 1:
        raise HarnessError(f"--runs: {runs}: expected at least 1")
    if version not in INBOX_RELEASES:
        raise HarnessError(
            f"design {design.name}: the V2 inbox engine is modelled from 1.18.34 (1.19.5 runs the same code): "
            "pass --opencode-version 1.18.34 or 1.19.5"
        )
    check(design, scenario)
    system = System(design, scenario)
    schedule, origin = default_schedule(system) if schedule is None else (schedule, "given")
    trace, completion = complete(system, schedule)
    rows, pending = model_view(trace.final)
    report = InboxReport(
        design.name, scenario.name, version, schedule, origin, completion, violations(system, trace), rows, pending, []
    )
    exe = Path(binary) if binary else fetch_binary(version)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="turnproof-gates-") as gates:
        tools_for = {p.name: p.tools for p in scenario.prompts}
        with FakeLLM(Path(gates), tools_for) as llm, OpencodeServer(exe, llm.base_url, version=version) as srv:
            # an interrupted drain drops its held model call: the fake LLM's reset connection is expected
            llm.httpd.handle_error = lambda *args: None
            report.version = srv.ran or version  # labelled by what ran (`opencode --version`)
            api = Api(srv.url)
            _await_catalog(api, timeout)
            for n in range(1, runs + 1):
                try:
                    run = Driver(api, llm, system, trace, n, timeout).drive()
                except HarnessError as e:
                    raise HarnessError(f"run {n}: {e}") from None
                if run.rows != rows:
                    run.diff.append(f"messages differ: model {rows}, real {run.rows}")
                if run.pending != pending:
                    run.diff.append(f"pending inputs differ: model {pending}, real {run.pending}")
                report.runs.append(run)
    return report


def _await_catalog(api: Api, timeout: float) -> None:
    """The V2 model catalog fills in after start-up; a drain before that fails with ModelUnavailable."""
    deadline = time.monotonic() + max(timeout, 60)
    while time.monotonic() < deadline:
        code, doc = api.call("GET", "/api/model")
        if code == 200 and any(m.get("providerID") == "turnproof" for m in (doc or {}).get("data", [])):
            return
        time.sleep(0.2)
    raise HarnessError("the V2 model catalog never listed the fake model (GET /api/model)")
