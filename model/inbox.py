"""The V2 turn engine of opencode 1.18.34: admission into `session_input`, the drain fiber, interrupt.

A prompt is admitted (a row with `admitted_seq`) and answered 200 at once; a drain fiber owned by
`SessionRunCoordinator` promotes inputs to user rows at the start of each turn step
(`SessionRunner.runTurn`) and runs the model. Messages carry no parentID: they are ordered by the
event seq. Every step names the bundle span it stands for (model/bundle.py, docs/newest.md).
Designs with `engine = "legacy"` take the v1.15.4 steps of model/fibers.py unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

from turnproof.model import fibers as legacy
from turnproof.model import question, shell, steps
from turnproof.model.config import ANSWERS, Design, Prompt, Scenario
from turnproof.model.fibers import Step, Tx
from turnproof.model.session_input import Entry
from turnproof.model.store import ASSISTANT, STOP, TOOL_CALLS, USER, Message, ToolPart
from turnproof.model.values import replace
from turnproof.model.world import Fiber, Turn, World


def step(design: Design, scenario: Scenario, w: World, f: Fiber) -> tuple[Step, World]:
    """Run fiber `f` one step under the design's engine. Callers check `enabled` first."""
    if f.kind == "client" and scenario.prompt(f.prompt).route == "shell":  # no V2 shell route in 1.18.34
        tx = Tx(design, scenario, w, f)
        shell.step(tx)
        return tx.done()
    if design.engine != "inbox":
        return legacy.step(design, scenario, w, f)
    tx = Tx(design, scenario, w, f)
    if f.pc == "mint":  # a client mints its messageID before sending, whichever engine answers
        legacy.client_mint(tx)
    elif f.kind == "run":
        _drain_step(tx)
    else:
        route = scenario.prompt(f.prompt).route
        if route in ("abort", "interrupt"):
            _interrupt_step(tx)
        elif route in ANSWERS:
            question.answer_step(tx)
        else:
            _prompt_step(tx)
    return tx.done()


def delivery(design: Design, p: Prompt) -> str:
    """The delivery a prompt is admitted with: its own, else the web client's follow-up setting
    (the design's); other clients send none, and `V2Session.prompt` defaults to steer."""
    if p.delivery in ("steer", "queue"):
        return p.delivery
    return design.delivery if p.delivery == "" and p.client == "web" else "steer"


def history(w: World) -> list[Message]:
    """The V2 session's messages in seq order (`SessionHistory.entriesForRunner`): the rows the
    drain wrote, without what the legacy shell route writes into its own tables."""
    return [m for m in sorted(w.store.messages, key=lambda m: m.seq) if not _legacy(m)]


def _legacy(m: Message) -> bool:
    return m.synthetic or (m.role == ASSISTANT and not steps.is_loop_fiber(m.source))


# --- POST /api/session/:sessionID/prompt ---------------------------------------------------


def _prompt_step(tx: Tx) -> None:
    f, p = tx.f, tx.scenario.prompt(tx.f.prompt)
    if f.pc == "send":
        how = delivery(tx.design, p)
        wake = p.resume and not p.no_reply
        extra = "" if wake else ", resume false"
        tx.say(steps.V2_ROUTE_PROMPT, f"{p.client} client sends {p.name} to /api/session/:id/prompt ({how}{extra})")
        tx.w = tx.w.mark_sent(p.name)
        tx.w = tx.w.set_inbox(tx.w.inbox.admit(p.name, how, wake))
        tx.say(steps.V2_ADMIT, f"admits {p.name} into session_input (admitted_seq {tx.w.inbox.seq}, {how})")
        if not wake:
            tx.goto("end", result=p.name)
            return
        if tx.split:
            tx.goto("wake")
            return
        _wake(tx)
    elif f.pc == "wake":
        _wake(tx)


def _wake(tx: Tx) -> None:
    """SessionExecution.wake, then the route answers 200 with the Admitted record."""
    e = tx.w.inbox.entry
    if e is not None:
        tx.w = tx.w.set_inbox(tx.w.inbox.with_entry(replace(e, pending_wake=True)))
        tx.say(steps.V2_WAKE, f"drain {e.owner} owns the session: pendingWake; 200 Admitted")
    else:
        name = _fork(tx, tx.f.prompt)
        tx.say(steps.V2_WAKE, f"no drain owns the session: forks drain {name}; 200 Admitted")
    tx.goto("end", result=tx.f.prompt)


def _fork(tx: Tx, starter: str) -> str:
    """A new coordinator entry whose owner is a freshly forked drain fiber."""
    tx.w, rid = tx.w.new_run(-1, starter, None)
    name = steps.loop_fiber(rid)
    tx.w = tx.w.add_fiber(Fiber(name, "run", "start", run=rid))
    tx.w = tx.w.set_inbox(tx.w.inbox.with_entry(Entry(name)))
    return name


# --- the drain fiber: SessionRunner.run / runTurn ------------------------------------------


def _drain_step(tx: Tx) -> None:
    f = tx.f
    if f.interrupt:
        _unwind(tx)
    elif f.pc == "start":
        inbox = tx.w.inbox
        mode = "steer" if inbox.pending("steer") else "queue" if inbox.pending("queue") else None
        if mode is None:
            tx.say(steps.V2_DRAIN_START, f"drain {f.name}: nothing pending in session_input: returns")
            _exit(tx, "ok")
            return
        tx.say(steps.V2_DRAIN_START, f"drain {f.name} starts: {mode} input pending")
        _turn(tx, mode)
    elif f.pc == "llm":
        _first_content(tx)
    elif f.pc == "stream":
        _stream(tx)
    elif f.pc == "tool" or (f.pc == "ask" and f.answer == question.REPLIED):
        msg = legacy.settle_tools(tx)
        tx.say(steps.V2_TOOL_RESULT, f"tool settles; step ended: {msg.label} finish=tool-calls, needs continuation")
        tx.goto("next")
    elif f.pc == "ask":  # rejected: runTurn fails the unsettled tools and interrupts its own drain
        msg = question.reject_tools(tx)
        tx.say(steps.V2_REJECTED, f"the user rejected {msg.label}'s tool: it fails, and the drain interrupts itself")
        _exit(tx, "cancelled")
    elif f.pc == "next":
        _next(tx)


def _turn(tx: Tx, mode: str) -> None:
    """runTurn: promote by mode up to the seq snapshot, then build the request and call the model."""
    rid = tx.f.run
    inbox = tx.w.inbox
    snapshot = inbox.seq
    rows = [r for r in inbox.pending("steer") if r.admitted <= snapshot]
    if mode == "queue" and inbox.pending("queue"):
        rows = [inbox.pending("queue")[0]] + rows
    first = None
    for r in rows:
        tx.w = tx.w.set_inbox(tx.w.inbox.promote(r.name, rid))
        p = tx.scenario.prompt(r.name)
        tx.w, mid, created = tx.w.mint(tx.scenario.server)
        no_reply = not r.wake
        msg = Message(
            mid, tx.w.store.writes, USER, r.name, asks=p.tools, source=p.client, no_reply=no_reply, created=created
        )
        tx.w = tx.w.write(msg)
        first = first or mid
        seq = tx.w.inbox.row(r.name).promoted
        tx.say(
            steps.V2_PROMOTE, f"promotes {r.name} ({r.delivery}, admitted_seq {r.admitted}) to a user row, seq {seq}"
        )
    if not any(t.run == rid for t in tx.w.turns):
        users = [m for m in history(tx.w) if m.role == USER]
        opener = first or (users[-1].id if users else None)
        if opener is not None:
            tx.w = tx.w.open_turn(Turn(rid, opener, tx.w.store.writes))
    seen = history(tx.w)
    answer = _answer(tx.scenario, seen)
    reply = legacy.SCRIPT.get(answer, "stop")
    tx.say(steps.V2_REQUEST, f"builds the request from {len(seen)} messages in seq order; the script answers {reply}")
    tx.goto("llm", seen=tuple(m.id for m in seen), answer=answer, msg=None)


def _answer(scenario: Scenario, seen: list[Message]) -> str:
    """The scripted model: reply to the newest user row in the request, with a tool call while that
    row has had fewer completed tool round-trips after it than the scenario scripts."""
    users = [m for m in seen if m.role == USER]
    if not users:
        return STOP
    last = users[-1]
    rounds = sum(
        1 for m in seen if m.role == ASSISTANT and m.seq > last.seq for p in m.tools if p.status == "completed"
    )
    return question.script(scenario, last, rounds < last.asks)


def _first_content(tx: Tx) -> None:
    """The model's first content arrives: the assistant row appears (`session.next.step.started`);
    or the call fails first, and so does the drain, which the coordinator only logs."""
    if tx.f.answer == question.FAIL:
        tx.say(steps.V2_DRAIN_FAILED, f"the model call fails before any content: drain {tx.f.name} fails, only logged")
        _exit(tx, "failed")
        return
    tx.w, mid, created = tx.w.mint(tx.scenario.server)
    tx.w, label = tx.w.next_label()
    tx.w = tx.w.write(Message(mid, tx.w.store.writes, ASSISTANT, label, source=tx.f.name, created=created))
    tx.say(steps.V2_ASSISTANT, f"first content: writes assistant {label} (no parentID; its place is its seq)")
    tx.goto("stream", msg=mid)


def _stream(tx: Tx) -> None:
    """The rest of the stream: a tool call that starts running, or text and the step's end."""
    f = tx.f
    mid, label = f.msg, tx.label(f.msg)
    if f.answer in ("tool",) + question.ASKS:
        tx.w = tx.w.update_message(mid, tools=(ToolPart(1, "running"),))
        tx.say(steps.V2_TOOL_CALL, f"model streams a tool call into {label}: the tool starts running")
        tx.goto("tool", msg=mid)
        if f.answer in question.ASKS:
            question.ask(tx)
        return
    tx.w = tx.w.update_message(mid, finish=STOP, completed=True)
    tx.w = tx.w.close_turn(f.run)
    tx.say(steps.V2_FINISH, f"model streams text; step ended: {label} finish=stop")
    tx.goto("next", msg=mid)


class DrainTest(NamedTuple):
    """What the drain's continuation test reads once runTurn returned (`SessionRunner.run`):
    the step's assistant, and the inputs still pending in session_input by delivery."""

    own: Message
    steer: tuple[str, ...]
    queue: tuple[str, ...]


def drain_at(design: Design, w: World, name: str) -> DrainTest | None:
    """The continuation test fiber `name`'s next step runs (see `_next`), or None if it runs none."""
    f = w.fiber(name)
    if design.engine != "inbox" or f.kind != "run" or f.interrupt or f.pc != "next":
        return None
    pending = {d: tuple(r.name for r in w.inbox.pending(d)) for d in ("steer", "queue")}
    return DrainTest(w.store.get(f.msg), pending["steer"], pending["queue"])


def _next(tx: Tx) -> None:
    """runTurn returned: continue on a tool call or a pending steer, else flush one queued input,
    else the drain returns."""
    own = tx.w.store.get(tx.f.msg)
    inbox = tx.w.inbox
    if own.finish == TOOL_CALLS:
        tx.say(steps.V2_CONTINUE, f"{own.label} called a tool: runTurn again (steer)")
        _turn(tx, "steer")
    elif inbox.pending("steer"):
        tx.say(steps.V2_CONTINUE, f"{own.label} stopped but a steer is pending: one more step (steer)")
        _turn(tx, "steer")
    elif inbox.pending("queue"):
        tx.say(steps.V2_QUEUE_NEXT, "the turn has settled and a queued input is pending: runTurn (queue)")
        _turn(tx, "queue")
    else:
        tx.say(steps.V2_CONTINUE, f"{own.label} stopped and nothing is pending: the drain returns")
        _exit(tx, "ok")


def _exit(tx: Tx, how: str) -> None:
    """The drain's exit handler: after a return, a wake that came meanwhile drains again in the same
    entry; after a failure or an interrupt it takes a fresh entry and drain; else the entry goes."""
    f = tx.f
    e = tx.w.inbox.entry
    tx.w = tx.w.close_turn(f.run)
    if e is not None and e.pending_wake and not e.stopping and how == "ok":
        tx.w = tx.w.set_inbox(tx.w.inbox.with_entry(replace(e, pending_wake=False)))
        tx.say(steps.V2_DRAIN_EXIT, f"drain {f.name} returned; pendingWake: it drains again in the same entry")
        tx.goto("start", msg=None, seen=(), answer="")
        return
    tx.w = tx.w.set_run(replace(tx.w.run(f.run), done=how))
    if e is not None and e.pending_wake:
        name = _fork(tx, tx.w.run(f.run).starter)
        tx.say(steps.V2_DRAIN_EXIT, f"drain {f.name} {_ENDED[how]}; a wake came meanwhile: forks drain {name}")
    else:
        tx.w = tx.w.set_inbox(tx.w.inbox.with_entry(None))
        tx.say(steps.V2_DRAIN_EXIT, f"drain {f.name} {_ENDED[how]}: entry deleted")
    tx.goto("end", result=how)


_ENDED = {"ok": "returned", "cancelled": "stopped", "failed": "failed"}


def _unwind(tx: Tx) -> None:
    """The drain is interrupted: an assistant mid-stream fails, its unsettled tools too."""
    f = tx.f
    if f.msg:
        msg = tx.w.store.get(f.msg)
        if not msg.completed:
            tools = tuple(replace(p, status="error") if p.status == "running" else p for p in msg.tools)
            tx.w = tx.w.update_message(f.msg, error="aborted", completed=True, tools=tools)
            tx.say(steps.V2_INTERRUPTED, f"interrupted: {msg.label} failed (provider turn interrupted)")
    if not tx.events:
        tx.say(steps.V2_INTERRUPTED, f"drain {f.name} interrupted")
    _exit(tx, "cancelled")


# --- POST /api/session/:id/interrupt -------------------------------------------------------


def _interrupt_step(tx: Tx) -> None:
    f, p = tx.f, tx.scenario.prompt(tx.f.prompt)
    if f.pc == "send":
        tx.w = tx.w.mark_sent(p.name)
        e = tx.w.inbox.entry
        if e is None:
            tx.say(
                steps.V2_ROUTE_INTERRUPT, f"{p.client} client interrupts ({p.name}): no drain owns the session, no-op"
            )
            tx.goto("end", result="idle")
            return
        tx.w = tx.w.set_inbox(tx.w.inbox.with_entry(replace(e, stopping=True, pending_wake=False)))
        target = tx.w.fiber(e.owner)
        tx.w = tx.w.set_fiber(replace(target, interrupt=True))
        tx.say(steps.V2_ROUTE_INTERRUPT, f"{p.client} client interrupts ({p.name}): stopping, pendingWake cleared")
        tx.goto("await_int", target=e.owner)
    elif f.pc == "await_int":
        tx.say(steps.V2_INTERRUPT_DONE, f"drain {f.target} has stopped: the interrupt returns")
        tx.goto("end", result="interrupted")
