"""What each fiber does in one atomic step: the route handlers, the prompt loop, the shell.

A step runs the code between two points where the real fiber can be descheduled (see
`Scenario.granularity`). Every sub-action says which opencode line it stands for (`model/source`).
"""

from __future__ import annotations

from typing import NamedTuple

from turnproof.model import ids, question, steps
from turnproof.model import runner as guard
from turnproof.model.config import ANSWERS, Design, Scenario
from turnproof.model.exittest import ExitTest, exit_test
from turnproof.model.ids import Id
from turnproof.model.store import ASSISTANT, STOP, TOOL_CALLS, USER, Message, ToolPart
from turnproof.model.values import replace
from turnproof.model.world import Fiber, Turn, World


class Event(NamedTuple):
    """One sub-action of a step: the source anchor it models and what it did, in words.
    (A named tuple: made a few times per step, where a frozen dataclass is slow to build.)"""

    ref: str
    says: str


class Step(NamedTuple):
    """One atomic step of one fiber: the fiber and its sub-actions, in order."""

    fiber: str
    events: tuple[Event, ...]

    @property
    def action(self) -> str:
        return self.events[0].ref


class Tx:
    """Builds one atomic step: the world as it evolves, the acting fiber, and what was said."""

    def __init__(self, design: Design, scenario: Scenario, w: World, f: Fiber):
        self.design, self.scenario, self.w, self.f = design, scenario, w, f
        self.events: list[Event] = []

    @property
    def split(self) -> bool:
        """Does the runtime deschedule at Effect yield points too (granularity "effect")?"""
        return self.scenario.granularity == "effect"

    def say(self, ref: str, says: str) -> None:
        self.events.append(Event(ref, says))

    def goto(self, pc: str, **changes) -> None:
        self.f = replace(self.f, pc=pc, **changes)

    def told(self) -> World:
        """The world for an event's text alone: reads through it are not noted in the step's
        footprint (model/footprint.py), so nothing the step does may depend on them."""
        return getattr(self.w, "world", self.w)  # (a Watched world wraps the plain one)

    def label(self, mid: Id | None) -> str:
        return self.w.store.get(mid).label

    def done(self) -> tuple[Step, World]:
        return Step(self.f.name, tuple(self.events)), self.w.set_fiber(self.f)


# --- enabledness ---------------------------------------------------------------------------


def enabled(scenario: Scenario, w: World, f: Fiber) -> bool:
    """Can `f` move? Only an ended fiber and the four waits below ever cannot."""
    pc = f.pc
    if pc not in WAITS:
        return pc != "end"
    if pc == "send":  # an answer waits for the question it answers to be asked (question.asked)
        return all(a in w.sent for a in scenario.prompt(f.prompt).after) and (f.route not in ANSWERS or f.target)
    if pc == "ask":  # a question or permission tool: waits for its user's answer (or an interrupt)
        return f.answer not in question.ASKS or f.interrupt
    if pc == "mint":  # one client's clock mints in order; two clocks' readings in either order
        p = scenario.prompt(f.prompt)
        return all(a in w.sent for a in p.after if scenario.prompt(a).id_clock == p.id_clock)
    if pc == "await":
        return w.run(f.run).done is not None
    if pc == "await_int":
        return w.fiber(f.target).ended
    return w.fiber(f.target).pc != "shell.start"  # await_ready: stop-shell awaits the shell's `ready` latch


WAITS = frozenset({"send", "mint", "await", "await_int", "await_ready", "ask"})  # the program counters `enabled` tests


def step(design: Design, scenario: Scenario, w: World, f: Fiber) -> tuple[Step, World]:
    """Run fiber `f` for one atomic step. Callers check `enabled` first."""
    tx = Tx(design, scenario, w, f)
    if f.pc == "mint":
        client_mint(tx)
    elif f.kind == "run":
        _run_step(tx)
    elif f.kind == "tool":
        _tool_step(tx)
    else:
        route = scenario.prompt(f.prompt).route
        # a V2 request on the legacy engine: what the web app's V1 adapter sends (prompt_async, abort)
        # (the shell route is model/shell.py's, for either engine: model/inbox.py dispatches it)
        if route in ("abort", "interrupt"):
            _abort_step(tx)
        elif route in ANSWERS:
            question.answer_step(tx)
        else:
            _prompt_step(tx)
    return tx.done()


# --- the runner map and the guard ----------------------------------------------------------


def _map(tx: Tx) -> int:
    """Which runner map this fiber's requests use: its instance's, or the one process-wide map."""
    return tx.f.instance if tx.design.runner_map == "per-instance" else 0


def lookup(tx: Tx) -> int:
    """SessionRunState.runner: the session's Runner in this instance's map, made if absent."""
    home = _map(tx)
    idx = tx.w.maps[home]
    if idx is None:
        tx.w, idx = tx.w.new_runner(home)
        tx.say(steps.RUNSTATE_RUNNER, f"no runner in the map of instance {home}: makes runner #{idx}")
    else:
        tx.say(steps.RUNSTATE_RUNNER, f"finds runner #{idx} in the map of instance {home}")
    tx.f = replace(tx.f, runner=idx)
    return idx


def spawn(tx: Tx, rid: int) -> None:
    """startRun: fork the loop into the runner's scope; it starts when next scheduled."""
    tx.w = tx.w.add_fiber(
        Fiber(steps.loop_fiber(rid), "run", "start", run=rid, instance=tx.w.homes[tx.w.run(rid).runner])
    )


def _ensure(tx: Tx) -> None:
    """SessionPrompt.loop -> Runner.ensureRunning, all inside the ref's modifyEffect."""
    idx = tx.f.runner
    st = tx.w.runners[idx]
    guarded = tx.f.prompt if tx.design.guard == "turn" else None
    starter = tx.f.prompt if tx.design.binding == "turn" else ""  # only turn binding reads it
    w, rid = tx.w.new_run(idx, starter, guarded)
    out = guard.ensure_running(st, rid, tx.design.overlap)
    if out.busy:
        tx.say(steps.RUNNER_ENSURE_RUNNING, f"runner #{idx} is {st.tag}: rejected as busy")
        tx.goto("end", result="busy")
        return
    if out.wait != rid:  # joins the run in flight; the tentative run is never made
        tx.w = tx.w.set_runner(idx, out.state)
        tx.say(steps.RUNNER_ENSURE_RUNNING, f"runner #{idx} is {st.tag}(r{out.wait}): awaits r{out.wait}'s done")
        tx.goto("await", run=out.wait)
        return
    tx.w = w.set_runner(idx, out.state)
    if out.start:
        spawn(tx, rid)
        tx.say(steps.RUNNER_START_RUN, f"runner #{idx} Idle -> Running(r{rid}): forks loop r{rid}")
    else:
        tx.say(steps.RUNNER_ENSURE_RUNNING, f"runner #{idx} is {st.tag}: r{rid} waits to start behind it")
    tx.goto("await", run=rid)


def on_idle(tx: Tx, idx: int) -> None:
    """onIdle of SessionRunState: delete the session's map entry (whatever runner it now holds)."""
    if tx.design.on_idle == "keep-entry":
        tx.say(steps.RUNSTATE_ON_IDLE, f"onIdle of runner #{idx}: status idle; the map entry is kept")
        return
    home = tx.w.homes[idx]
    held = tx.told().maps[home]  # (for the text: the delete is blind, whatever the entry holds)
    tx.w = tx.w.set_map(home, None)
    note = "" if held in (idx, None) else f" (it held runner #{held}, not #{idx})"
    tx.say(steps.RUNSTATE_ON_IDLE, f"onIdle of runner #{idx}: deletes the session from instance {home}'s map{note}")


def _close_turn(tx: Tx, rid: int) -> None:
    tx.w = tx.w.close_turn(rid)


# --- prompt and prompt_async routes --------------------------------------------------------


def user_id(tx: Tx, p) -> tuple:
    """createUserMessage's id and time.created, fixed together in one object literal:
    id `input.messageID ?? MessageID.ascending()`, time.created the server's Date.now()."""
    if p.id == "server":
        tx.w, mid, created = tx.w.mint(tx.scenario.server)
        return mid, created
    created, tick = tx.w.now(tx.scenario.server)
    counter = tx.f.counter
    if not counter:  # minted as the request is sent: after every client id minted before it
        tx.w, counter = tx.w.client_counter()
    return ids.client(ids.AFTER_ALL if p.id == "after-all" else tick + p.clock, counter), created


def client_mint(tx: Tx) -> None:
    """The client mints the prompt's messageID on its own clock before it sends the request (the
    web app: `messageID ?? Identifier.ascending("message")`). Its tick is the server's when the
    request arrives; among the client ids of that tick it sorts by this step's order."""
    p = tx.scenario.prompt(tx.f.prompt)
    tx.w, counter = tx.w.client_counter()
    tx.say(
        steps.CLIENT_MINT, f"the {p.client} client mints {p.name}'s messageID (client id #{counter - ids.CLIENT + 1})"
    )
    tx.goto("send", counter=counter)


def _mint_user(tx: Tx) -> None:
    """createUserMessage builds the message (id and time.created), then awaits its parts and the
    chat.message hooks before writing it: the fiber keeps the id until the write."""
    p = tx.scenario.prompt(tx.f.prompt)
    mid, created = user_id(tx, p)
    why = " and ".join(
        w
        for w in (
            f"reads its {p.parts} part" if p.parts in ("file", "mcp") else "",
            "awaits the chat.message hook" if p.hook else "",
        )
        if w
    )
    tx.say(steps.PROMPT_MINT, f"builds user message {p.name} (id {ids.show(mid)}), then {why} before writing it")
    tx.f = replace(tx.f, msg=mid, created=created)


def _write_user(tx: Tx) -> None:
    """createUserMessage: the user message is written (updateMessage, then its parts)."""
    p = tx.scenario.prompt(tx.f.prompt)
    # guard="turn": the request's fiber, which holds a client-minted messageID (read only then: a read
    # of the client fiber would make every run's write depend on it, for nothing, and cost DPOR its pruning)
    sent = tx.w.fiber(p.name) if tx.f.kind == "run" and p.id != "server" else None
    if tx.f.msg is not None and tx.f.kind == "client":
        mid, created = tx.f.msg, tx.f.created
        tx.f = replace(tx.f, msg=None, created=None)
    elif sent is not None and sent.msg is not None:  # the client's messageID, sent with the request
        mid, created = sent.msg, tx.w.now(tx.scenario.server)[0]
        tx.w = tx.w.set_fiber(replace(sent, msg=None))
    else:
        mid, created = user_id(tx, p)
    msg = Message(
        mid, tx.w.store.writes, USER, p.name, asks=p.tools, source=p.client, no_reply=p.no_reply, created=created
    )
    tx.w = tx.w.write(msg)
    who = "" if p.id == "server" else f", minted by the {p.client} client"
    tx.say(steps.PROMPT_USER, f"writes user message {p.name} (id {ids.show(mid)}{who})")


def _prompt_step(tx: Tx) -> None:
    f, p = tx.f, tx.scenario.prompt(tx.f.prompt)
    if f.pc == "send":
        route = "prompt_async" if p.route == "v2" else p.route
        tx.say(steps.route(route), f"{p.client} client sends {p.name} by {route}")
        tx.w = tx.w.mark_sent(p.name)
        if p.gap and (p.no_reply or tx.design.guard == "entry"):
            _mint_user(tx)
            tx.goto("write")
            return
        if p.id != "server" and not p.no_reply and tx.design.guard == "turn":
            # the request carries its messageID: fixed now, though the run writes the message later
            mid, _ = user_id(tx, p)
            tx.f = replace(tx.f, msg=mid)
        _after_send(tx, p)
    elif f.pc == "write":
        _after_send(tx, p)
    elif f.pc == "lookup":
        lookup(tx)
        tx.goto("ensure")
    elif f.pc == "ensure":
        _ensure(tx)
    elif f.pc == "await":
        r = tx.w.run(f.run)
        how = "is done" if r.done == "ok" else "was cancelled"
        tx.say(steps.RUNNER_AWAIT, f"r{r.id} {how}: {p.name}'s request returns {r.result}")
        tx.goto("end", result=r.result)


def _after_send(tx: Tx, p) -> None:
    """The rest of prompt(): the write (unless the run writes it), noReply's return, loop()."""
    if p.no_reply:
        _write_user(tx)
        tx.say(steps.PROMPT_NO_REPLY, f"noReply: prompt() returns {p.name} without calling loop()")
        tx.goto("end", result=p.name)
        return
    if tx.design.guard == "entry":
        _write_user(tx)
    tx.say(steps.PROMPT_LOOP, "prompt() calls loop(): SessionRunState.ensureRunning")
    if tx.split:
        tx.goto("lookup")
        return
    lookup(tx)
    _ensure(tx)


# --- the prompt loop (runLoop) -------------------------------------------------------------


def _answer(scenario: Scenario, request: tuple[Message, ...]) -> str:
    """The scripted model: reply to the newest prompt in the request it is sent.

    The request is in (time_created, id) order, so its newest prompt is the last typed user
    message in it (the shell's synthetic one carries no prompt), whatever the ids say. It asks for
    a tool while that user has had fewer tool results after it (in this request; an interrupted
    call's error result counts, as it does for the harness's fake model) than the scenario
    scripts; otherwise it stops.
    """
    users = [i for i, m in enumerate(request) if m.role == USER and not m.synthetic]
    if not users:
        return STOP
    last = users[-1]
    rounds = sum(len(m.tools) for m in request[last + 1 :] if m.role == ASSISTANT)
    return question.script(scenario, request[last], rounds < request[last].asks)


def _head(tx: Tx) -> tuple[ExitTest, bool]:
    """The loop head's read (prompt.ts:1655): lastUser, lastAssistant, the user this turn answers,
    and the exit test on them (model/exittest.py); and whether the fiber continues its own tool call."""
    latest = tx.w.store.latest(tx.design.order)
    own = tx.f.msg and tx.w.store.get(tx.f.msg)
    continuing = bool(own) and own.finish == TOOL_CALLS
    bound = tx.f.user if continuing and tx.design.binding == "turn" else _turn_user(tx, latest.user)
    if tx.design.binding == "pinned":  # PR #28488: initialUser, pinned at the loop's first read
        bound = tx.f.user or latest.user.id
    return exit_test(tx.design.exit, latest, bound), continuing


def exit_at(design: Design, scenario: Scenario, w: World, name: str) -> ExitTest | None:
    """The exit test fiber `name`'s next step runs, on the world it reads then; None if that step
    runs none. What the step writes before its loop head (the user message, under a whole-turn
    guard) is written first, as `_run_step` does."""
    f = w.fiber(name)
    if f.kind != "run" or f.interrupt or f.pc not in ("start", "next") or design.engine != "legacy":
        return None
    tx = Tx(design, scenario, w, f)
    if f.pc == "start" and w.run(f.run).prompt:
        tx.f = replace(tx.f, prompt=w.run(f.run).prompt)
        _write_user(tx)
    return _head(tx)[0]


def _iterate(tx: Tx) -> None:
    """One pass of the loop head: read the messages, resolve the latest, test for exit."""
    rid = tx.f.run
    test, continuing = _head(tx)
    user, last, bound = test.user, test.assistant, test.bound
    seen = f"lastUser {user.label}, lastAssistant {last.label if last else '-'}"
    if tx.design.exit == "parent":
        nxt = _next_unanswered(tx, bound) if test.exits else None
        if nxt is not None:  # PR #28488: the pinned user is answered; re-pin one that joined the run
            tx.say(steps.LOOP_READ, f"reads {seen}: {tx.label(bound)} is answered; re-pins {nxt.label}")
            bound = nxt.id
        elif test.exits:
            tx.say(steps.LOOP_EXIT, f"reads {seen} ({last.finish}, parentID {tx.label(bound)}): exits")
            _return(tx)
            return
    elif test.exits:
        tx.say(steps.LOOP_EXIT, f"reads {seen} ({last.finish}, {user.label} < {last.label} by id): exits")
        _return(tx)
        return
    request = tx.w.store.request()
    tx.say(steps.LOOP_READ, f"reads {seen}: goes on")
    tx.f = replace(tx.f, user=bound, seen=tuple(m.id for m in request), answer=_answer(tx.scenario, request))
    if not continuing:
        _close_turn(tx, rid)
        tx.w = tx.w.open_turn(Turn(rid, bound, tx.w.store.writes))
    if tx.split:
        tx.goto("create")
        return
    _create(tx)


def _return(tx: Tx) -> None:
    """After the loop: prune is forked, then the run returns lastAssistant (Session.findMessage pages
    the messages), and its onExit is finishRun. No await lies between, but at granularity "effect"
    the runtime may yield there: the runner is still Running, so a prompt that comes then joins a
    run that will not read the messages again."""
    if tx.split:
        tx.goto("return")
        return
    _finish_run(tx, "ok")


def _next_unanswered(tx: Tx, pinned):
    """binding="pinned": the oldest user prompt after the pinned one with no reply yet, or None.
    A noReply message counts: nothing stored marks it (conform/build's pin-and-repin cannot tell it
    either), so the loop re-pins it like any prompt; the shell's synthetic user does not."""
    if tx.design.binding != "pinned":
        return None
    msgs = tx.w.store.messages if tx.design.order == "id" else sorted(tx.w.store.messages, key=lambda m: m.seq)
    after = False
    for m in msgs:
        if m.id == pinned:
            after = True
        elif after and m.role == USER and not m.synthetic:
            if not any(c.answers for c in tx.w.store.children(m.id)):
                return m
    return None


def _turn_user(tx: Tx, last_user: Message):
    """The user a new turn answers: lastUser, or with binding="turn" the message of the prompt
    that started this run, while that one has no reply yet."""
    if tx.design.binding == "turn" and not tx.f.msg:
        starter = tx.w.run(tx.f.run).starter
        for m in tx.w.store.messages:
            if m.role == USER and m.label == starter and not any(c.answers for c in tx.w.store.children(m.id)):
                return m.id
    return last_user.id


def _create(tx: Tx) -> None:
    """The loop writes a new assistant, parentID = the user it bound, and calls the model."""
    tx.w, mid, created = tx.w.mint(tx.scenario.server)
    tx.w, label = tx.w.next_label()
    msg = Message(
        mid, tx.w.store.writes, ASSISTANT, label, parent=tx.f.user, source=steps.loop_fiber(tx.f.run), created=created
    )
    tx.w = tx.w.write(msg)
    tx.say(steps.LOOP_ASSISTANT, f"writes assistant {label} (id {ids.show(mid)}) with parentID {tx.label(tx.f.user)}")
    reply = SCRIPT.get(tx.f.answer, "stop")
    tx.say(steps.LLM_CALL, f"calls the model with the {len(tx.f.seen)} messages it read; the script answers {reply}")
    tx.goto("llm", msg=mid)


SCRIPT = {"tool": "a tool call", "question": "a question tool call", "permission": "a tool call that asks permission"}
SCRIPT[question.FAIL] = "a provider error before any content"


def newest_reply(tx: Tx) -> str:
    """Session.findMessage(role != user): what the loop returns, and a cancelled run's waiters get."""
    m = tx.w.store.newest_reply()
    return m.label if m else "-"


def _finish_run(tx: Tx, how: str) -> None:
    """The loop returns the newest non-user message; its onExit is finishRun on the runner's ref."""
    rid = tx.f.run
    r = tx.w.run(rid)
    tx.w = tx.w.set_run(replace(r, result=newest_reply(tx)))
    _close_turn(tx, rid)
    fin = guard.finish_run(tx.w.runners[r.runner], rid)
    tx.w = tx.w.set_runner(r.runner, fin.state)
    if fin.idle:
        tx.say(steps.RUNNER_FINISH_RUN, f"finishRun(r{rid}): runner #{r.runner} Running -> Idle")
    elif fin.start:
        tx.say(steps.RUNNER_FINISH_RUN, f"finishRun(r{rid}): runner #{r.runner} starts queued r{fin.start}")
        spawn(tx, fin.start)
    else:
        tx.say(steps.RUNNER_FINISH_RUN, f"finishRun(r{rid}): runner #{r.runner} no longer runs r{rid}: unchanged")
    tx.f = replace(tx.f, idle=fin.idle, result=how)
    if tx.split:
        tx.goto("exit")
        return
    _complete(tx)


def _complete(tx: Tx) -> None:
    """The effect finishRun returns: onIdle when it went Idle, then complete `done`."""
    r = tx.w.run(tx.f.run)
    if tx.f.idle:
        on_idle(tx, r.runner)
    if r.done is None:
        tx.w = tx.w.set_run(replace(r, done=tx.f.result))
        tx.say(steps.RUNNER_DONE, f"completes r{r.id}'s done ({tx.f.result}): joined callers wake")
    tx.goto("end")


def _run_step(tx: Tx) -> None:
    f = tx.f
    if f.pc == "cleanup":
        _cleanup(tx)
        return
    if f.interrupt and f.pc != "exit":
        _unwind(tx)
        return
    if f.pc == "start":
        prompt = tx.w.run(f.run).prompt
        tx.say(steps.LOOP_START, f"loop r{f.run} starts")
        if prompt:
            tx.f = replace(tx.f, prompt=prompt)
            _write_user(tx)
        _iterate(tx)
    elif f.pc == "create":
        _create(tx)
    elif f.pc == "llm":
        msg = tx.w.store.get(f.msg)
        if f.answer == question.FAIL:
            tx.w = tx.w.update_message(f.msg, error="provider", completed=True)
            tx.say(steps.PROCESSOR_PROVIDER_ERROR, f"the model call fails: {msg.label} gets the error, session.error")
            _stop(tx)
        elif f.answer in ("tool",) + question.ASKS:
            part = ToolPart(len(msg.tools) + 1, "running")
            tx.w = tx.w.update_message(f.msg, tools=msg.tools + (part,))
            tx.say(steps.LLM_TOOL_CALL, f"model streams a tool call into {msg.label}: the tool starts running")
            if f.answer in question.ASKS:
                question.ask(tx)
            else:
                tx.goto("tool")
        else:
            tx.w = tx.w.update_message(f.msg, finish=STOP, completed=True)
            _close_turn(tx, f.run)
            tx.say(steps.LLM_FINISH, f"model streams text and finish-step: {msg.label} finish=stop")
            tx.goto("next")
    elif f.pc == "tool" or (f.pc == "ask" and f.answer == question.REPLIED):
        msg = settle_tools(tx)
        tx.say(steps.LLM_TOOL_RESULT, f"tool completes; finish-step: {msg.label} finish=tool-calls")
        tx.goto("next")
    elif f.pc == "ask":  # rejected: failToolCall sets blocked, and process returns "stop"
        msg = question.reject_tools(tx)
        tx.w = tx.w.update_message(f.msg, finish=TOOL_CALLS, completed=True)
        tx.say(
            steps.PROCESSOR_REJECTED, f"the user rejected it: {msg.label}'s tool part fails, the processor is blocked"
        )
        _stop(tx)
    elif f.pc == "return":
        tx.say(steps.LOOP_RETURN, f"loop r{f.run} returns lastAssistant ({newest_reply(tx)}); onExit: finishRun")
        _finish_run(tx, "ok")
    elif f.pc == "next":
        tx.say(steps.LOOP_CONTINUE, "the stream ends; the loop goes round")
        _iterate(tx)
    elif f.pc == "exit":
        _complete(tx)


def _stop(tx: Tx) -> None:
    """SessionProcessor.process returned "stop" (the processor blocked, or its assistant has an
    error): the loop breaks without its exit test, and the run returns."""
    _close_turn(tx, tx.f.run)
    tx.say(steps.LOOP_STOP, "the processor returned stop: the loop breaks")
    _return(tx)


def settle_tools(tx: Tx) -> Message:
    """The fiber's assistant: its tool calls completed and its step ended in finish tool-calls,
    so the loop goes round (the legacy loop's finish-step and V2's Step.Ended alike; each caller
    says which code it stands for). Returns the assistant as it was."""
    msg = tx.w.store.get(tx.f.msg)
    tools = tuple(replace(p, status="completed") for p in msg.tools)
    tx.w = tx.w.update_message(tx.f.msg, tools=tools, finish=TOOL_CALLS, completed=True)
    return msg


def _unwind(tx: Tx) -> None:
    """The loop fiber is interrupted. Mid-stream, SessionProcessor.halt marks its assistant aborted
    (status idle); with a tool call in flight the abort signal reaches the tool, and cleanup waits
    up to 250 ms for it to settle (a race: the loop's next step, `cleanup`, against the tool's).
    Otherwise cleanup completes the assistant, and finishRun follows."""
    f = tx.f
    msg = tx.w.store.get(f.msg) if f.pc != "start" and f.msg else None
    if msg is not None and not msg.completed:
        tx.w = tx.w.update_message(f.msg, error="aborted")
        tx.say(steps.LOOP_INTERRUPTED, f"interrupted: halt marks {msg.label} aborted")
        if any(p.status == "running" for p in msg.tools) and f.pc != "ask":  # (a question has no process)
            tx.w = tx.w.add_fiber(Fiber(f"t{f.run}", "tool", "settle", run=f.run, msg=f.msg, instance=f.instance))
            tx.say(steps.PROCESSOR_ABORT_TOOL, f"the abort signal reaches {msg.label}'s tool; cleanup waits for it")
            tx.goto("cleanup")
            return
    if not tx.events:
        tx.say(steps.LOOP_INTERRUPTED, f"loop r{f.run} interrupted")
    _cleanup(tx)


def _cleanup(tx: Tx) -> None:
    """SessionProcessor.cleanup: a tool still running when the wait ends is marked error, the
    assistant completed; then the loop's finishRun, which fails `done` (RunnerCancelled)."""
    f = tx.f
    msg = tx.w.store.get(f.msg) if f.pc != "start" and f.msg else None
    if msg is not None and msg.error and not msg.completed:
        late = any(p.status == "running" for p in msg.tools)
        tools = tuple(replace(p, status="error") if p.status == "running" else p for p in msg.tools)
        tx.w = tx.w.update_message(f.msg, completed=True, tools=tools)
        if f.pc == "cleanup":
            state = "still running: its part ends error" if late else "settled: its part stays completed"
            tx.say(steps.PROCESSOR_CLEANUP, f"cleanup's wait ends with the tool {state}; {msg.label} completed")
    _finish_run(tx, "cancelled")
    if tx.f.pc == "exit":
        _complete(tx)


def _tool_step(tx: Tx) -> None:
    """The aborted tool returns (bash kills its process) and completeToolCall settles the call:
    its part ends completed, unless cleanup already marked it error."""
    msg = tx.w.store.get(tx.f.msg)
    if any(p.status == "running" for p in msg.tools):
        tools = tuple(replace(p, status="completed") if p.status == "running" else p for p in msg.tools)
        tx.w = tx.w.update_message(tx.f.msg, tools=tools)
        tx.say(steps.PROCESSOR_COMPLETE_TOOL_CALL, f"the aborted tool returns: {msg.label}'s tool part completed")
    else:
        tx.say(steps.PROCESSOR_COMPLETE_TOOL_CALL, f"the aborted tool returns too late: {msg.label}'s part stays error")
    tx.goto("end")


# --- abort route (SessionPrompt.cancel) ----------------------------------------------------


def _abort_step(tx: Tx) -> None:
    f, p = tx.f, tx.scenario.prompt(tx.f.prompt)
    if f.pc == "send":
        tx.say(steps.ROUTE_ABORT, f"{p.client} client aborts the session ({p.name})")
        tx.w = tx.w.mark_sent(p.name)
        idx = tx.w.maps[_map(tx)]
        if idx is None or not tx.w.runners[idx].busy:
            tx.say(steps.RUNSTATE_CANCEL, "no busy runner: sets status idle")
            tx.goto("end", result="idle")
            return
        st = tx.w.runners[idx]
        c = guard.cancel(st, tx.design.cancel)
        tx.w = tx.w.set_runner(idx, c.state)
        now = tx.design.cancel != "idle-at-once"  # v1.15.4 fails `done` only after the stop
        for rid in c.fail_done if now else ():
            if rid != c.interrupt:
                tx.w = tx.w.set_run(replace(tx.w.run(rid), done="cancelled", result=newest_reply(tx)))
        if c.state.busy:
            tx.say(steps.RUNNER_CANCEL, f"runner #{idx} stays {c.state.tag} until the interrupted fiber stops")
        else:
            tx.say(steps.RUNNER_CANCEL, f"runner #{idx} {st.tag} -> Idle at once; interrupts afterwards")
        pending = () if now else tuple(r for r in c.fail_done if r != c.interrupt)
        if c.interrupt:  # Fiber.interrupt(run.fiber): delivered at once, then awaited
            target = tx.w.fiber(steps.loop_fiber(c.interrupt))
            tx.w = tx.w.set_fiber(replace(target, interrupt=True))
            tx.goto("await_int", runner=idx, run=c.interrupt, target=target.name, fails=pending)
        else:  # stop-shell: first await the shell's `ready` latch
            tx.goto("await_ready", runner=idx, target=tx.w.fiber_at(st.shell).name, fails=pending)
    elif f.pc == "await_ready":
        target = tx.w.fiber(f.target)
        tx.w = tx.w.set_fiber(replace(target, interrupt=True))
        tx.say(steps.RUNNER_STOP_SHELL, f"{f.target}'s shell is ready: completes cancelled and interrupts it")
        tx.goto("await_int")
    elif f.pc == "await_int":
        for rid in (f.run, *f.fails) if f.run else f.fails:
            r = tx.w.run(rid)
            if r.done is None:
                tx.w = tx.w.set_run(replace(r, done="cancelled", result=newest_reply(tx)))
                tx.say(steps.RUNNER_DONE, f"fails r{rid}'s done (RunnerCancelled): its waiters get {newest_reply(tx)}")
        tx.say(steps.RUNNER_IDLE_IF_CURRENT, f"interrupt finished; runner #{f.runner} is {tx.w.runners[f.runner].tag}")
        if tx.design.cancel == "idle-at-once" and guard.idle_if_current(tx.w.runners[f.runner]):
            on_idle(tx, f.runner)
        tx.goto("end", result="cancelled")
