"""The model side of a conformance case: which designs, scenarios and schedules the real server
can be held to, how a schedule is completed to rest, and what the model says of the run.

Both drivers use it: the legacy route (conform/drive.py) and the V2 inbox route (conform/inbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from turnproof.conform import HarnessError
from turnproof.conform.fakellm import MARKER
from turnproof.model import steps
from turnproof.model.config import Design, Scenario
from turnproof.model.system import System
from turnproof.model.world import World

SUPPORTED_ROUTES = ("prompt", "prompt_async", "shell", "abort")
MAX_COMPLETION = 200  # model steps to bring a schedule to rest
# The designs that describe a shipped release, and the release each describes.
FAITHFUL = {"v1.15.4": "1.15.4", "upstream-1.18.34": "1.18.34", "upstream-1.19.5": "1.19.5"}

# Model step kinds that have no controllable real counterpart, said once per report.
UNCONTROLLED = {
    steps.LOOP_READ: "the loop's read, assistant write and model call run at once after the previous step (no gate)",
    steps.LOOP_EXIT: "the loop's exit test and finishRun run at once after the previous step (no gate)",
    "runner.await.prompt_async": "prompt_async's await has no real counterpart: the route answered 204 at once",
    "runner.await.prompt": "the blocking /message request's return is awaited, not controlled",
    steps.LOOP_INTERRUPTED: "the interrupted loop unwinds inside the abort request (Fiber.interrupt runs it inline)",
    "abort.return": "the abort request returns when the whole cancel has finished: awaited, not controlled",
    steps.SHELL_MESSAGES: "the shell's user message, assistant and running bash part are written at once (no gate)",
    "shell.interrupted": "an aborted shell's command is killed and its part completed inside the abort request",
    "clock": "client-minted ids: the model's clock is paced in real time (conform/clock.py), not held",
}
# The same for the V2 route (conform/inbox.py), said in every V2 report.
UNCONTROLLED_V2 = {
    steps.V2_REQUEST: "the drain's promotion, request build and model call run at once after the previous step "
    "(no gate)",
    steps.V2_DRAIN_EXIT: "the drain's exit test and the coordinator's exit handler run at once (no gate)",
}


def _knobs(design: Design) -> dict:
    return {f.name: getattr(design, f.name) for f in fields(Design) if f.name not in ("name", "description", "path")}


def check_design(design: Design) -> str:
    """Only a design that describes a shipped release can be compared with the real server: the
    name of the faithful design it equals (v1.15.4, upstream-1.18.34 or upstream-1.19.5; its own name
    first: upstream-1.19.5 has the knobs of upstream-1.18.34)."""
    from turnproof.specs.loader import load_design

    for name in sorted(FAITHFUL, key=lambda n: n != design.name):
        if _knobs(design) == _knobs(load_design(name)):
            return name
    base = _knobs(load_design("v1.15.4"))
    changed = [k for k, v in _knobs(design).items() if v != base[k]]
    raise HarnessError(
        f"design {design.name}: only the v1.15.4 design or upstream-1.18.34 (or upstream-1.19.5) describe a release "
        f"that can be conformed against the real server (this one changes {', '.join(changed)} from v1.15.4)"
    )


def release(design: Design) -> str | None:
    """The release a design names when it is a release's own (upstream-1.19.5 is 1.19.5, though its
    knobs are 1.18.34's) or an inbox variant of one (its base's); None: conform's default decides."""
    if design.name in FAITHFUL:
        return FAITHFUL[design.name]
    if design.engine == "inbox" and design.base in FAITHFUL:
        return FAITHFUL[design.base]
    return None


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
        if scenario.mints_apart(p):
            raise HarnessError(
                f"{where}: messageIDs from two client clocks: the harness mints on one client clock, so it "
                "cannot choose which of two readings in one tick sorts first"
            )
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


def complete(system: System, schedule: str, rest: System | None = None):
    """Replay `schedule`, then run to rest by the moves of `rest` (default: `Eager`, a step the
    real server takes at once first): loop fibers (lowest first), then clients in order.

    Returns (trace, completion schedule). The completion is the model's own choice of how the
    rest of the run goes when the real server is left to itself after the schedule. A run that
    outgrows the scenario's bound (a loop that runs away) stops there: `cut(system, trace)`; one
    that takes more than MAX_COMPLETION steps to rest is refused.
    """
    from turnproof.explore.search.trace import Trace, encode, replay

    try:
        trace = replay(system, schedule)
    except ValueError as e:
        raise HarnessError(f"schedule {schedule!r} does not apply: {e}") from None
    rest = Eager(system.design, system.scenario) if rest is None else rest
    path = list(trace.steps)
    w = trace.final
    added: list[str] = []
    order = {p.name: i for i, p in enumerate(system.scenario.prompts)}
    while not system.bounded_out(w):
        enabled = rest.enabled(w)
        if not enabled:
            break
        if len(added) >= MAX_COMPLETION:
            raise HarnessError(
                f"schedule {schedule!r} does not come to rest within {MAX_COMPLETION} more steps: "
                "a run that never ends cannot be compared"
            )
        runs = sorted(
            (f for f in enabled if f.kind == "run"),
            key=lambda f: steps.run_of(f.name) if steps.is_loop_fiber(f.name) else 0,
        )
        f = runs[0] if runs else min(enabled, key=lambda f: order.get(f.prompt, 99))
        step, w = system.apply(w, f.name)
        path.append((step, w))
        added.append(f.name)
    return Trace(trace.initial, tuple(path)), encode(added)


def cut(system: System, trace) -> bool:
    """Did the completed run stop at the scenario's bound rather than at rest?"""
    return system.bounded_out(trace.final) and bool(system.enabled(trace.final))


def violations(system: System, trace) -> list[str]:
    """Every property the (completed) trace violates: on the way, or at rest at its end. A
    property the design does not promise (specs/inbox.py) is said so."""
    from turnproof.specs.inbox import promised
    from turnproof.specs.properties import PROPERTIES

    def found(p, where: str, v) -> str:
        note = "" if promised(system.design, p.name) else " [not promised by steer delivery]"
        return f"{p.name} ({where}): {v.says}{note}"

    out = []
    for p in PROPERTIES:
        if p.when == "always":
            for i, (_, w) in enumerate(trace.steps, 1):
                v = p.check(w)
                if v:
                    out.append(found(p, f"step {i}", v))
                    break
        elif p.when == "at_rest" and not system.enabled(trace.final):
            v = p.check(trace.final)
            if v:
                out.append(found(p, "at rest", v))
    if cut(system, trace):
        out.append(
            f"runs away: the run has not come to rest at the bound of {system.scenario.max_messages} messages "
            "(compared there, then the real session is aborted)"
        )
    return out


def default_schedule(system: System) -> tuple[str, str]:
    """For a scenario named for a feature (conform/feature.py), the shortest driveable schedule
    that exercises it; else the shortest counterexample of the first violated (non-lasso)
    property, else a clean run."""
    from turnproof.conform.feature import feature_schedule

    return feature_schedule(Eager(system.design, system.scenario)) or schedules(system)[0]


def first_counterexample(system: System) -> tuple[str, str]:
    """The V2 route's default: the shortest counterexample of the first violated (non-lasso)
    property among all of the model's schedules; a pair that violates nothing needs --schedule."""
    from turnproof.explore.search.bfs import bfs
    from turnproof.specs.properties import PROPERTIES

    res = bfs(system, PROPERTIES)
    for p in PROPERTIES:
        f = res.findings.get(p.name)
        if f is not None and not f.trace.lasso:
            return f.trace.schedule, f"shortest counterexample of {p.name}"
    raise HarnessError(f"{system.design.name} × {system.scenario.name}: nothing violated; give --schedule")


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


def uncontrolled(trace, scenario: Scenario) -> list[str]:
    """What of the completed trace the real server takes by itself: said once per report."""
    seen = []
    before = trace.initial
    for step, after in trace.steps:
        refs = [e.ref for e in step.events]
        was = before.fiber(step.fiber)
        key = None
        if refs[0] == steps.LOOP_INTERRUPTED or (was.kind == "run" and was.interrupt):
            key = steps.LOOP_INTERRUPTED
        elif steps.LLM_CALL in refs:
            key = steps.LOOP_READ
        elif steps.LOOP_EXIT in refs:
            key = steps.LOOP_EXIT
        elif refs[0] == steps.RUNNER_AWAIT:
            key = f"{steps.RUNNER_AWAIT}.{scenario.prompt(step.fiber).route}"
        elif refs[0] == steps.RUNNER_IDLE_IF_CURRENT:
            key = "abort.return"
        elif refs[0] == steps.SHELL_MESSAGES:
            key = steps.SHELL_MESSAGES
        elif refs[0] in (steps.SHELL_DONE, steps.RUNNER_FINISH_SHELL) and was.interrupt:
            key = "shell.interrupted"
        if key and UNCONTROLLED[key] not in seen:
            seen.append(UNCONTROLLED[key])
        before = after
    if any(p.id == "client" for p in scenario.prompts):
        seen.append(UNCONTROLLED["clock"])
    return seen
