"""The properties for the V2 inbox engine, read the way its store records turns: by seq, not parentID.

V2 messages have no parentID (opencode 1.18.34, `session.next.step.started`), so each property of
specs/properties.py is restated over the seq-ordered history and the ghost turns the model keeps
(a turn opens at the step that promotes its first input and closes at a step with no tool calls).
Each check returns None or (says, message ids); specs/properties.py wraps them as Violations.
Which properties a design promises: queue both invariants and the rest; steer gives up the two
invariants on purpose (it folds a follow-up into the running turn) and promises the rest.
"""

from __future__ import annotations

from turnproof.model import question
from turnproof.model.config import ANSWERS, Design
from turnproof.model.inbox import history
from turnproof.model.store import ASSISTANT, TOOL_CALLS, USER, Message
from turnproof.model.world import World

Found = tuple[str, tuple] | None

# What a steer design does not promise, with why (the user is told their message steers the turn).
NOT_PROMISED_BY_STEER = {
    "turn-binding": "steer folds a follow-up into the running turn's next step, after its tool round-trip",
    "turn-serialization": "steer promotes a follow-up into the open turn at its next step",
}


def promised(design: Design, prop: str) -> bool:
    """Does this design promise `prop`? Legacy and queue designs promise every property."""
    return not (design.engine == "inbox" and design.delivery == "steer" and prop in NOT_PROMISED_BY_STEER)


def _drain_of(m: Message) -> int:
    return int(m.source[1:])


def _how(w: World, m: Message) -> str:
    row = w.inbox.row(m.label)
    return f" ({row.delivery}ed)" if row else ""


def turn_binding(w: World) -> Found:
    """Every assistant a drain writes in an open turn answers only that turn's input: no user row is
    promoted between the turn's tool round-trip and the step that continues it."""
    for t in w.turns:
        between = []
        for m in history(w):
            if m.seq < t.since:
                continue
            if m.role == USER:
                between.append(m)
            elif m.source == f"r{t.run}" and between:
                u, b = w.store.get(t.user), between[0]
                return (
                    f"{m.label} continues the turn opened by {u.label} but {b.label}{_how(w, b)} was promoted "
                    f"into it first: {m.label} answers {b.label}",
                    (m.id, t.user, b.id),
                )
    return None


def turn_serialization(w: World) -> Found:
    """While a turn is open no other drain has one open and no other input is promoted into it
    (inputs admitted with resume = false, the noReply counterpart, excepted)."""
    if len(w.turns) > 1:
        a, b = w.turns[0], w.turns[1]
        return (f"drains r{a.run} and r{b.run} have turns open at once", (a.user, b.user))
    for t in w.turns:
        for m in history(w):
            if m.role == USER and m.seq >= t.since and not m.no_reply:
                u = w.store.get(t.user)
                return (
                    f"{m.label}{_how(w, m)} was promoted while r{t.run}'s turn for {u.label} was open",
                    (m.id, t.user),
                )
    return None


def no_terminal_siblings(w: World) -> Found:
    """No two terminal assistants answer the same input: between two stop replies in seq order
    some new user row was promoted."""
    last_user, last_stop = None, None
    for m in history(w):
        if m.role == USER:
            last_user, last_stop = m, None
        elif m.terminal:
            if last_stop is not None and last_user is not None:
                return (
                    f"{last_stop.label} and {m.label} both end a turn for {last_user.label} with no new input between",
                    (last_stop.id, m.id, last_user.id),
                )
            last_stop = m
    return None


def _cancelled(w: World, drain: int) -> bool:
    return w.run(drain).done == "cancelled"


def _excused(w: World, drain: int) -> bool:
    """An interrupt stopped the drain (the user's, or its own on a rejected question), or it waits
    for its user's answer to a question or permission."""
    return _cancelled(w, drain) or question.asking(w, drain)


def tool_followup(w: World) -> Found:
    """At rest, every tool-calls assistant is continued by a later step of the same drain, unless an
    interrupt stopped that drain."""
    msgs = history(w)
    for m in msgs:
        if m.role == ASSISTANT and m.finish == TOOL_CALLS and not _cancelled(w, _drain_of(m)):
            if not any(n.role == ASSISTANT and n.source == m.source and n.seq > m.seq for n in msgs):
                return (f"{m.label} (tool-calls) got no continuation in its drain {m.source}", (m.id,))
    return None


def prompt_answered(w: World) -> Found:
    """At rest, every admitted input that woke the session is promoted, and every user row has a
    later completed reply in seq order (its own, or one it was folded into), unless an interrupt
    stopped the drain that promoted it, or that drain waits for its user's answer to a question."""
    for r in w.inbox.rows:
        if r.pending and r.wake:
            return (
                f"{r.name} was admitted (200) but is still pending in session_input: "
                "no drain promotes it until another prompt wakes the session",
                (),
            )
    msgs = history(w)
    for m in msgs:
        if m.role != USER or m.no_reply:
            continue
        row = w.inbox.row(m.label)
        if row and row.by and _excused(w, row.by):
            continue
        if not any(n.role == ASSISTANT and n.seq > m.seq and n.completed and n.terminal and not n.error for n in msgs):
            return (f"user message {m.label} has no reply, neither its own nor one it was folded into", (m.id,))
    return None


def own_reply(w: World) -> Found:
    """At rest, each V2 prompt request was answered with the Admitted record of its own input (the V2
    route returns no reply at all: what a client gets back is its own admission, or nothing)."""
    for f in w.fibers:
        skip = ("shell", "abort", "interrupt") + ANSWERS
        if f.kind == "client" and f.route not in skip and f.ended and f.result != f.prompt:
            return (f"{f.prompt}'s request returned {f.result or 'nothing'}, not the admission of {f.prompt}", ())
    return None


def no_silent_drop(w: World) -> Found:
    """At rest, every input admitted with a 200 that woke the session is promoted and has a reply in
    the store (its own or one it was folded into), unless the turn it was promoted into was
    interrupted (the one failure a client sees) or waits for its user's answer to a question; an
    input still pending is never excused."""
    for r in w.inbox.rows:
        if not r.wake:
            continue
        if r.pending:
            return (f"{r.name} was admitted (200) but never promoted: it sits in session_input", ())
        if r.by and _excused(w, r.by):
            continue
        msgs = history(w)
        mine = next(m for m in msgs if m.role == USER and m.label == r.name)
        if not any(n.role == ASSISTANT and n.seq > mine.seq and n.terminal and not n.error for n in msgs):
            return (f"{r.name} was admitted (200) and promoted, but no reply follows it", (mine.id,))
    return None


CHECKS = {
    "turn-binding": turn_binding,
    "turn-serialization": turn_serialization,
    "no-terminal-siblings": no_terminal_siblings,
    "tool-followup": tool_followup,
    "prompt-answered": prompt_answered,
    "own-reply": own_reply,
    "no-silent-drop": no_silent_drop,
}
