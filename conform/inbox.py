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
the model's final store and inbox. The model side, the HTTP client, the trees and the report are
the legacy route's own (conform/schedule.py, http.py, tree.py, report.py); conform/harness.py runs both.
"""

from __future__ import annotations

import time

from turnproof.conform import HarnessError
from turnproof.conform.fakellm import MARKER, FakeLLM, prompt_text
from turnproof.conform.http import Http, Request, poll
from turnproof.conform.report import InboxReport, InboxRun
from turnproof.conform.schedule import complete, first_counterexample, violations
from turnproof.conform.tree import model_view, real_view
from turnproof.model import steps
from turnproof.model.config import Design, Scenario
from turnproof.model.inbox import delivery
from turnproof.model.system import System
from turnproof.model.world import World

VERSION = "1.18.34"  # the release the V2 inbox engine is modelled from
RELEASES = (VERSION, "1.19.5")  # 1.19.5 runs the same V2 code (docs/newest.md)


def check(design: Design, scenario: Scenario) -> None:
    """Refuse a scenario the V2 route cannot drive: one line naming the scenario and prompt."""
    if scenario.granularity != "await":
        raise HarnessError(f"scenario {scenario.name}: granularity {scenario.granularity}: only await steps are driven")
    for p in scenario.prompts:
        if p.route not in ("prompt", "prompt_async", "v2", "interrupt", "abort"):
            raise HarnessError(f"scenario {scenario.name}: prompt {p.name}: route {p.route} has no V2 counterpart")
        if not MARKER.fullmatch(f"[turnproof:{p.name}]"):
            raise HarnessError(
                f"scenario {scenario.name}: prompt {p.name}: name must be letters, digits, '_', '.', '-'"
            )


def prepare(design: Design, scenario: Scenario, schedule: str | None, version: str):
    """The model side of a V2 case: checks, the schedule completed to rest (every move of the
    model, no step held back), the report without runs yet, and the completed trace."""
    if version not in RELEASES:
        raise HarnessError(
            f"design {design.name}: the V2 inbox engine is modelled from {VERSION} (1.19.5 runs the same code): "
            f"pass --opencode-version {' or '.join(RELEASES)}"
        )
    check(design, scenario)
    system = System(design, scenario)
    schedule, origin = first_counterexample(system) if schedule is None else (schedule, "given")
    trace, completion = complete(system, schedule, rest=system)
    rows, pending = model_view(trace.final)
    report = InboxReport(
        design.name, scenario.name, version, schedule, origin, completion, violations(system, trace), rows, pending, []
    )
    return report, trace


def await_catalog(http: Http, timeout: float) -> None:
    """The V2 model catalog fills in after start-up; a drain before that fails with ModelUnavailable."""
    deadline = time.monotonic() + max(timeout, 60)
    while time.monotonic() < deadline:
        try:
            doc = http.call("GET", "/api/model")[1]
        except HarnessError:  # not serving the catalog yet
            doc = None
        if any(m.get("providerID") == "turnproof" for m in (doc or {}).get("data", [])):
            return
        time.sleep(0.2)
    raise HarnessError("the V2 model catalog never listed the fake model (GET /api/model)")


class Driver:
    """Drives one V2 session of a running server through a completed inbox-model trace."""

    def __init__(self, http: Http, llm: FakeLLM, system: System, trace, n: int, timeout: float):
        self.http, self.llm, self.system, self.trace, self.n, self.timeout = http, llm, system, trace, n, timeout
        self.sid = ""
        self.call = None  # the drain's held (or last) model call
        self.last = len(llm.calls)  # number of the last model call seen (earlier runs' calls are older)
        self.interrupts: dict[str, Request] = {}  # client fiber -> its open interrupt request
        self.requests = 0  # model calls compared
        self.mismatch: list[str] = []  # requests whose prompts differ from the model's

    def wait(self, pred, what: str) -> None:
        if not poll(pred, self.timeout):
            raise HarnessError(f"timed out waiting for {what}")

    def active(self) -> bool:
        doc = self.http.call("GET", "/api/session/active")[1]
        return self.sid in (doc or {}).get("data", {})

    def drive(self) -> InboxRun:
        """Drive every step, wait for rest, and compare the rows and pending inputs with the model's."""
        started = time.monotonic()
        doc = self.http.call("POST", "/api/session", {"model": {"id": "turnproof-fake", "providerID": "turnproof"}})[1]
        self.sid = doc["data"]["id"]
        for i, (step, after) in enumerate(self.trace.steps, 1):
            self.step(i, step, after)
        self.wait(lambda: not self.active(), "the session's drain to finish")
        for req in self.interrupts.values():
            req.join(self.timeout)
        msgs = self.http.call("GET", f"/api/session/{self.sid}/message?order=asc&limit=200")[1]
        hist = self.http.call("GET", f"/api/session/{self.sid}/history")[1]
        rows, pending = real_view((msgs or {}).get("data", []), (hist or {}).get("data", []))
        run = InboxRun(self.n, rows, pending, time.monotonic() - started, diff=list(self.mismatch))
        run.requests = self.requests
        model_rows, model_pending = model_view(self.trace.final)
        if rows != model_rows:
            run.diff.append(f"messages differ: model {model_rows}, real {rows}")
        if pending != model_pending:
            run.diff.append(f"pending inputs differ: model {model_pending}, real {pending}")
        return run

    def step(self, i: int, step, after: World) -> None:
        refs = [e.ref for e in step.events]
        p = self.system.scenario.prompt(step.fiber) if not steps.is_loop_fiber(step.fiber) else None
        if steps.V2_ROUTE_PROMPT in refs:
            body = {"prompt": {"text": prompt_text(p.name)}}
            if p.delivery != "none":
                body["delivery"] = delivery(self.system.design, p)
            if not (p.resume and not p.no_reply):
                body["resume"] = False
            try:
                self.http.call("POST", f"/api/session/{self.sid}/prompt", body)
            except HarnessError as e:
                raise HarnessError(f"step {i}: prompt {p.name}: {e}") from None
        elif steps.V2_ROUTE_INTERRUPT in refs:
            path = f"/api/session/{self.sid}/interrupt"
            self.interrupts[step.fiber] = Request(self.http, step.fiber, "POST", path)
        elif steps.V2_INTERRUPT_DONE in refs:
            req = self.interrupts.pop(step.fiber)
            if req.join(self.timeout) and req.error:
                raise HarnessError(f"step {i}: {step.fiber}: {req.error}")
        if steps.V2_REQUEST in refs:
            call = self.llm.wait_call(self.timeout, after=self.last)
            if call is None:
                raise HarnessError(f"step {i}: the drain's model call did not arrive")
            self.call, self.last = call, call.n
            fiber = after.fiber(step.fiber)
            seen = [after.store.get(m).label for m in fiber.seen if after.store.get(m).role == "user"]
            self.requests += 1
            if seen != call.users:
                self.mismatch.append(f"step {i}: the model's request read {seen}, the real one carried {call.users}")
        if steps.V2_ASSISTANT in refs:
            self.llm.release(self.call)
        if steps.V2_TOOL_CALL in refs:
            self.wait(lambda: self.llm.tool_started(self.call.tool), f"tool {self.call.tool} to start")
        if steps.V2_FINISH in refs:
            self.wait(lambda: self.call.answered is not None, "the reply to be streamed")
        if steps.V2_TOOL_RESULT in refs:
            self.llm.release_tool(self.call.tool)
        if steps.V2_DRAIN_EXIT in refs and after.inbox.entry is None:
            self.wait(lambda: not self.active(), "the drain to end")
