"""The inbox properties (specs/inbox.py, docs/newest.md) judged on a real V2 session: by seq, no parentIDs.

A V2 store has no parentID, so a turn is read from the seq order of its rows: a step with finish
`tool-calls` leaves its turn open; the next assistant continues it; a step that ends otherwise
closes it. Judged, each as the model states it for the inbox:

* **turn-binding**: no user row is promoted into an open turn before the step that continues it,
  when the input that opened the turn was admitted with `delivery: "queue"` (queue promises the
  turn to its input; a steer-opened turn takes follow-ups by design, which is noted).
* **terminal-siblings** (`no-terminal-siblings`): between two stop replies some user row was promoted.
* **tool-followup**: a tool-calls step is followed by a later assistant.
* **unanswered** (`prompt-answered`): every user row has a later completed reply (its own or one it
  was folded into), unless the step after it failed visibly (an interrupt, a step failed) or a
  rejected question or permission stopped it.
* **stranded** (`no-silent-drop`): no `session_input` row is left pending (admitted with a 200,
  never promoted) once the session is at rest.

Not visible in a store: a drain that failed before its first content (#49740) leaves no row, so it
reads as a user row with no reply; an interrupt between two steps leaves none either.
"""

from __future__ import annotations

from turnproof.audit.records import REJECTED, Msg, Session

Found = tuple[str, str, tuple[str, ...], tuple[str, ...]]  # kind, says, message ids, rows


def judge(s: Session) -> tuple[list[Found], list[str], list[str], bool]:
    """(violations, warnings, notes, still running) of a V2 session."""
    rows = s.ordered()
    found: list[Found] = []
    warnings: list[str] = []
    notes: list[str] = []
    inputs = {r.id: r for r in s.inputs}
    assistants = [m for m in rows if m.role == "assistant"]
    last = assistants[-1] if assistants else None
    running = last is not None and not last.done and last.error is None
    if running:
        notes.append(f"assistant {last.id} has no time.completed: the session looks still running")
    _binding(rows, inputs, found, notes)
    _siblings(rows, found)
    _followup(rows, running, found, warnings, notes)
    _answered(rows, running, found, warnings)
    _stranded(s, rows, running, found, warnings)
    return found, warnings, notes, running


def _delivery(inputs: dict, m: Msg) -> str:
    r = inputs.get(m.id)
    return r.delivery if r else ""


def _binding(rows: list[Msg], inputs: dict, found: list[Found], notes: list[str]) -> None:
    opener: Msg | None = None  # the user row whose turn is open
    tool: Msg | None = None  # the open turn's tool-calls step awaiting its continuation
    between: list[Msg] = []
    for m in rows:
        if m.role == "user":
            if tool is not None and not m.synthetic:
                between.append(m)
            elif opener is None:
                opener = m
            continue
        if tool is not None and between and opener is not None:
            b = between[0]
            how = f"{_delivery(inputs, b) or 'unknown delivery'}ed"
            if _delivery(inputs, opener) == "queue":
                found.append(
                    (
                        "turn-binding",
                        f"{m.id} continues the turn of user {opener.id} (queued) after its tool round-trip "
                        f"{tool.id}, but user {b.id} ({how}) was promoted into that turn first: {m.id} answers it",
                        (m.id, tool.id, opener.id, b.id),
                        tuple(_row(x, inputs) for x in (opener, tool, b, m)),
                    )
                )
            else:
                notes.append(
                    f"user {b.id} ({how}) was folded into the turn of {opener.id} after its tool round-trip "
                    f"{tool.id}: a steer-opened turn takes follow-ups by design (steer does not promise turn-binding)"
                )
        between = []
        closes = not _tool_step(m) or m.error is not None
        tool = None if closes else m
        if closes:
            opener = None


def _tool_step(m: Msg) -> bool:
    return m.finish == "tool-calls" or (m.finish is not None and m.loop_tools)


def _terminal(m: Msg) -> bool:
    return m.role == "assistant" and m.finish is not None and not _tool_step(m) and m.error is None


def _siblings(rows: list[Msg], found: list[Found]) -> None:
    last_user: Msg | None = None
    last_stop: Msg | None = None
    for m in rows:
        if m.role == "user":
            last_user, last_stop = m, None
        elif _terminal(m):
            if last_stop is not None:
                who = f"user {last_user.id}" if last_user else "the session's start"
                found.append(
                    (
                        "terminal-siblings",
                        f"{last_stop.id} and {m.id} both end a turn after {who} with no new user row between",
                        tuple(x.id for x in (last_user, last_stop, m) if x is not None),
                        tuple(_row(x, {}) for x in (last_user, last_stop, m) if x is not None),
                    )
                )
            last_stop = m


def _rejected(m: Msg) -> bool:
    return any(t.status == "error" and any(r in t.error.lower() for r in REJECTED) for t in m.tools)


def _followup(rows: list[Msg], running: bool, found: list[Found], warnings: list[str], notes: list[str]) -> None:
    for i, m in enumerate(rows):
        if m.role != "assistant" or not _tool_step(m) or m.error is not None:
            continue
        if any(n.role == "assistant" for n in rows[i + 1 :]):
            continue
        if _rejected(m):
            notes.append(f"{m.id} (tool-calls) has no continuation: a rejected permission or question stopped it")
        elif running or not m.done:
            warnings.append(f"{m.id} (tool-calls) has no continuation yet (session still running)")
        else:
            found.append(
                (
                    "tool-followup",
                    f"{m.id} (tool-calls) got no continuation: no later step in seq order",
                    (m.id,),
                    (_row(m, {}),),
                )
            )


def _answered(rows: list[Msg], running: bool, found: list[Found], warnings: list[str]) -> None:
    for i, u in enumerate(rows):
        if u.role != "user" or u.synthetic:
            continue
        later = [n for n in rows[i + 1 :] if n.role == "assistant"]
        if any(_terminal(n) and n.done for n in later):
            continue
        if any(n.error is not None or _rejected(n) for n in later):
            continue  # the turn failed visibly (interrupted, a step failed) or its user rejected a tool
        if running:
            warnings.append(f"user {u.id} has no reply yet (session still running)")
            continue
        why = (
            "only tool round-trips follow it"
            if later
            else "no assistant follows it in seq order (a drain that failed before its first content, "
            "opencode #49740, leaves no row)"
        )
        found.append(("unanswered", f"user {u.id} has no reply: {why}", (u.id,), (_row(u, {}),)))


def _stranded(s: Session, rows: list[Msg], running: bool, found: list[Found], warnings: list[str]) -> None:
    for r in s.inputs:
        if r.promoted is not None:
            continue
        says = (
            f"input {r.id} ({r.delivery}) was admitted at seq {r.admitted} but never promoted: it sits in "
            "session_input, and no drain promotes it until another prompt wakes the session"
        )
        if running:
            warnings.append(says + " (session still running: it may yet be promoted)")
        else:
            row = f"{r.id}  input {r.delivery}  admitted seq {r.admitted}  pending"
            found.append(("stranded", says, (r.id,), (row,)))


def _row(m: Msg, inputs: dict) -> str:
    if m.role == "user":
        kind = " synthetic" if m.synthetic else ""
        dlv = f"  {_delivery(inputs, m)}" if _delivery(inputs, m) else ""
        return f"{m.id}  user{kind}{dlv}  seq {m.seq}  created {m.created}"
    tools = f"  tools {','.join(t.name + ':' + t.status for t in m.tools)}" if m.tools else ""
    err = f"  error {m.error}" if m.error else ""
    return f"{m.id}  assistant  seq {m.seq}  finish {m.finish or '—'}{tools}{err}  completed {m.completed}"
