"""What a step means: the names of the sub-actions a step is made of (`Event.ref`), and the
questions other layers ask of a step or a fiber, answered here once.

A ref's value is the key of its source anchor (`model/source.py`, `model/bundle.py`) and is what
traces and JSON print, so the values never change; code compares against these names, never
against a literal, so that a renamed ref cannot silently change what liveness, the partitioned
search, conform or the explanations think a step did.
"""

from __future__ import annotations

# the legacy server routes: where a client's request enters
ROUTE_ABORT = "route.abort"
ROUTE_PROMPT = "route.prompt"
ROUTE_PROMPT_ASYNC = "route.prompt_async"
ROUTE_SHELL = "route.shell"

# a client that mints its own messageID (the web app)
CLIENT_MINT = "client.mint"

# SessionPrompt.prompt: the user message, then loop()
PROMPT_LOOP = "prompt.loop"
PROMPT_MINT = "prompt.mint"
PROMPT_NO_REPLY = "prompt.noReply"
PROMPT_USER = "prompt.user"

# SessionRunState: the instance's map of runners
RUNSTATE_CANCEL = "runstate.cancel"
RUNSTATE_ON_IDLE = "runstate.onIdle"
RUNSTATE_RUNNER = "runstate.runner"

# the Runner guard (effect/runner.ts)
RUNNER_AWAIT = "runner.await"
RUNNER_CANCEL = "runner.cancel"
RUNNER_DONE = "runner.done"
RUNNER_ENSURE_RUNNING = "runner.ensureRunning"
RUNNER_FINISH_RUN = "runner.finishRun"
RUNNER_FINISH_SHELL = "runner.finishShell"
RUNNER_IDLE_IF_CURRENT = "runner.idleIfCurrent"
RUNNER_START_RUN = "runner.startRun"
RUNNER_START_SHELL = "runner.startShell"
RUNNER_STOP_SHELL = "runner.stopShell"

# the prompt loop (runLoop)
LOOP_ASSISTANT = "loop.assistant"
LOOP_CONTINUE = "loop.continue"
LOOP_EXIT = "loop.exit"
LOOP_INTERRUPTED = "loop.interrupted"
LOOP_READ = "loop.read"
LOOP_RETURN = "loop.return"
LOOP_START = "loop.start"
LOOP_STOP = "loop.stop"

# the model call and the processor's stream events
LLM_CALL = "llm.call"
LLM_FINISH = "llm.finish"
LLM_TOOL_CALL = "llm.tool_call"
LLM_TOOL_RESULT = "llm.tool_result"

# the processor's error, abort and cleanup paths
PROCESSOR_ABORT_TOOL = "processor.abortTool"
PROCESSOR_CLEANUP = "processor.cleanup"
PROCESSOR_COMPLETE_TOOL_CALL = "processor.completeToolCall"
PROCESSOR_PROVIDER_ERROR = "processor.providerError"
PROCESSOR_REJECTED = "processor.rejected"

# the shell command (shellImpl)
SHELL_DONE = "shell.done"
SHELL_MESSAGES = "shell.messages"

# question and permission tools
QUESTION_ASK = "question.ask"
QUESTION_REJECT = "question.reject"
QUESTION_REPLY = "question.reply"

# the V2 inbox: session_input, the coordinator and its drain
V2_ADMIT = "v2.admit"
V2_ASSISTANT = "v2.assistant"
V2_CONTINUE = "v2.continue"
V2_DRAIN_EXIT = "v2.drain.exit"
V2_DRAIN_FAILED = "v2.drain.failed"
V2_DRAIN_START = "v2.drain.start"
V2_FINISH = "v2.finish"
V2_INTERRUPT_DONE = "v2.interrupt.done"
V2_INTERRUPTED = "v2.interrupted"
V2_PROMOTE = "v2.promote"
V2_QUEUE_NEXT = "v2.queue_next"
V2_REJECTED = "v2.rejected"
V2_REQUEST = "v2.request"
V2_ROUTE_INTERRUPT = "v2.route.interrupt"
V2_ROUTE_PROMPT = "v2.route.prompt"
V2_TOOL_CALL = "v2.tool_call"
V2_TOOL_RESULT = "v2.tool_result"
V2_WAKE = "v2.wake"


def route(name: str) -> str:
    """The ref of a legacy route's request step: `route.prompt`, `route.prompt_async`, ..."""
    return f"route.{name}"


def answer(name: str) -> str:
    """The ref of an answer to a pending question: `question.reply` or `question.reject`."""
    return f"question.{name}"


# A loop (or a V2 drain) that writes a new assistant message makes progress: a cycle of steps
# none of which does this is no non-termination (explore/search/liveness.py).
WRITES_ASSISTANT = frozenset({LOOP_ASSISTANT, V2_ASSISTANT})


def writes_assistant(ref: str) -> bool:
    """Does this sub-action write a new assistant message (a legacy loop's or a V2 drain's)?"""
    return ref in WRITES_ASSISTANT


def is_loop_fiber(name: str) -> bool:
    """Is this fiber (or a message's source) a prompt loop `r<run>`? V2 drains are named so too."""
    return name[:1] == "r" and name[1:].isdigit()


def is_tool_fiber(name: str) -> bool:
    """Is this fiber `t<run>`, the tool an interrupted loop `r<run>` was running?"""
    return name[:1] == "t" and name[1:].isdigit()


def loop_fiber(run: int) -> str:
    """The name of run `run`'s loop (or drain) fiber, and the source of what it writes."""
    return f"r{run}"


def run_of(name: str) -> int:
    """The run a loop fiber `r<run>` (or a tool fiber `t<run>`) belongs to."""
    return int(name[1:])


def is_progress(fiber: str, refs) -> bool:
    """Does a step of `fiber` with these sub-action refs make progress for liveness: a loop
    (or a drain) writes a new assistant message?"""
    return is_loop_fiber(fiber) and any(writes_assistant(r) for r in refs)
