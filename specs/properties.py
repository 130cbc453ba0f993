"""The properties turnproof checks: the seed's two invariants and what a user sees in the store.

`always` properties hold in every reachable state; `at_rest` properties are judged only in
quiescent states (no fiber can move), since a reply may still be on its way before that;
`liveness` (loop-terminates) is judged on cycles of the state graph.
Each check returns None when it holds, or a Violation naming the messages involved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from turnproof.model import question, steps
from turnproof.model.ids import Id
from turnproof.model.store import ASSISTANT, TOOL_CALLS, USER, Message
from turnproof.model.world import World


@dataclass(frozen=True)
class Violation:
    says: str
    nodes: tuple[int, ...]  # message ids to highlight


@dataclass(frozen=True)
class Property:
    name: str
    when: str  # "always" | "at_rest" | "liveness" (judged on cycles, by explore/search/liveness.py)
    statement: str
    check: Callable[[World], Violation | None] | None = None
    # Kinds of footprint location the check reads (model/footprint.py), for the reduced searches:
    # a step that writes one of them is visible. None: unknown, so every step counts as visible.
    reads: tuple[str, ...] | None = None


def _by_run(w: World, run: int) -> list[Message]:
    return [m for m in w.store.messages if m.role == ASSISTANT and m.source == f"r{run}"]


def turn_binding(w: World) -> Violation | None:
    """Every assistant a run writes during an open turn has parentID = the turn's user."""
    for t in w.turns:
        for m in _by_run(w, t.run):
            if m.seq >= t.since and m.parent != t.user:
                u, p = w.store.get(t.user), w.store.get(m.parent)
                return Violation(
                    f"{m.label} continues the turn opened by {u.label} but its parentID is {p.label}",
                    (m.id, t.user, m.parent),
                )
    return None


def turn_serialization(w: World) -> Violation | None:
    """While a turn is open, no other turn runs and no other prompt's user message is written
    (noReply context injections start no turn and are not counted)."""
    if len(w.turns) > 1:
        a, b = w.turns[0], w.turns[1]
        return Violation(
            f"loops r{a.run} and r{b.run} have turns open at once "
            f"(for {w.store.get(a.user).label} and {w.store.get(b.user).label})",
            (a.user, b.user),
        )
    for t in w.turns:
        for m in w.store.messages:
            if m.role == USER and m.seq >= t.since and not m.no_reply:
                return Violation(
                    f"{m.label} was written while r{t.run}'s turn for {w.store.get(t.user).label} was open",
                    (m.id, t.user),
                )
    return None


def no_terminal_siblings(w: World) -> Violation | None:
    """No two assistants with a finish other than tool-calls share a parentID."""
    seen: dict[Id | None, Message] = {}
    for m in w.store.messages:
        if m.terminal:
            if m.parent in seen:
                first = seen[m.parent]
                return Violation(
                    f"{first.label} and {m.label} both end a turn under {w.store.get(m.parent).label}",
                    (first.id, m.id, m.parent),
                )
            seen[m.parent] = m
    return None


def _cancelled(w: World, source: str) -> bool:
    """A run the user aborted (its done failed with Cancelled), or a prompt whose request awaited
    such a run (it returns the aborted assistant, or whatever is newest: the client sees the abort)."""
    if steps.is_loop_fiber(source):
        return w.run(steps.run_of(source)).done == "cancelled"
    return any(f.prompt == source and _awaited_cancelled(w, f) for f in w.fibers if f.kind == "client")


def _awaited_cancelled(w: World, f) -> bool:
    """A prompt's request that awaited a run an abort cancelled: it returned (the aborted
    assistant, or whatever is newest), and its client saw the session error."""
    return f.ended and f.run > 0 and f.result != "busy" and w.run(f.run).done == "cancelled"


def _users_call(w: World, m: Message) -> bool:
    """The user's turn stopped or waits on its user's own call: a question or permission tool it
    asked is still waiting for the answer, or the user rejected it (the loop stops by design)."""
    for c in w.store.children(m.id):
        if any(p.status == question.REJECTED for p in c.tools):
            return True
        if steps.is_loop_fiber(c.source) and question.asking(w, steps.run_of(c.source)):
            return True
    return False


def _user_of(w: World, prompt: str) -> Message | None:
    for m in w.store.messages:
        if m.role == USER and m.label == prompt and not m.synthetic:
            return m
    return None


def tool_followup(w: World) -> Violation | None:
    """At rest, every tool-calls assistant is followed by a later assistant under the same parent,
    unless the run that wrote it was cancelled by an abort, or its user rejected the tool."""
    msgs = w.store.messages
    for m in msgs:
        if m.role == ASSISTANT and m.finish == TOOL_CALLS and not _cancelled(w, m.source):
            if any(p.status == question.REJECTED for p in m.tools):
                continue
            if not any(n.role == ASSISTANT and n.parent == m.parent and n.seq > m.seq for n in msgs):
                return Violation(
                    f"{m.label} (tool-calls) under {w.store.get(m.parent).label} got no model reply under that user",
                    (m.id, m.parent),
                )
    return None


def prompt_answered(w: World) -> Violation | None:
    """At rest, every user prompt has a reply (a completed assistant that is not a tool
    round-trip), unless its request was told that an abort cancelled it, or its turn stopped on or
    waits for its user's answer to a question or permission; noReply context is exempt."""
    for m in w.store.messages:
        if m.role != USER or m.no_reply or _cancelled(w, m.label) or _users_call(w, m):
            continue
        if not any(c.answers for c in w.store.children(m.id)):
            return Violation(f"user message {m.label} has no reply", (m.id,))
    return None


def own_reply(w: World) -> Violation | None:
    """At rest, a blocking prompt request (the /message route) returns the reply to its own message: an
    assistant whose parentID is that request's user message, unless an abort cancelled its run
    or the server refused it (busy, which its client sees)."""
    for f in w.fibers:
        if f.route != "prompt" or f.no_reply or not f.ended or f.result == "busy" or _awaited_cancelled(w, f):
            continue
        mine = _user_of(w, f.prompt)
        got = next((m for m in w.store.messages if m.label == f.result), None)
        if mine is not None and got is not None and got.role == ASSISTANT and got.parent == mine.id:
            continue
        under = f" (a reply to {w.store.get(got.parent).label})" if got is not None and got.parent else ""
        return Violation(
            f"{f.prompt}'s /message request returned {f.result}{under}, not a reply to {f.prompt}",
            tuple(x.id for x in (mine, got) if x is not None),
        )
    return None


def no_silent_drop(w: World) -> Violation | None:
    """At rest, every prompt the server accepted (a 204 from prompt_async included) has a reply
    to its user message, or its client saw a failure: a /message request refused as busy, or a
    run the user aborted; or its turn stopped on or waits for its user's answer to a question.
    noReply context is exempt."""
    for f in w.fibers:
        if f.route not in ("prompt", "prompt_async") or f.no_reply or f.prompt not in w.sent:
            continue
        if (f.route == "prompt" and f.result == "busy") or _awaited_cancelled(w, f):
            continue
        mine = _user_of(w, f.prompt)
        if mine is not None and (any(c.answers for c in w.store.children(mine.id)) or _users_call(w, mine)):
            continue
        if mine is None:
            why = "its user message was never written" + (" (refused as busy after the 204)" if f.result else "")
        elif f.result == "busy":
            why = "it was refused as busy after the 204, and nothing answered it"
        else:
            why = f"its user message {mine.label} has no reply"
        return Violation(f"{f.route} {f.prompt} was accepted, but {why}", (mine.id,) if mine else ())
    return None


STORE = ("messages", "msg")  # the footprint kinds of the message store's contents

PROPERTIES: tuple[Property, ...] = (
    Property("turn-binding", "always", turn_binding.__doc__, turn_binding, STORE + ("turns", "turn")),
    Property("turn-serialization", "always", turn_serialization.__doc__, turn_serialization, STORE + ("turns", "turn")),
    Property("no-terminal-siblings", "always", no_terminal_siblings.__doc__, no_terminal_siblings, STORE),
    Property("tool-followup", "at_rest", tool_followup.__doc__, tool_followup),
    Property("prompt-answered", "at_rest", prompt_answered.__doc__, prompt_answered),
    Property("own-reply", "at_rest", own_reply.__doc__, own_reply),
    Property("no-silent-drop", "at_rest", no_silent_drop.__doc__, no_silent_drop),
    Property(
        "loop-terminates",
        "liveness",
        "Every run of the prompt loop ends: no reachable cycle, fair to every fiber that stays enabled "
        "on it, in which a loop keeps writing assistants.",
    ),
)


@dataclass(frozen=True)
class EngineAware:
    """A property's check that judges a V2 inbox world by its seq-based statement (specs/inbox.py)
    and any other world by the legacy one. A class, not a closure, so results pickle."""

    name: str
    legacy: Callable[[World], Violation | None]

    def __call__(self, w: World) -> Violation | None:
        if w.inbox.on:
            from turnproof.specs.inbox import CHECKS

            found = CHECKS[self.name](w)
            return Violation(*found) if found else None
        return self.legacy(w)


def _engine_aware(p: Property) -> Property:
    """The same property, judged on either engine; it reads which engine the world runs, and the
    V2 statements read the inbox rows too."""
    from dataclasses import replace

    if p.check is None:
        return p
    return replace(p, check=EngineAware(p.name, p.check), reads=None if p.reads is None else p.reads + ("inbox",))


PROPERTIES = tuple(_engine_aware(p) for p in PROPERTIES)
