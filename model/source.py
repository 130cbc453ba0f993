"""Where each modelled step stands in opencode's source at tag v1.15.4 (file:line), or in its bundle.

One table, so that a reviewer can hold the model next to the code and a test can check that
every step the model takes names a line here. Lines were read at the v1.15.4 release commit
(f98449c, "sync release versions for v1.15.4"); `verify` re-checks them against a checkout.
Where only the published 1.15.4 binary tells (its bundled JavaScript, split into modules and
pretty-printed; no line numbers survive), a step cites a bundle module and the span name or
string literal it stands at (`Ref.bundle`); `verify_bundle` checks those against the modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TAG = "v1.15.4"
PKG = "packages/opencode/src/"
BUNDLE = "bundle:"  # a bundle module: c057 SessionPrompt/Runner/processor, c072 MessageV2/Session


@dataclass(frozen=True)
class Ref:
    file: str
    line: int  # 0 for a bundle citation
    what: str
    token: str  # text on that line at the tag (or in that bundle module); `verify` checks it

    @property
    def bundle(self) -> bool:
        """Cited from the 1.15.4 bundle (module and span), not from a source line."""
        return self.file.startswith(BUNDLE)

    def __str__(self) -> str:
        if self.bundle:
            return f"1.15.4 bundle {self.file[len(BUNDLE) :]}: {self.token}"
        return f"{self.file}:{self.line}"


P = "session/prompt.ts"
R = "effect/runner.ts"
S = "session/run-state.ts"
H = "server/routes/instance/httpapi/handlers/session.ts"
X = "session/processor.ts"

# key, file, line at the tag, what the line does, a token found on that line
_TABLE = [
    # server routes: where a client's request enters
    ("route.prompt", H, 279, "SessionHttpApi.prompt: awaits SessionPrompt.prompt", '"SessionHttpApi.prompt"'),
    (
        "route.prompt_async",
        H,
        295,
        "promptAsync: forkIn(scope, {startImmediately}), 204",
        '"SessionHttpApi.promptAsync"',
    ),
    ("route.shell", H, 327, "SessionHttpApi.shell: SessionPrompt.shell, busy -> error", '"SessionHttpApi.shell"'),
    ("route.abort", H, 216, "SessionHttpApi.abort: SessionPrompt.cancel", '"SessionHttpApi.abort"'),
    # SessionPrompt.prompt / loop
    (
        "prompt.user",
        P,
        1519,
        "createUserMessage: updateMessage(info), id messageID ?? ascending",
        "updateMessage(info)",
    ),
    ("prompt.noReply", P, 1631, "prompt: noReply returns the message before loop()", "input.noReply === true"),
    ("prompt.loop", P, 1880, "loop: state.ensureRunning(sessionID, lastAssistant, runLoop)", "state.ensureRunning("),
    # SessionRunState: one Runner per session in each instance's map
    ("runstate.runner", S, 51, "runner(): the map's Runner, or Runner.make + map.set", '"SessionRunState.runner"'),
    ("runstate.onIdle", S, 59, "onIdle: runners.delete(sessionID); status idle", "onIdle:"),
    ("runstate.cancel", S, 76, "cancel: no busy runner -> status idle; else runner.cancel", '"SessionRunState.cancel"'),
    # Runner: the SynchronizedRef guard
    (
        "runner.ensureRunning",
        R,
        115,
        "ensureRunning: modifyEffect; Running -> awaitDone(run.done)",
        "const ensureRunning",
    ),
    ("runner.startRun", R, 131, "ensureRunning, Idle: Deferred.make, startRun, -> Running", 'case "Idle"'),
    ("runner.await", R, 64, "awaitDone: Deferred.await(done), Cancelled -> onInterrupt", "const awaitDone"),
    ("runner.finishRun", R, 70, "finishRun: modify; Idle only if this run is still current", "const finishRun"),
    ("runner.done", R, 59, "complete: Deferred.done or fail(Cancelled), after the modify", "const complete"),
    ("runner.startShell", R, 140, "startShell: Busy unless Idle; forkChild(work) -> Shell", "const startShell"),
    ("runner.finishShell", R, 93, "finishShell: Shell -> Idle + onIdle; ShellThenRun -> startRun", "const finishShell"),
    ("runner.cancel", R, 171, "cancel: modify -> Idle at once; interrupt, fail done after", "const cancel"),
    ("runner.idleIfCurrent", R, 67, "idleIfCurrent: onIdle only if the ref is still Idle", "const idleIfCurrent"),
    # runLoop
    ("loop.start", R, 86, "startRun: work.pipe(onExit(finishRun), forkIn(scope))", "work.pipe("),
    ("loop.read", P, 1655, "filterCompactedEffect, then latest -> lastUser, lastAssistant", "filterCompactedEffect"),
    ("loop.exit", P, 1672, "exit: finish not tool-calls, no tool parts, lastUser.id < id", "lastAssistant?.finish &&"),
    (
        "loop.assistant",
        P,
        1731,
        "new assistant: MessageID.ascending(), parentID: lastUser.id",
        "const msg: MessageV2.Assistant",
    ),
    ("loop.continue", P, 1863, "process returned: outcome continue, back to while (true)", 'return "continue"'),
    (
        "loop.interrupted",
        P,
        1748,
        "finalizeInterruptedAssistant: error Aborted, completed",
        "finalizeInterruptedAssistant =",
    ),
    ("llm.call", P, 1821, "handle.process: stream the model with this iteration's messages", "handle.process("),
    ("llm.tool_call", X, 321, "processor tool-call: tool part -> running, the tool executes", 'case "tool-call"'),
    ("llm.tool_result", X, 382, "processor tool-result: part completed; then finish-step", 'case "tool-result"'),
    (
        "llm.finish",
        X,
        513,
        "processor finish-step: assistantMessage.finish = finishReason",
        "finish = value.finishReason",
    ),
    # shell
    ("shell.messages", P, 922, "shellImpl: synthetic user, assistant, running bash part", "updateMessage(userMsg)"),
    ("shell.done", P, 994, "shellImpl: command exits; assistant and bash part completed", "msg.time.completed"),
]

# key, bundle module, the span name or literal it stands at, what the code does there
_BUNDLE_TABLE = [
    (
        "prompt.mint",
        "c057",
        '"SessionPrompt.createUserMessage"',
        "id and time.created fixed; file/MCP parts and chat.message hooks awaited before the write",
    ),
    (
        "processor.abortTool",
        "c057",
        '"SessionProcessor.halt"',
        "halt: error MessageAbortedError, status idle; the abort signal reaches the running tool",
    ),
    (
        "processor.cleanup",
        "c057",
        '"250 millis"',
        "SessionProcessor.cleanup: waits up to 250 ms per tool call, else 'Tool execution aborted'",
    ),
    (
        "processor.completeToolCall",
        "c057",
        '"SessionProcessor.completeToolCall"',
        "the aborted tool returns normally; its part completed if still running, else a no-op",
    ),
    (
        "runner.stopShell",
        "c057",
        "ready.await",
        "Runner.cancel's stop-shell: await the shell's ready latch, complete cancelled, interrupt it",
    ),
    (
        "processor.providerError",
        "c057",
        '"SessionProcessor.halt"',
        "halt: a provider error becomes the assistant's error, published as session.error; process returns stop",
    ),
    (
        "processor.rejected",
        "c057",
        '"SessionProcessor.failToolCall"',
        "a RejectedError (question or permission) fails the part and sets blocked = shouldBreak: process returns stop",
    ),
    (
        "loop.stop",
        "c057",
        '"SessionPrompt.run"',
        "run: the processor returned stop: the loop breaks without its exit test (return break)",
    ),
    (
        "loop.return",
        "c057",
        '"SessionPrompt.loop"',
        "after the loop: prune forked, then the run returns lastAssistant (findMessage); onExit finishRun",
    ),
]

REFS: dict[str, Ref] = {key: Ref(PKG + f, n, what, tok) for key, f, n, what, tok in _TABLE}
REFS |= {key: Ref(BUNDLE + mod, 0, what, tok) for key, mod, tok, what in _BUNDLE_TABLE}


def ref(key: str):
    """The source anchor of a modelled step (a v1.15.4 line, or a 1.18.34 bundle span for the V2
    inbox engine, model/bundle.py); a missing key is a bug in the model."""
    if key in REFS:
        return REFS[key]
    from turnproof.model.bundle import BUNDLE

    return BUNDLE[key]


def verify(checkout: str) -> list[str]:
    """Check every anchor against an opencode checkout at the tag: its token must be on its line."""
    problems = []
    for key, r in REFS.items():
        if r.bundle:
            continue
        path = Path(checkout) / r.file
        if not path.is_file():
            problems.append(f"{key}: {r.file} is missing")
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        if not 0 < r.line <= len(lines) or r.token not in lines[r.line - 1]:
            problems.append(f"{key}: {r} does not contain {r.token!r}")
    return problems


def verify_bundle(pretty: str) -> list[str]:
    """Check every bundle citation against the pretty-printed 1.15.4 modules in `pretty`
    (files named `<module>_<offset>.js`): its token must occur in its module."""
    problems = []
    for key, r in REFS.items():
        if not r.bundle:
            continue
        mod = r.file[len(BUNDLE) :]
        found = sorted(Path(pretty).glob(f"{mod}_*.js"))
        if not found:
            problems.append(f"{key}: bundle module {mod} is missing")
        elif r.token not in found[0].read_text(encoding="utf-8", errors="replace"):
            problems.append(f"{key}: {r} not found in {found[0].name}")
    return problems
