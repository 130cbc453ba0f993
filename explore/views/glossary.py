"""The words explain and the step-through page use: what each kind of step means, what a step is.

Said as of opencode v1.15.4; the steps whose meaning follows a design knob are worded per knob
value in explore/views/why.py.
"""

from __future__ import annotations

# What each kind of step means, said once, the first time it appears.
GLOSS = {
    "route.prompt": "A client sends a message and waits for the answer (the blocking /message route).",
    "route.prompt_async": "A client sends a message with prompt_async: the server answers 'accepted' at once "
    "and works on it in the background.",
    "route.shell": "A client runs a shell command in the session; it is recorded as a user message "
    "and an assistant message with a bash tool part.",
    "route.abort": "A client presses stop: the session's run is cancelled.",
    "prompt.user": "The server saves the user message. Every message gets an id; ids sort by creation time "
    "on the clock that minted them. The server also stamps its own creation time, and reads the session's "
    "messages, and sends them to the model, in that order, while the loop's exit test compares ids.",
    "prompt.mint": "The server fixes the user message's id and creation time, then waits (to read an attached "
    "file or resource, or for a plugin's chat.message hook) before saving it: anything written meanwhile "
    "gets a newer id.",
    "processor.abortTool": "The abort reaches the running tool; the loop's cleanup waits up to 250 ms for it.",
    "processor.cleanup": "The cleanup stops waiting: a tool that has not returned by then is marked as an error.",
    "processor.completeToolCall": "The aborted tool returns (the command was killed); if the cleanup has not "
    "given up on it yet, its part ends completed.",
    "runner.stopShell": "Stopping a shell first waits until the shell has saved its messages, then interrupts it.",
    "prompt.noReply": "A noReply message is saved as context only; nothing starts answering it.",
    "prompt.loop": "The server asks the session's guard (its 'runner') to make sure a prompt loop is running.",
    "runstate.runner": "Each server instance keeps one runner per session in a map; a missing entry is created.",
    "runner.startRun": "The runner was idle, so it marks itself Running and starts a new prompt loop.",
    "runner.ensureRunning": "The runner is busy, so this request does not start anything: it waits for "
    "the loop already running and will return that loop's result.",
    "loop.start": "The prompt loop starts running (it was scheduled by the step that created it).",
    "loop.read": "The loop reads the session's messages and picks the newest user message as the one it "
    "answers ('lastUser') and the newest assistant message ('lastAssistant').",
    "loop.exit": "The loop decides the conversation is answered and stops. In opencode 1.15.4 it decides "
    "this by comparing ids: the newest user message must be older than the newest assistant message.",
    "loop.assistant": "The loop creates a new assistant message; its parentID, the user message it answers, "
    "is whatever 'lastUser' was in this iteration.",
    "llm.call": "The loop sends the messages it read to the model and waits for the reply.",
    "llm.tool_call": "The model answers with a tool call; the tool starts running.",
    "llm.tool_result": "The tool finishes; this assistant message ends with finish=tool-calls, meaning "
    "'the model must be called again with the tool's result'.",
    "llm.finish": "The model answers with text and finish=stop: this reply ends the turn.",
    "loop.continue": "The reply is complete and the loop goes round again.",
    "runner.finishRun": "The loop has stopped; the runner goes back to Idle if this loop is still its current run.",
    "runstate.onIdle": "When a runner goes idle, the server deletes the session's entry from the runner map.",
    "runner.done": "The loop's result (the newest non-user message, by creation time) is handed to every "
    "request that was waiting for it; after an abort each one gets whatever that message is then.",
    "runner.await": "A waiting request gets the loop's result and returns it to its client.",
    "runner.startShell": "A shell command may only start when the runner is idle.",
    "runner.finishShell": "The shell command ended; the runner goes idle or starts the loop queued behind it.",
    "shell.messages": "The shell command's messages are saved.",
    "shell.done": "The shell command finishes.",
    "runstate.cancel": "The cancel looks up the session's runner.",
    "runner.cancel": "The runner is cancelled: in 1.15.4 it becomes Idle at once and the loop is "
    "interrupted afterwards.",
    "runner.idleIfCurrent": "After the interrupt, the runner runs its idle handler if nothing started meanwhile.",
    "loop.interrupted": "The loop was interrupted; its unfinished assistant message is marked aborted.",
    "loop.return": "After its exit the loop hands back its result and only then marks the runner Idle; a "
    "message sent in between joins a loop that will not read the messages again.",
    "loop.stop": "The loop stops without its usual exit test, because the step before it was blocked or failed.",
    "processor.providerError": "The model call fails; the error is written on the assistant message and "
    "published, so the client sees it.",
    "processor.rejected": "The user rejected the tool's question or permission; the tool fails and the loop is "
    "told to stop.",
    "question.ask": "A tool asks the user a question (or for a permission) and waits for the answer; a message "
    "typed meanwhile is not the answer.",
    "question.reply": "The user answers the pending question; the waiting tool goes on.",
    "question.reject": "The user dismisses the pending question; the waiting tool fails.",
    # the V2 inbox engine of opencode 1.18.34 (docs/newest.md)
    "v2.route.prompt": "A client sends a message to the V2 route; it carries a delivery, steer (fold it into "
    "the running turn) or queue (wait until the turn has settled).",
    "v2.admit": "The server records the message in the session_input inbox and answers 200 at once; it is "
    "not a user message of the session yet.",
    "v2.wake": "The server makes sure a drain will look at the inbox: it starts one, or tells the running one "
    "to look again when it is done.",
    "v2.drain.start": "A drain starts: it looks for pending inputs in the inbox.",
    "v2.promote": "At the start of a model step the drain turns pending inputs into user messages of the "
    "session: every pending steer, and in queue mode the oldest queued input.",
    "v2.request": "The drain sends the session's messages, in the order the store recorded them, to the model.",
    "v2.assistant": "The model's first output arrives and the assistant message is created; V2 messages have no "
    "parentID, their place in the session's order says what they answer.",
    "v2.tool_call": "The model calls a tool; the tool starts running.",
    "v2.tool_result": "The tool finishes and the step ends with finish=tool-calls: the drain must call the model "
    "again with the result.",
    "v2.finish": "The model answers with text and the step ends with finish=stop.",
    "v2.continue": "The drain decides whether to take another step: for a tool result, or for a pending steer.",
    "v2.queue_next": "The turn has settled; the drain takes the next queued input.",
    "v2.drain.exit": "The drain ends; if a wake came meanwhile it drains again, else the session goes idle.",
    "v2.route.interrupt": "A client interrupts the session: the running drain is stopped; the inbox is left as is.",
    "v2.interrupted": "The drain was interrupted; an assistant still streaming is marked failed.",
    "v2.interrupt.done": "The interrupt returns once the drain has stopped.",
    "v2.rejected": "The user rejected the tool's question or permission; the drain fails the tool and stops "
    "itself, as an interrupt would, but a wake that came meanwhile still counts.",
    "v2.drain.failed": "The model call fails before any output; the drain fails and the server only logs it: "
    "the client is told nothing.",
}


# What one step is, by granularity (the runtime's 2048-operation budget is never overridden in 1.15.4).
STEPS = {
    "await": "each step runs without interruption until the code waits for something",
    "effect": "each step runs until the code waits for something, or until one of the chosen points where "
    "the runtime may also pause a task: it does so after 2048 operations, wherever that falls, so such a "
    "pause is rare at any one point but possible",
}
