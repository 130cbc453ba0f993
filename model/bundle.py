"""Where each step of the V2 inbox engine stands in opencode 1.18.34's bundle (function or span name).

The newest release is read from its bundled JavaScript (npm `opencode-linux-x64@1.18.34`), which has
no line numbers; each anchor names the identifier, span or string that survives in the bundle, and
what the code there does. docs/newest.md tells the same machinery in prose. One anchor stands in
the web app the binary serves (the same literal is in the 1.15.4 and 1.19.5 binaries): where a
client mints a prompt's messageID on its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "1.18.34"


@dataclass(frozen=True)
class Span:
    name: str  # the surviving function, span or string
    what: str

    def __str__(self) -> str:
        return f"opencode {VERSION} bundle: {self.name}"


_TABLE = [
    (
        "client.mint",
        'messageID??…ascending("message")',
        "web app: a prompt's messageID is minted on the client's clock before the request is sent",
    ),
    (
        "v2.route.prompt",
        "v2.session.prompt",
        "POST /api/session/:sessionID/prompt -> V2Session.prompt (delivery ?? steer)",
    ),
    ("v2.admit", "SessionInput.admit", "publish session.next.prompt.admitted; projectAdmitted inserts the row"),
    ("v2.wake", "SessionRunCoordinator.wake", "entry exists -> pendingWake = true; else a new entry forks drain"),
    ("v2.drain.start", "SessionRunner.run", "hasPending(steer), then hasPending(queue); nothing and not force: return"),
    ("v2.promote", "SessionInput.promoteSteers", "runTurn: promoteSteers(snapshot) / promoteNextQueued -> prompted"),
    ("v2.request", "SessionRunner.runTurn", "history by seq (SessionHistory.entriesForRunner), then the model stream"),
    ("v2.assistant", "session.next.step.started", "the assistant row, made on the first content; no parentID"),
    ("v2.tool_call", "SessionRunner.publishLLMEvent", "a tool call: settled in a fiber set while the stream goes on"),
    ("v2.tool_result", "session.next.step.ended", "tool fibers awaited; Step.Ended; needsContinuation = a tool ran"),
    ("v2.finish", "session.next.step.ended", "the step ended without tool calls (finish stop)"),
    ("v2.continue", "SessionRunner.run", "inner loop: needsContinuation, else hasPending(steer); else leave it"),
    ("v2.queue_next", "SessionRunner.run", "outer loop: hasPending(queue) -> runTurn(mode queue)"),
    ("v2.drain.exit", "SessionRunCoordinator", "drain exit: pendingWake -> drain again; else delete the entry"),
    ("v2.route.interrupt", "V2Session.interrupt", "POST /api/session/:id/interrupt -> SessionRunCoordinator.interrupt"),
    (
        "v2.interrupted",
        "SessionRunner.runTurn",
        "interrupt: unsettled tools failed, the assistant failed",
    ),
    ("v2.interrupt.done", "SessionRunCoordinator.interrupt", "Fiber.interrupt(owner) returns once the drain stopped"),
    ("v2.rejected", "SessionRunner.runTurn", "DeclinedError/RejectedError: failUnsettledTools, then Effect.interrupt"),
    ("v2.drain.failed", "Failed to drain Session", "runTurn fails, so does the drain: tapCause only logs it"),
    # the question and permission tools, alike in both engines (the same spans are in 1.15.4's bundle)
    ("question.ask", "Question.ask", 'log "asking", keep the request pending, publish question.asked, await it'),
    ("question.reply", "Question.reply", "succeed the pending request's Deferred; none pending: unknown request"),
    ("question.reject", "Question.reject", "fail the pending request with RejectedError; none pending: unknown"),
]

BUNDLE: dict[str, Span] = {key: Span(name, what) for key, name, what in _TABLE}
