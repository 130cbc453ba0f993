"""Readers for V2 sessions (opencode ≥ 1.18, the inbox route `POST /api/session/:id/prompt`).

A V2 session lives in tables the legacy readers never look at (bundle 1.18.34, migrations
`20260427172553_slow_nightmare`, `20260604172448_event_sourced_session_input`):

* `session_message (id, session_id, type, seq, time_created, time_updated, data)`: one row per
  message, `type` user | assistant | synthetic | shell | compaction, placed by the session's event
  `seq`; `data` is the message JSON without its id. No row has a parentID.
* `session_input (id, session_id, prompt, delivery, admitted_seq, promoted_seq, time_created)`: the
  inbox. `SessionInput.admit` writes a row (delivery steer | queue); promotion sets `promoted_seq`,
  which is also the user row's seq; a row whose `promoted_seq` is NULL is still pending.

Over HTTP the same session is `GET /api/session/:id/message?order=asc` (the rows, in seq order,
without seq) and `GET /api/session/:id/history` (the durable `session.next.*` events, each with its
`durable.seq`: `prompt.admitted` and `prompted` give the inbox, `step.started` an assistant's seq).
audit reads a JSON document `{"message": <the /message response>, "history": <the /history
response>}` (each may be the response or its `data` array), or the /message response alone (then
the order is the array's, and pending inputs cannot be seen: a note says so).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from turnproof.audit import read
from turnproof.audit.records import MAX_RECORD, TOOL_STATES, AuditInputError, Msg, PartInfo, Session, Tool

TYPES = ("user", "assistant", "synthetic", "shell", "compaction")  # session_message.type
NO_REPLY = ("synthetic", "shell", "compaction")  # rows no reply is owed to (judged as synthetic users)
DELIVERIES = ("steer", "queue")


@dataclass
class Input:
    """One `session_input` row: admitted at `admitted`, promoted at `promoted` (None: pending)."""

    id: str
    delivery: str
    admitted: int | None
    promoted: int | None
    created: int | None
    where: str


def read_path(path: str | Path, session: str | None = None) -> list[Session]:
    """Every session in `path`, legacy and V2 alike; AuditInputError when nothing is usable."""
    name, p = str(path), Path(path)
    try:
        legacy, err = read.read_path(path, session), None
    except AuditInputError as e:
        legacy, err = [], e
    v2: list[Session] = []
    if p.is_file():
        with open(p, "rb") as fh:
            head = fh.read(16)
        if head.startswith(b"SQLite format 3\x00"):
            v2 = _sqlite(p, name, session)
        elif err is not None and str(err).startswith(f"{name}: not an opencode export: expected"):
            v2 = _json(p, name, session)
    if legacy or v2:
        return legacy + v2
    if err is not None:
        raise err
    raise AuditInputError(f"{name}: no opencode messages found")


# --------------------------------------------------------------------------------------------
# JSON: the /message response with its /history


def _json(p: Path, name: str, only: str | None) -> list[Session]:
    if p.stat().st_size > MAX_RECORD:
        raise AuditInputError(f"{name}: over {MAX_RECORD >> 20} MB: not read as a V2 session JSON")
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as e:
        raise AuditInputError(f"{name}: invalid JSON ({getattr(e, 'msg', 'nested too deeply')})") from None
    fields = ", ".join(sorted(map(str, doc))[:6]) if isinstance(doc, dict) else type(doc).__name__
    neither = (
        f"{name}: not an opencode export ({{info, messages}}) nor a V2 session JSON "
        f'({{"message": <GET /api/session/:id/message>, "history": <…/history>}}); top-level fields: {fields}'
    )
    if not isinstance(doc, dict):
        raise AuditInputError(neither)
    if "message" in doc or "history" in doc:
        msgs, more_m = _data(doc.get("message"), name, "message")
        events, more_h = _data(doc.get("history"), name, "history") if "history" in doc else (None, False)
    elif _all_types(doc.get("data"), lambda t: t in TYPES):
        (msgs, more_m), events, more_h = _data(doc, name, "$"), None, False
    elif _all_types(doc.get("data"), lambda t: str(t).startswith("session.")):
        raise AuditInputError(
            f"{name}: data: a V2 history without its messages: audit "
            '{"message": <GET /api/session/:id/message?order=asc>, "history": <this>}'
        )
    else:
        raise AuditInputError(neither)
    if msgs is None:
        raise AuditInputError(f"{name}: message: missing (the GET /api/session/:id/message response)")
    sid = _session_id(events or [], doc.get("session"), p)
    if only and sid != only:
        return []
    s = Session(sid, name, "v2-json", engine="v2", has_parts=True)
    if more_m or more_h:
        s.skipped += 1
        which = " and ".join(w for w, more in (("message", more_m), ("history", more_h)) if more)
        s.warn(f"{name}: {which}: the response says there is more (a further page): the audit is incomplete")
    seqs = _events(s, events, name) if events is not None else None
    for i, m in enumerate(msgs):
        where = f"message.data[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            s.skipped += 1
            s.warn(f"{name}: {where}: not a V2 message (no id); skipped")
            continue
        seq = i + 1 if seqs is None else seqs.get(m["id"])
        if seq is None:
            s.skipped += 1
            s.warn(f"{name}: {where}: message {m['id']} has no event in the history; skipped")
            continue
        _message(s, m, m["id"], m.get("type"), seq, where)
    if seqs is None:
        s.warn(
            f"{name}: history: missing: the rows are taken in the array's order (request it with ?order=asc), "
            "inputs admitted but never promoted cannot be seen, and without their deliveries turn-binding is not judged"
        )
    return [s]


def _all_types(data, ok) -> bool:
    """A non-empty array of objects whose every `type` passes `ok`."""
    return isinstance(data, list) and bool(data) and all(isinstance(x, dict) and ok(x.get("type")) for x in data)


def _data(v, name: str, field: str) -> tuple[list | None, bool]:
    """A response (`{data, …}`) or its data array; whether the response says a further page exists."""
    if v is None:
        return None, False
    if isinstance(v, dict) and isinstance(v.get("data"), list):
        return v["data"], v.get("hasMore") is True
    if isinstance(v, list):
        return v, False
    raise AuditInputError(f"{name}: {field}: expected the route's response ({{data: [...]}}) or its data array")


def _session_id(events: list, given, p: Path) -> str:
    if isinstance(given, str) and given:
        return given
    for e in events:
        d = e.get("data") if isinstance(e, dict) else None
        if isinstance(d, dict) and isinstance(d.get("sessionID"), str):
            return d["sessionID"]
    return f"(V2 session of {p.name})"


def _events(s: Session, events: list, name: str) -> dict[str, int]:
    """Each message's seq, from the history; the inputs into `s.inputs`."""
    seqs: dict[str, int] = {}
    inputs: dict[str, Input] = {}
    for i, e in enumerate(events):
        where = f"history.data[{i}]"
        d = e.get("data") if isinstance(e, dict) else None
        dur = e.get("durable") if isinstance(e, dict) else None
        seq = dur.get("seq") if isinstance(dur, dict) else None
        if not isinstance(d, dict) or not isinstance(seq, int) or isinstance(seq, bool):
            s.skipped += 1
            s.warn(f"{name}: {where}: not a durable session event (no data or durable.seq); skipped")
            continue
        t, mid = e.get("type"), d.get("messageID")
        if t == "session.next.prompt.admitted" and isinstance(mid, str):
            inputs[mid] = Input(mid, str(d.get("delivery")), seq, None, _int(d.get("timestamp")), where)
        elif t == "session.next.prompted" and isinstance(mid, str):
            seqs[mid] = seq
            if mid in inputs:
                inputs[mid].promoted = seq
            else:
                s.warn(f"{name}: {where}: {mid} promoted but never admitted in this history")
        elif t == "session.next.step.started" and isinstance(d.get("assistantMessageID"), str):
            seqs[d["assistantMessageID"]] = seq
        elif t in ("session.next.synthetic", "session.next.shell.started", "session.next.compaction.ended"):
            if isinstance(mid, str):
                seqs[mid] = seq
    s.inputs = sorted(inputs.values(), key=lambda r: r.admitted or 0)
    for r in s.inputs:
        _delivery(s, r)
    return seqs


# --------------------------------------------------------------------------------------------
# SQLite: session_message and session_input


def _sqlite(p: Path, name: str, only: str | None) -> list[Session]:
    con, tables = read.open_db(p, name)
    try:
        if "session_message" not in tables:
            return []
        where = " where session_id = ?" if only else ""
        args = (only,) if only else ()
        sessions: dict[str, Session] = {}

        def session(sid: str) -> Session:
            if sid not in sessions:
                sessions[sid] = Session(sid, name, "v2-sqlite", engine="v2", has_parts=True)
            return sessions[sid]

        q = "select id, session_id, type, seq, time_created, data from session_message"
        for mid, sid, kind, seq, created, data in con.execute(q + where + " order by session_id, seq", args):
            s, at = session(str(sid)), f"session_message row {mid}"
            obj = _row_json(s, data, name, at)
            if obj is None:
                continue
            obj.setdefault("time", {"created": created})
            if not isinstance(seq, int):
                s.skipped += 1
                s.warn(f"{name}: {at}: seq: not an integer ({str(seq)[:20]!r}); skipped")
                continue
            _message(s, obj, str(mid), kind, seq, at)
        if "session_input" in tables:
            q = "select id, session_id, delivery, admitted_seq, promoted_seq, time_created from session_input"
            for iid, sid, dlv, adm, pro, created in con.execute(q + where + " order by session_id, admitted_seq", args):
                s, at = session(str(sid)), f"session_input row {iid}"
                r = Input(str(iid), str(dlv), _int(adm), _int(pro), _int(created), at)
                if r.admitted is None or (pro is not None and r.promoted is None):
                    s.skipped += 1
                    s.warn(f"{name}: {at}: admitted_seq/promoted_seq: not a sequence number; skipped")
                    continue
                s.inputs.append(r)
                _delivery(s, r)
        if sessions and "session" in tables:
            cols = {r[1] for r in con.execute("pragma table_info(session)")}
            if {"id", "version"} <= cols:
                for sid, ver in con.execute("select id, version from session"):
                    if sid in sessions and isinstance(ver, str):
                        sessions[sid].version = ver
        return [s for s in sessions.values() if s.messages or s.inputs or s.skipped]
    except sqlite3.Error as e:
        raise AuditInputError(f"{name}: SQLite error: {e}") from None
    finally:
        con.close()


def _row_json(s: Session, data, name: str, where: str) -> dict | None:
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    try:
        obj = json.loads(data) if isinstance(data, str) else None
    except (json.JSONDecodeError, RecursionError):
        obj = None
    if not isinstance(obj, dict):
        s.skipped += 1
        s.warn(f"{name}: {where}: data: not a JSON object; skipped")
        return None
    return obj


# --------------------------------------------------------------------------------------------
# one V2 message


def _delivery(s: Session, r: Input) -> None:
    if r.delivery not in DELIVERIES:
        s.warn(f"{s.file}: {r.where}: delivery: unknown value {r.delivery[:20]!r} (expected steer or queue)")


def _message(s: Session, d: dict, mid: str, kind, seq: int, where: str) -> None:
    """A V2 message as a Msg: users (and rows no reply is owed to, as synthetic users) and assistants."""
    w = f"{s.file}: {where}"
    if kind not in TYPES:
        s.skipped += 1
        s.warn(f"{w}: type: unknown value {str(kind)[:30]!r} (expected {', '.join(TYPES)}); message {mid} skipped")
        return
    t = d.get("time") if isinstance(d.get("time"), dict) else {}
    role = "assistant" if kind == "assistant" else "user"
    m = Msg(mid, role, s.id, where, created=_int(t.get("created")), seq=seq)
    m.completed = _int(t.get("completed"))
    parts = PartInfo(count=1)
    if kind in NO_REPLY:
        parts.synthetic = 1
        parts.compaction = kind == "compaction"
    if role == "assistant":
        fin = d.get("finish")
        m.finish = fin if isinstance(fin, str) else None
        err = d.get("error")
        if err is not None:
            m.error = str(err.get("name") or err.get("type") or "error") if isinstance(err, dict) else str(err)[:60]
        elif m.finish == "error":
            m.error = "error"
        m.agent = d.get("agent") if isinstance(d.get("agent"), str) else ""
        content = d.get("content") if isinstance(d.get("content"), list) else []
        for c in content:
            if isinstance(c, dict) and c.get("type") == "tool":
                st = c.get("state") if isinstance(c.get("state"), dict) else {}
                status = st.get("status")
                if status not in TOOL_STATES:
                    parts.junk += 1
                    s.warn(f"{w}: content: tool {c.get('id')} has no usable state; not counted as a tool call")
                    continue
                e = st.get("error")
                text = e if isinstance(e, str) else json.dumps(e)[:200] if e is not None else ""
                prov = isinstance(c.get("provider"), dict) and c["provider"].get("executed") is True
                parts.tools.append(Tool(str(c.get("name") or "?"), status, text[:200], prov))
    m.parts = parts
    if mid in s.messages:
        s.warn(f"{w}: id: duplicate message id {mid}; the later row is used")
    s.messages[mid] = m


def _int(v) -> int | None:
    """A timestamp or sequence number, or None."""
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v < 0 or v == float("inf"):
        return None
    return int(v)
