"""Where each modelled step stands in opencode's source at tag v1.15.4 (file:line).

One table, so that a reviewer can hold the model next to the code and a test can check that
every step the model takes names a line here.
"""

from __future__ import annotations

from dataclasses import dataclass

TAG = "v1.15.4"
PKG = "packages/opencode/src/"


@dataclass(frozen=True)
class Ref:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def _r(file: str, line: int, what: str) -> Ref:
    return Ref(PKG + file, line, what)


P, R, S, H = (
    "session/prompt.ts",
    "effect/runner.ts",
    "session/run-state.ts",
    "server/routes/instance/httpapi/handlers/session.ts",
)
M, X = "session/message-v2.ts", "session/processor.ts"

REFS: dict[str, Ref] = {
    # server routes: where a client's request enters
    "route.prompt": _r(H, 279, "SessionHttpApi.prompt: awaits SessionPrompt.prompt, answers with its result"),
    "route.prompt_async": _r(
        H, 295, "SessionHttpApi.promptAsync: forkIn(scope, {startImmediately: true}), 204 at once"
    ),
    "route.shell": _r(H, 327, "SessionHttpApi.shell: SessionPrompt.shell, RunnerBusy mapped to BusyError"),
    "route.abort": _r(H, 216, "SessionHttpApi.abort: SessionPrompt.cancel"),
    # SessionPrompt.prompt / loop / shell
    "prompt.user": _r(P, 1519, "createUserMessage: updateMessage(info), id = messageID ?? MessageID.ascending()"),
    "prompt.loop": _r(P, 1880, "loop: state.ensureRunning(sessionID, lastAssistant, runLoop)"),
    # SessionRunState: one Runner per session in each instance's map
    "runstate.runner": _r(S, 51, "runner(): the map's Runner for the session, or Runner.make + map.set"),
    "runstate.onIdle": _r(S, 59, "onIdle: runners.delete(sessionID); status idle"),
    "runstate.cancel": _r(S, 76, "cancel: no busy runner -> status idle; else runner.cancel"),
    # Runner: the SynchronizedRef guard
    "runner.ensureRunning": _r(R, 115, "ensureRunning: modifyEffect on the ref; Running -> awaitDone(run.done)"),
    "runner.startRun": _r(R, 131, "ensureRunning, Idle: Deferred.make, startRun forks the loop, -> Running"),
    "runner.await": _r(R, 64, "awaitDone: Deferred.await(done), Cancelled -> onInterrupt"),
    "runner.finishRun": _r(R, 70, "finishRun: modify; Idle only if this run is still current"),
    "runner.done": _r(R, 59, "complete: Deferred.done / fail(Cancelled) after finishRun's modify"),
    "runner.startShell": _r(R, 140, "startShell: Busy unless Idle; forkChild(work ensuring finishShell) -> Shell"),
    "runner.finishShell": _r(R, 93, "finishShell: Shell -> Idle + onIdle; ShellThenRun -> startRun pending"),
    "runner.cancel": _r(R, 171, "cancel: modify -> Idle at once; interrupt fiber, fail done, idleIfCurrent after"),
    "runner.idleIfCurrent": _r(R, 67, "idleIfCurrent: onIdle only if the ref is still Idle"),
    # runLoop
    "loop.start": _r(R, 86, "startRun: work.pipe(onExit(finishRun), forkIn(scope)) -- the loop fiber begins"),
    "loop.read": _r(P, 1655, "runLoop: filterCompactedEffect, then MessageV2.latest -> lastUser, lastAssistant"),
    "loop.exit": _r(
        P, 1670, "exit test: lastAssistant.finish not tool-calls, no tool parts, lastUser.id < lastAssistant.id"
    ),
    "loop.assistant": _r(P, 1731, "new assistant: id MessageID.ascending(), parentID: lastUser.id"),
    "loop.continue": _r(P, 1863, "process returned: outcome continue, back to while (true)"),
    "loop.interrupted": _r(P, 1748, "finalizeInterruptedAssistant: error Aborted, time.completed"),
    "llm.call": _r(P, 1821, "handle.process: stream the model with the messages read this iteration"),
    "llm.tool_call": _r(X, 321, "processor tool-call: tool part -> running, the tool executes"),
    "llm.tool_result": _r(X, 382, "processor tool-result: part completed; finish-step sets finish"),
    "llm.finish": _r(X, 513, "processor finish-step: assistantMessage.finish = finishReason"),
    # shell
    "shell.messages": _r(P, 922, "shellImpl: writes a synthetic user message, an assistant, a running bash part"),
    "shell.done": _r(P, 994, "shellImpl: command exits; assistant completed, bash part completed"),
}


def ref(key: str) -> Ref:
    """The source anchor of a modelled step; a missing key is a bug in the model."""
    return REFS[key]
