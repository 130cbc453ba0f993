"""Why the loop goes round or stops, and what a step means under the design that ran.

`reasons` replays a trace and, at every step that runs the loop's exit test (or the V2 drain's
continuation test), states the test's values on the world that step read: which ids were
compared, the newest assistant's finish, its tool parts. `gloss` is the "why it matters" line
of a kind of step, worded from the design's knob values, not from v1.15.4's.
"""

from __future__ import annotations

from turnproof.explore.views.glossary import GLOSS
from turnproof.model.config import Design
from turnproof.model.exittest import ExitTest
from turnproof.model.fibers import exit_at
from turnproof.model.ids import show
from turnproof.model.inbox import DrainTest, drain_at
from turnproof.model.source import ref
from turnproof.model.system import System
from turnproof.model.world import World

# "Why it matters" for the steps whose meaning depends on a knob: {action: (knob, {value: text})}.
BY_KNOB: dict[str, tuple[str, dict[str, str]]] = {
    "loop.exit": (
        "exit",
        {
            "id-order": "The loop decides the conversation is answered and stops. This design (exit = id-order, "
            "as opencode 1.15.4) decides by comparing ids: the newest assistant must have a finish other than "
            "tool-calls and no tool parts, and the newest user message's id must sort below its id.",
            "parent": "The loop decides the conversation is answered and stops. This design (exit = parent) "
            "decides by parentage: the newest assistant must have a finish other than tool-calls and no tool "
            "parts, and its parentID must be the user message the turn answers; ids are not compared.",
        },
    ),
    "prompt.user": (
        "exit",
        {
            "id-order": "The server saves the user message. Every message gets an id; ids sort by creation time "
            "on the clock that minted them. The server also stamps its own creation time, and reads the "
            "session's messages, and sends them to the model, in that order, while the loop's exit test "
            "compares ids (exit = id-order, as opencode 1.15.4).",
            "parent": "The server saves the user message. Every message gets an id; ids sort by creation time "
            "on the clock that minted them. The server also stamps its own creation time, and reads the "
            "session's messages, and sends them to the model, in that order; the loop's exit test looks at "
            "parentIDs, not at ids (exit = parent).",
        },
    ),
    "loop.read": (
        "order",
        {
            "id": "The loop reads the session's messages and picks the newest user message ('lastUser') and "
            "the newest assistant message ('lastAssistant'), newest by id (order = id, as opencode 1.15.4).",
            "created": "The loop reads the session's messages and picks the newest user message ('lastUser') "
            "and the newest assistant message ('lastAssistant'), newest by the server's creation time "
            "(order = created), ties by id.",
        },
    ),
    "loop.assistant": (
        "binding",
        {
            "iteration": "The loop creates a new assistant message; its parentID, the user message it answers, "
            "is whatever 'lastUser' was in this iteration (binding = iteration, as opencode 1.15.4).",
            "turn": "The loop creates a new assistant message; its parentID is the user message that opened "
            "the turn, kept through the turn's tool round-trips (binding = turn).",
            "pinned": "The loop creates a new assistant message; its parentID is the user message the loop "
            "pinned at its first read (binding = pinned, PR #28488).",
        },
    ),
    "runstate.onIdle": (
        "on_idle",
        {
            "delete-entry": "When a runner goes idle, the server deletes the session's entry from the runner "
            "map, whichever runner it holds by then (on_idle = delete-entry, as opencode 1.15.4).",
            "keep-entry": "When a runner goes idle, the server keeps the session's entry in the runner map "
            "(on_idle = keep-entry): the next prompt finds the same runner.",
        },
    ),
    "runstate.runner": (
        "runner_map",
        {
            "per-instance": "Each server instance keeps one runner per session in a map of its own "
            "(runner_map = per-instance, as opencode 1.15.4); a missing entry is created.",
            "per-process": "The whole server process keeps one runner per session in one map "
            "(runner_map = per-process); a missing entry is created.",
        },
    ),
    "runner.ensureRunning": (
        "overlap",
        {
            "join": "The runner is busy, so this request does not start anything: it waits for the loop "
            "already running and will return that loop's result (overlap = join, as opencode 1.15.4).",
            "queue": "The runner is busy, so this request queues a fresh run behind the one in flight and "
            "waits for its own run's result (overlap = queue).",
            "reject": "The runner is busy, so this request is rejected as busy (overlap = reject).",
        },
    ),
    "runner.cancel": (
        "cancel",
        {
            "idle-at-once": "The runner is cancelled: it becomes Idle at once and the loop is interrupted "
            "afterwards (cancel = idle-at-once, as opencode 1.15.4).",
            "after-interrupt": "The runner is cancelled: it stays busy until the interrupted loop has stopped "
            "and released it (cancel = after-interrupt).",
        },
    ),
}


def gloss(action: str, design: Design | None) -> str:
    """The "why it matters" line of a kind of step, under `design` (v1.15.4's words without one)."""
    if design is not None and action in BY_KNOB:
        knob, texts = BY_KNOB[action]
        return texts.get(getattr(design, knob), GLOSS.get(action, ""))
    return GLOSS.get(action, "")


def exit_words(test: ExitTest, cite: str, label) -> str:
    """One exit test in words: its values, and whether the loop goes round or stops."""
    last, user = test.assistant, test.user
    if last is None:
        return f"Exit test ({cite}): there is no assistant message yet, so the loop goes on."
    finish = f"finish {last.finish}" if last.finish else f"no finish yet (still being written by {last.source})"
    tools = f"{len(last.tools)} tool part(s)" if last.tools else "no tool parts"
    head = f"Exit test ({cite}): the newest assistant {last.label} has {finish}, {tools}"
    if test.rule == "parent":
        verb = "is" if test.matches else "is not"
        compared = f"its parentID {label(last.parent)} {verb} the user the turn answers, {label(test.bound)}"
    else:
        op = "<" if test.matches else "≥"
        compared = f"lastUser {user.label} (id {show(user.id)}) {op} lastAssistant {last.label} (id {show(last.id)})"
    if test.exits:
        return f"{head}; {compared}: the turn counts as answered, the loop stops."
    if not test.ended:
        blocker = "it has no finish yet" if not last.finish else "it has tool parts"
        blocker = "it ended in tool-calls" if last.finish == "tool-calls" else blocker
        return f"{head}; {compared}; {blocker}, so the loop goes round."
    return f"{head}; {compared}, so the turn does not count as answered: the loop goes round."


def drain_words(test: DrainTest) -> str:
    """The V2 drain's continuation test in words (SessionRunner.run, after runTurn returns)."""
    own = test.own
    steer = ", ".join(test.steer) or "none"
    queue = ", ".join(test.queue) or "none"
    return (
        f"Continuation test: {own.label} has finish {own.finish or 'none yet'}"
        f"{' (a tool call: the step goes on)' if own.finish == 'tool-calls' else ''}; steer inputs pending: {steer}; "
        f"queued inputs pending: {queue}."
    )


def reasons(system: System, schedule: list[str]) -> dict[int, str]:
    """{step number: the exit (or continuation) test it ran, in words}, replaying `schedule`."""
    out: dict[int, str] = {}
    cite = str(ref("loop.exit")) if system.design.exit == "id-order" else "on parentID, in place of prompt.ts:1672"
    w: World = system.initial()
    for i, name in enumerate(schedule, 1):
        test = exit_at(system.design, system.scenario, w, name)
        if test is not None:
            out[i] = exit_words(test, cite, lambda mid, w=w, test=test: _label(w, test, mid))
        drain = drain_at(system.design, w, name)
        if drain is not None:
            out[i] = drain_words(drain)
        _, w = system.apply(w, name)
    return out


def _label(w: World, test: ExitTest, mid) -> str:
    """A message's label: from the world before the step, or the user the step itself wrote."""
    if mid is None:
        return "-"
    if mid == test.user.id:
        return test.user.label
    m = next((m for m in w.store.messages if m.id == mid), None)
    return m.label if m else show(mid)
