"""The model's observable properties, judged on a real session's persisted messages.

What a store shows (ids, roles, parentID, finish, time, error, parts), read the way opencode's
prompt loop reads it (`session/prompt.ts` `runLoop`, v1.15.4):

* **terminal-siblings** (the model's `no-terminal-siblings`): two or more assistants under one
  parentID that each end a turn: a finish other than `tool-calls`, no tool parts the loop counts
  (it goes round on a `stop` with tool calls, prompt.ts:1668) and no error.
* **tool-followup** (`tool-followup`): a `tool-calls` assistant with no later assistant under its
  parent: the tool result never reached the model under that user.
* **turn-binding** (`turn-binding`, as it shows in a store): after a `tool-calls` assistant of
  user U1, the assistant that carries on is parented to a newer user U2.
* **unanswered** (`prompt-answered`): a user message with no completed reply that is not a tool
  round-trip.

Not flagged, because opencode does them on purpose: a compaction hand-over (a user message with a
`compaction` part, its `summary` assistant and the synthetic "Continue…" user after it,
`SessionCompaction.process`); a subtask command's synthetic "Summarize the task tool output" user
(`handleSubtask`); a loop stopped by a rejected permission or dismissed question
(`processor.ts` `blocked`); structured output (the loop breaks on it); assistants with an error
(aborted, API error: the user saw the turn fail); user messages whose parts are all synthetic
(noReply context injections, background-task results); task-tool subagents, which live in their
own child sessions. A session still running gets warnings, not
violations, for its open tail; "still running" is judged per turn: only the newest assistant
(by id or by time.created) can be in flight, so an older assistant left without time.completed
(a run killed or crashed) does not hide a broken tool branch at the end of the session.

Orders. 1.15.4 resolves lastUser, lastAssistant and the exit test by id; later releases read by
time.created. turn-binding is looked for in both orders and each finding says which order it
relies on; every pair of messages whose id order and creation order disagree is listed, with
whether the loop's exit test would misread it. A parentID cycle is an input error, not a finding
(no opencode session has one): its messages are left out and the session is incomplete. A
malformed tool part (no state object, an unknown status) is never counted as a tool call: it is
ignored with a warning, so no finding rests on it (a part that is not an object at all is a
record that could not be read: the session is incomplete).

One caveat: an abort that lands exactly between a tool round-trip and the next model call leaves
no trace in the store, so it reads as a tool-followup violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from turnproof.audit import inbox
from turnproof.audit.records import REJECTED, Msg, Session, id_time
from turnproof.audit.release import ExitTest, exit_test

KINDS = {
    "terminal-siblings": "no-terminal-siblings",
    "tool-followup": "tool-followup",
    "turn-binding": "turn-binding",
    "unanswered": "prompt-answered",
}
V2_KINDS = KINDS | {"stranded": "no-silent-drop"}  # V2 only: an input left pending (audit/inbox.py)
SKEW_MS = 50  # a user id minted this far from its time.created was minted on another clock
WRAP_MS = 1 << 36  # 1.15.4 ids keep the low 48 bits of ms*4096 (id/id.ts): they wrap every 2^36 ms


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of KINDS
    says: str
    nodes: tuple[str, ...]  # message ids to mark
    rows: tuple[str, ...] = ()  # one line per message involved: id, role, parent, finish, times
    order: str = ""  # turn-binding: the order it relies on, "id", "creation" or "id and creation"

    def to_json(self, s: Session) -> dict:
        doc = {
            "kind": self.kind,
            "property": V2_KINDS[self.kind],
            "says": self.says,
            "messages": [
                _msg_json(s.messages[n]) if n in s.messages else {"id": n, "missing": True} for n in self.nodes
            ],
        }
        return doc | ({"order": self.order} if self.order else {})


@dataclass
class SessionAudit:
    session: Session
    violations: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    running: bool = False
    flying: set[str] = field(default_factory=set)  # the assistants that may still be in flight
    orders: list[dict] = field(default_factory=list)  # where id order and creation order disagree
    drawn: list[str] = field(default_factory=list)
    exit_test: ExitTest | None = None  # legacy: the release's loop exit test (audit/release.py)

    @property
    def complete(self) -> bool:
        return self.session.skipped == 0


def audit_session(s: Session, release: str | None = None) -> SessionAudit:
    a = SessionAudit(s)
    a.warnings.extend(s.warnings)
    if s.engine == "v2":
        return _audit_v2(a)
    a.exit_test = exit_test(release or s.version)
    msgs = s.ordered()
    if not msgs:
        a.warnings.append(f"{s.file}: session {s.id}: no usable messages")
        return a
    by = s.messages
    cycle = _cycles(a, msgs)
    if cycle:
        msgs = [m for m in msgs if m.id not in cycle]
    users = [m for m in msgs if m.role == "user"]
    assistants = [m for m in msgs if m.role == "assistant"]
    _in_flight(a, assistants)
    for m in assistants:
        p = by.get(m.parent)
        if p is None:
            a.warnings.append(f"{s.file}: {m.where}: parentID: {m.parent} points to no message in the session")
        elif p.role != "user":
            a.warnings.append(f"{s.file}: {m.where}: parentID: {m.parent} is an assistant, not a user message")
    _skew(a, users)
    _orders(a, msgs, a.exit_test)
    _siblings(a, assistants)
    _tool_branches(a, msgs, assistants)
    _unanswered(a, users, assistants, msgs)
    if not s.has_parts:
        a.notes.append(
            "no parts in this source: assistants with tool calls but finish stop, synthetic context and "
            "compaction are told from message fields only"
        )
    return a


def _audit_v2(a: SessionAudit) -> SessionAudit:
    """A V2 session, judged by seq with the inbox's properties (audit/inbox.py)."""
    found, warnings, notes, a.running = inbox.judge(a.session)
    a.violations.extend(Finding(kind, says, nodes, rows) for kind, says, nodes, rows in found)
    a.warnings.extend(warnings)
    a.notes.extend(notes)
    if not a.session.messages and not a.session.inputs:
        a.warnings.append(f"{a.session.file}: session {a.session.id}: no usable messages")
    return a


def _in_flight(a: SessionAudit, assistants: list[Msg]) -> None:
    """Judge "still running" per turn: only the newest assistant (by id, or by time.created) can
    be in flight; an older one without time.completed belongs to a run that ended without
    completing it (killed, crashed, restarted) and is judged as it stands."""
    open_ = [m for m in assistants if not m.done and m.error is None]
    if not open_:
        return
    newest = {assistants[-1].id}
    dated = [m for m in assistants if m.created is not None]
    if dated:
        newest.add(max(dated, key=lambda m: (m.created, m.id)).id)
    a.flying = {m.id for m in open_ if m.id in newest}
    a.running = bool(a.flying)
    if a.running:
        last = max(a.flying)
        a.notes.append(
            f"assistant {last} has no time.completed: the session looks still running "
            "(its open tail is reported as warnings)"
        )
    stale = [m.id for m in open_ if m.id not in a.flying]
    if stale:
        shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        a.notes.append(
            f"{shown}: no time.completed, but newer assistants follow: not in flight (its run ended without "
            "completing it), so judged as it stands"
        )


def _cycles(a: SessionAudit, msgs: list[Msg]) -> set[str]:
    """Messages on a parentID cycle. Decided: an error, not a finding. No opencode session has one
    (an assistant's parentID names the user message it answers, prompt.ts), so the file is damaged:
    its members are left out, the session is incomplete (exit 2 unless a violation is found in the
    rest) and a warning names them."""
    s = a.session
    by = s.messages
    on: set[str] = set()
    for start in msgs:
        seen: list[str] = []
        m = start
        while m is not None and m.role == "assistant" and m.id not in on:
            if m.id in seen:
                loop = seen[seen.index(m.id) :]
                on.update(loop)
                s.skipped += len(loop)
                a.warnings.append(
                    f"{s.file}: parentID cycle {' -> '.join(loop + [m.id])}: not an opencode message tree "
                    "(an assistant's parentID names a user message); these messages are left out and the "
                    "audit is incomplete"
                )
                break
            seen.append(m.id)
            m = by.get(m.parent) if m.parent else None
    return on


def _orders(a: SessionAudit, msgs: list[Msg], test: ExitTest) -> None:
    """Pairs of messages whose id order disagrees with their time.created order, and whether the
    release's loop exit test (audit/release.py; 1.15.4: lastUser.id < lastAssistant.id, by id) would misread them."""
    top: Msg | None = None  # the latest-created message so far, in id order
    for m in msgs:
        if m.created is None:
            continue
        if top is not None and m.created < top.created:
            a.orders.append(_order_pair(top, m, test))
        if top is None or m.created >= top.created:
            top = m


def _order_pair(first: Msg, then: Msg, test: ExitTest) -> dict:
    """`first` sorts before `then` by id but was created after it."""
    ms = first.created - then.created
    says = (
        f"{_short(first)} ({first.role}) sorts before {_short(then)} ({then.role}) by id "
        f"but was created {ms} ms after it"
    )
    if not test.by_id:
        misread = test.misread()
    elif first.role == "user" and then.role == "assistant":
        misread = (
            f"yes: the exit test takes {_short(first)} as answered once {_short(then)} is the last assistant, "
            "so the loop can stop with it unanswered"
        )
    elif first.role == "assistant" and then.role == "user":
        misread = (
            f"yes: the exit test does not take {_short(first)} as answering {_short(then)}, "
            "so the loop goes round again (an extra reply; a runaway while it lasts)"
        )
    else:
        which = "lastUser" if first.role == "user" else "lastAssistant"
        misread = f"not by the exit test itself, but {which} (the newest by id) is not the newest written"
    if first.created // WRAP_MS != then.created // WRAP_MS:
        says += " (the ids wrapped between them: 1.15.4 ids keep 48 bits of ms*4096, every 2^36 ms)"
    return {
        "messages": [first.id, then.id],
        "roles": [first.role, then.role],
        "created_ms_apart": ms,
        "exit_test_misreads": misread.startswith("yes"),
        "says": f"{says}; the loop's exit test ({test.text}) misreads it: {misread}",
    }


def _terminal(m: Msg) -> bool:
    return m.role == "assistant" and m.finish not in (None, "tool-calls") and not m.loop_tools and m.error is None


def _siblings(a: SessionAudit, assistants: list[Msg]) -> None:
    under: dict[str, list[Msg]] = {}
    for m in assistants:
        if _terminal(m):
            under.setdefault(m.parent, []).append(m)
    for parent, kids in under.items():
        if len(kids) < 2:
            continue
        p = a.session.messages.get(parent)
        a.violations.append(
            Finding(
                "terminal-siblings",
                f"{len(kids)} terminal assistants under {_name(p) if p else parent}: "
                + ", ".join(_short(k) for k in kids),
                (parent, *(k.id for k in kids)),
                (_row(p) if p else f"{parent} (missing)", *(_row(k) for k in kids)),
            )
        )


def _handover(s: Session, t: Msg, later, summarised: set[str]) -> str:
    """Why a tool-calls assistant legitimately has no follow-up under its own user, or ''.
    `later`: the messages after `t` (read only up to the next assistant); `summarised`: the users
    a compaction summary answers (`_summarised`)."""
    if t.error:
        return f"it ended with an error ({t.error})"
    if t.structured:
        return "structured output ended the loop"
    for tool in t.tools:
        if tool.status == "error" and any(r in tool.error.lower() for r in REJECTED):
            return "a rejected permission or dismissed question stopped the loop"
    u1 = s.messages.get(t.parent)
    for m in later:
        if m.role == "assistant":
            if m.summary:
                return "a compaction took over the turn"
            break
        if m.role == "user":
            if m.compaction or m.id in summarised:
                return "a compaction took over the turn"
            if m.synthetic and u1 is not None and u1.parts and u1.parts.subtask:
                return "a subtask command's synthetic follow-up took over the turn"
    return ""


def _summarised(s: Session) -> set[str]:
    """The users answered by a compaction summary (once per session: _handover asks per message)."""
    return {
        m.parent
        for m in s.messages.values()
        if m.role == "assistant" and m.parent and (m.summary or m.agent == "compaction")
    }


def _rebound(t: Msg, later_a, newer, followed: bool) -> Msg | None:
    """The assistant that carries on after tool round-trip `t` under a newer user, or None.
    `later_a`: an iterator over the assistants after `t`; `followed`: one of them is under t's user."""
    nxt = next(later_a, None)
    if nxt is not None and nxt.parent != t.parent and newer(nxt.parent, t.parent):
        return nxt
    if not followed:  # (at most the last assistant under each user gets here)
        return next((m for m in later_a if newer(m.parent, t.parent)), None)
    return None


def _order(msgs: list[Msg]):
    """For one order of the messages: each one's position, and the last position of an assistant
    under each user: what lets each tool round-trip be judged without rescanning what follows it."""
    at = {m.id: i for i, m in enumerate(msgs)}
    last_under: dict[str | None, int] = {}
    for i, m in enumerate(msgs):
        if m.role == "assistant":
            last_under[m.parent] = i
    return at, last_under


def _assistants_after(msgs: list[Msg], i: int):
    return (m for m in _after(msgs, i) if m.role == "assistant")


def _after(msgs: list[Msg], i: int):
    """The messages after position `i`, lazily (islice would step over the first i one by one)."""
    return (msgs[k] for k in range(i + 1, len(msgs)))


def _tool_branches(a: SessionAudit, msgs: list[Msg], assistants: list[Msg]) -> None:
    s = a.session
    index, last_under = _order(msgs)
    last_a = max((index[m.id] for m in assistants), default=-1)
    summarised = _summarised(s)
    # The same question in creation order (time.created, then id): later releases read messages
    # so, and a client-minted or wrapped id makes a newer user sort lower.
    dated = all(m.created is not None for m in msgs)
    by_time = sorted(msgs, key=lambda m: (m.created, m.id)) if dated else []
    at, last_under_t = _order(by_time)

    def newer_by_time(u2: str, u1: str) -> bool:
        x, y = s.messages.get(u2), s.messages.get(u1)
        return x is not None and y is not None and x.id in at and y.id in at and at[x.id] > at[y.id]

    for t in assistants:
        if t.finish != "tool-calls" and not (t.finish is not None and t.loop_tools):
            continue
        i = index[t.id]
        followed = last_under.get(t.parent, -1) > i
        why = _handover(s, t, _after(msgs, i), summarised)
        if why:
            if not followed:
                a.notes.append(f"{t.id} ({t.finish}) has no follow-up under its user: {why}")
            continue
        u1 = s.messages.get(t.parent)
        by_id = _rebound(t, _assistants_after(msgs, i), lambda u2, u1: u2 > u1, followed)
        by_tm = None
        if by_time:
            j = at[t.id]
            by_tm = _rebound(t, _assistants_after(by_time, j), newer_by_time, last_under_t.get(t.parent, -1) > j)
        found = [(by_id, "id and creation" if by_tm is by_id else "id")] if by_id is not None else []
        if by_tm is not None and by_tm is not by_id:
            found.append((by_tm, "creation"))
        for rebound, order in found:
            u2 = s.messages.get(rebound.parent)
            ctx = " (a synthetic/noReply message)" if u2 is not None and u2.synthetic else ""
            only = ""
            if order == "id":
                only = " — in id order only: by time.created it is not newer"
            elif order == "creation":
                only = (
                    " — in creation order only: its id sorts lower (a client-minted id, or a clock that stepped back)"
                )
            a.violations.append(
                Finding(
                    "turn-binding",
                    f"{_short(rebound)} carries on after {_short(t)} ({t.finish}) of {_name(u1) if u1 else t.parent} "
                    f"but its parentID is the newer {_name(u2) if u2 else rebound.parent}{ctx}{only}",
                    (rebound.id, t.id, t.parent, rebound.parent),
                    tuple(_row(m) for m in (u1, t, u2, rebound) if m is not None),
                    order,
                )
            )
        if followed:
            continue
        if a.running and last_a <= i:
            a.warnings.append(f"{t.id} ({t.finish}) under {t.parent} has no follow-up yet (session still running)")
            continue
        tail = " (the session's last message: the loop stopped after a tool round-trip)" if i == len(msgs) - 1 else ""
        a.violations.append(
            Finding(
                "tool-followup",
                f"{_short(t)} ({t.finish}) under {_name(u1) if u1 else t.parent} "
                f"got no model reply under that user{tail}",
                (t.id, t.parent),
                tuple(_row(m) for m in (u1, t) if m is not None),
            )
        )


def _answers(m: Msg) -> bool:
    """Counts as a reply: completed and not a tool round-trip (or the turn failed visibly)."""
    return m.done and (m.finish != "tool-calls" or m.error is not None)


def _unanswered(a: SessionAudit, users: list[Msg], assistants: list[Msg], msgs: list[Msg]) -> None:
    s = a.session
    kids: dict[str, list[Msg]] = {}
    for m in assistants:
        kids.setdefault(m.parent, []).append(m)
    index = {m.id: i for i, m in enumerate(msgs)}
    summarised = _summarised(s)
    last_user = users[-1].id if users else None
    for u in users:
        mine = kids.get(u.id, [])
        if any(_answers(k) for k in mine) or any(k.error for k in mine):
            continue
        if u.synthetic:
            a.notes.append(f"{u.id}: synthetic context (noReply injection or reminder), no reply expected")
            continue
        tools = [k for k in mine if k.finish == "tool-calls"]
        if tools and _handover(s, tools[-1], _after(msgs, index[tools[-1].id]), summarised):
            continue
        if a.running and (u.id == last_user or any(k.id in a.flying for k in mine)):
            a.warnings.append(f"{_name(u)} has no reply yet (session still running)")
            continue
        why = "its only replies are tool round-trips" if mine else "no assistant has it as parentID"
        a.violations.append(
            Finding(
                "unanswered",
                f"{_name(u)} has no reply ({why})",
                (u.id, *(k.id for k in mine)),
                (_row(u), *(_row(k) for k in mine)),
            )
        )


def _skew(a: SessionAudit, users: list[Msg]) -> None:
    for u in users:
        t = id_time(u.id)
        if t is None or u.created is None:
            continue
        d = (t - u.created % (1 << 36) + (1 << 35)) % (1 << 36) - (1 << 35)
        if abs(d) >= SKEW_MS:
            way = "ahead of" if d > 0 else "behind"
            a.notes.append(
                f"{u.id}: its id's clock reads {abs(d)} ms {way} its time.created "
                "(an id minted by the client: the loop compares ids, so client clock skew matters)"
            )


# --------------------------------------------------------------------------------------------
# text


def _when(ms: int | None) -> str:
    if ms is None:
        return "—"
    try:
        iso = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    except (OverflowError, OSError, ValueError):
        iso = "?"
    return f"{ms} ({iso})"


def _short(m: Msg) -> str:
    return f"{m.id}" + (f" [{m.label}]" if m.label else "")


def _name(m: Msg | None) -> str:
    if m is None:
        return "?"
    return f"user {_short(m)}" if m.role == "user" else f"assistant {_short(m)}"


def _row(m: Msg) -> str:
    if m.role == "user":
        kind = " synthetic" if m.synthetic else " compaction" if m.compaction else ""
        return f"{_short(m)}  user{kind}  created {_when(m.created)}"
    extra = f"  error {m.error}" if m.error else ""
    tools = f"  tools {','.join(t.name + ':' + t.status for t in m.tools)}" if m.tools else ""
    return (
        f"{_short(m)}  assistant  parentID {m.parent}  finish {m.finish or '—'}{tools}{extra}  "
        f"created {_when(m.created)}  completed {_when(m.completed)}"
    )


def _msg_json(m: Msg) -> dict:
    d = {"id": m.id, "role": m.role, "created": m.created}
    if m.label:
        d["label"] = m.label
    if m.role == "assistant":
        d.update(
            parentID=m.parent,
            finish=m.finish,
            completed=m.completed,
            error=m.error,
            tools=[{"tool": t.name, "status": t.status} for t in m.tools],
        )
    else:
        d.update(synthetic=m.synthetic, compaction=m.compaction)
    return d
