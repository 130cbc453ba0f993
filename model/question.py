"""The question and permission tools, and a provider that fails: what both turn engines share.

A question (or permission) tool waits for its user's answer: `Question.ask` logs "asking", keeps
the request pending, publishes `question.asked` and awaits its Deferred (`Permission.ask` alike);
`Question.reply` succeeds it, `Question.reject` fails it with a RejectedError, and once nothing is
pending either answers "unknown request" (opencode 1.18.34's bundle; the same spans are in
1.15.4's). A prompt sent meanwhile does not answer it: the legacy route writes the message and joins
the run (ensureRunning awaits its `done`), the V2 route admits an input the drain promotes only at its
next step. What each engine makes of a rejection and of a failed model call stays with its steps
(model/fibers.py, model/inbox.py); this module holds the ask, the answer and the scripted choice.
"""

from __future__ import annotations

from turnproof.model import steps
from turnproof.model.config import ANSWERS, Scenario
from turnproof.model.store import STOP, Message
from turnproof.model.values import replace

FAIL = "fail"  # the scripted answer: the model call fails before its first content
ASKS = ("question", "permission")  # the scripted answers: a tool call that waits for the user's answer
REPLIED, REJECTED = "replied", "rejected"  # what the user answered (the asking fiber's `answer`)


def script(scenario: Scenario, user: Message | None, tool: bool) -> str:
    """The scripted model's answer to a request whose newest prompt is `user`: "fail" when its
    provider fails, else a tool call ("tool", or the kind of tool that waits for an answer), or "stop"."""
    if user is None:
        return STOP
    p = scenario.prompt(user.label)
    if p.provider == "error":
        return FAIL
    if not tool:
        return STOP
    return "tool" if p.tool_kind == "plain" else p.tool_kind


def ask(tx) -> None:
    """Question.ask: the tool asks its user and the calling fiber waits at "ask". `question.asked`
    reaches every answer request not sent yet: each may now answer this fiber's question."""
    for p in tx.scenario.prompts:
        if p.route in ANSWERS:
            c = tx.w.fiber(p.name)
            if c.pc == "send" and not c.target:
                tx.w = tx.w.set_fiber(replace(c, target=tx.f.name))
    tx.say(steps.QUESTION_ASK, f"the {tx.f.answer} tool asks the user ({tx.f.answer}.asked) and waits for the answer")
    tx.goto("ask")


def answer_step(tx) -> None:
    """POST /question/:requestID/reply or /reject (the permission routes alike): succeeds or fails
    the pending request; with nothing pending any more, "unknown request" (404)."""
    p = tx.scenario.prompt(tx.f.prompt)
    tx.w = tx.w.mark_sent(p.name)
    t = tx.w.fiber(tx.f.target)
    if t.pc == "ask" and t.answer in ASKS:
        tx.w = tx.w.set_fiber(replace(t, answer=REPLIED if p.route == "reply" else REJECTED))
        how = "answers" if p.route == "reply" else "rejects (RejectedError)"
        tx.say(steps.answer(p.route), f"{p.client} client {how} {t.name}'s pending question ({p.name})")
        tx.goto("end", result="true")
        return
    tx.say(steps.answer(p.route), f"{p.client} client answers ({p.name}): no request pending, 404")
    tx.goto("end", result="gone")


def reject_tools(tx) -> Message:
    """The asking fiber's assistant: its waiting tool part failed as rejected (the model's status
    "rejected" stands for "error" with the RejectedError's text). Returns the assistant as it was."""
    msg = tx.w.store.get(tx.f.msg)
    tools = tuple(replace(p, status=REJECTED) if p.status == "running" else p for p in msg.tools)
    tx.w = tx.w.update_message(tx.f.msg, tools=tools)
    return msg


def asking(w, run: int) -> bool:
    """Is run `run`'s fiber waiting for its user's answer? (Its turn is the user's to go on.)"""
    name = steps.loop_fiber(run)
    return any(f.name == name and f.pc == "ask" and f.answer in ASKS for f in w.fibers)
