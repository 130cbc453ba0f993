"""Readers for persisted opencode session data, reduced to what the turn checks need.

Formats, as learned from opencode's source (v1.15.4 unless noted):

* **export** — what `opencode export [sessionID]` prints: `JSON.stringify({info, messages}, null, 2)`
  where `info` is the session (`Session.Info`) and `messages` is `[{info, parts}]`
  (`MessageV2.WithParts`: a `User | Assistant` message and its parts). `--sanitize` keeps the shape.
* **sqlite** — 1.15.4 keeps sessions in one SQLite file, `<data>/opencode.db` (or
  `opencode-<channel>.db`, or `$OPENCODE_DB`): tables `session`, `message (id, session_id,
  time_created, time_updated, data)` and `part (id, message_id, session_id, …, data)`, where `data`
  is the message or part JSON without its ids (`MessageV2` `info()` / `part()` put them back).
* **json-storage** — the older layout of JSON files under `<data>/storage/`:
  `session/<projectID>/<sessionID>.json`, `message/<sessionID>/<messageID>.json`,
  `part/<messageID>/<partID>.json`. 1.15.4 no longer writes it; it migrates it into opencode.db once
  (`JsonMigration`), so a storage directory is an older session (or an un-migrated copy).
* **jsonl** — JSON Lines, one record a line: a message (`{id, role, …}`, the seed's evidence), a
  message with parts (`{info, parts}`), a part (`{type, messageID, …}`), a share/sync record
  (`{type: "session"|"message"|"part", data}`) or a database row (`{id, session_id, data}`).
  A JSON array of such records (e.g. `opencode db "select …" --format json`) is read the same way.

Everything is streamed record by record (a big export or JSON Lines file is never held whole);
only a small summary of each message and its parts is kept. Problems with the input are one-line
`AuditInputError`s (nothing usable) or one-line warnings on the session (a record skipped or a
field odd), each naming the file, the record and the field.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_RECORD = 64 * 1024 * 1024  # one message, part or line; opencode's own are far smaller
CHUNK = 1 << 20
KNOWN_FINISH = ("stop", "length", "content-filter", "tool-calls", "error", "other", "unknown")
TOOL_STATES = ("pending", "running", "completed", "error")  # MessageV2 ToolState status
REJECTED = ("rejected permission", "dismissed this question")  # Permission/Question RejectedError
MAX_WARNINGS = 50  # per session; the rest are counted

FORMATS = {
    "export": "opencode export JSON ({info, messages: [{info, parts}]})",
    "sqlite": "opencode SQLite database (opencode.db: session/message/part tables; opencode ≥ 1.2, incl. 1.15.4)",
    "json-storage": "opencode JSON file storage (storage/session|message|part; before opencode.db, "
    "which 1.15.4 migrates it into)",
    "jsonl": "JSON Lines of messages (one record a line)",
    "json-array": "JSON array of message/part/row records",
    "v2-json": "opencode V2 session JSON (GET /api/session/:id/message, with its /history; opencode ≥ 1.18)",
    "v2-sqlite": "opencode V2 tables of opencode.db (session_message, session_input; opencode ≥ 1.18)",
}


class AuditInputError(Exception):
    """Input that cannot be audited at all: a one-line message naming the file (and field)."""


@dataclass
class Tool:
    name: str
    status: str
    error: str = ""
    provider: bool = False  # metadata.providerExecuted: the loop ignores such parts


@dataclass
class PartInfo:
    """What the checks need from one message's parts."""

    count: int = 0
    synthetic: int = 0  # parts with synthetic: true
    compaction: bool = False
    subtask: bool = False
    tools: list[Tool] = field(default_factory=list)
    junk: int = 0  # tool parts with no usable state: ignored, never counted as tool calls
    label: str = ""  # turnproof's model label, from an exported model session (metadata.turnproof.label)


@dataclass
class Msg:
    id: str
    role: str  # "user" | "assistant"
    session: str
    where: str  # file and record, for messages
    parent: str | None = None
    created: int | None = None
    completed: int | None = None
    finish: str | None = None
    error: str | None = None  # error name (MessageAbortedError, APIError, …)
    summary: bool = False  # assistant: a compaction summary
    agent: str = ""
    structured: bool = False  # assistant: structured output captured (the loop stops on it)
    undated: bool = False  # no `time` object at all: completion is read from `finish` (see `done`)
    parts: PartInfo | None = None  # None: this source had no parts for the message
    seq: int | None = None  # a V2 row's place in the session's event sequence (audit/v2.py)

    @property
    def done(self) -> bool:
        """Completed: time.completed is set, or (a record with no `time` at all) a finish is: opencode
        writes both when the step ends, so an export that drops every time field is judged by order."""
        return self.completed is not None or (self.undated and self.finish is not None)

    @property
    def label(self) -> str:
        return self.parts.label if self.parts and self.parts.label else ""

    @property
    def tools(self) -> list[Tool]:
        return self.parts.tools if self.parts else []

    @property
    def loop_tools(self) -> bool:
        """Has tool parts the prompt loop counts (`hasToolCalls`, prompt.ts:1668)."""
        return any(not t.provider for t in self.tools)

    @property
    def synthetic(self) -> bool:
        """User message whose every part is synthetic: context injected (noReply, reminders), not typed."""
        return bool(self.parts and self.parts.count and self.parts.synthetic == self.parts.count)

    @property
    def compaction(self) -> bool:
        return bool(self.parts and self.parts.compaction)


@dataclass
class Session:
    id: str
    file: str
    format: str
    version: str = ""  # Session.Info.version: the opencode version that created it
    title_set: bool = False
    parent_session: str = ""  # a subagent (task tool) session's parent
    messages: dict[str, Msg] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # records that could not be used: the audit of this session is incomplete
    more_warnings: int = 0
    has_parts: bool = False
    engine: str = "legacy"  # "v2": session_message rows in seq order, no parentIDs (audit/v2.py)
    inputs: list = field(default_factory=list)  # V2: the session_input rows (audit/v2.py Input)

    def warn(self, text: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
        else:
            self.more_warnings += 1

    def ordered(self) -> list[Msg]:
        """Messages in id order, as opencode reads them back (`MessageV2` sorts by id); V2 rows in seq order."""
        if self.engine == "v2":
            return sorted(self.messages.values(), key=lambda m: (m.seq is None, m.seq or 0, m.id))
        return [self.messages[k] for k in sorted(self.messages)]


# --------------------------------------------------------------------------------------------
# entry point


def read_path(path: str | Path, session: str | None = None) -> list[Session]:
    """Read every session in `path` (or only `session`); AuditInputError when nothing is usable."""
    p = Path(path)
    name = str(path)
    try:
        if p.is_dir():
            sessions = _read_dir(p, name, session)
        elif not p.exists():
            raise AuditInputError(f"{name}: no such file or directory")
        elif not p.is_file():  # a pipe (whose reading would block), a device, a socket
            raise AuditInputError(f"{name}: cannot read: not a regular file or a directory (a pipe or a device)")
        else:
            with open(p, "rb") as fh:
                head = fh.read(16)
            if head.startswith(b"SQLite format 3\x00"):
                sessions = _read_sqlite(p, name, session)
            else:
                sessions = _read_json_file(p, name, session)
    except AuditInputError:
        raise
    except OSError as e:
        raise AuditInputError(f"{name}: cannot read: {e.strerror or e}") from None
    except RecursionError:
        raise AuditInputError(f"{name}: JSON nested too deeply") from None
    if not sessions:
        which = f" for session {session}" if session else ""
        raise AuditInputError(f"{name}: no opencode messages found{which}")
    return sessions


# --------------------------------------------------------------------------------------------
# streaming JSON


class _Stream:
    """Decode JSON values one at a time from a text file, keeping only a window of it in memory."""

    def __init__(self, fh, name: str):
        self.fh, self.name = fh, name
        self.buf, self.pos, self.eof = "", 0, False
        self.dec = json.JSONDecoder()

    def _fill(self, want: int = CHUNK) -> bool:
        if self.eof:
            return False
        data = self.fh.read(max(want, CHUNK))
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            n = len(self.buf)
            while self.pos < n and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < n:
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def take(self, ch: str, where: str) -> None:
        got = self.peek()
        if got != ch:
            seen = f"{got!r}" if got else "end of file"
            raise AuditInputError(f"{self.name}: {where}: expected {ch!r}, found {seen} (truncated or not JSON?)")
        self.pos += 1

    def value(self, where: str):
        if not self.peek():
            raise AuditInputError(f"{self.name}: {where}: unexpected end of file (truncated JSON)")
        while True:
            try:
                obj, end = self.dec.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if self._grow(where):
                    continue
                if self.eof and e.pos >= len(self.buf) - 1 or "Unterminated" in e.msg:
                    raise AuditInputError(f"{self.name}: {where}: truncated JSON ({e.msg})") from None
                raise AuditInputError(
                    f"{self.name}: {where}: invalid JSON: {e.msg} (char {e.pos - self.pos})"
                ) from None
            if end == len(self.buf) and not self.eof and self._grow(where):
                continue  # a number may go on in the next chunk
            self.pos = end
            return obj

    def _grow(self, where: str) -> bool:
        if self.eof:
            return False
        size = len(self.buf) - self.pos
        if size > MAX_RECORD:
            raise AuditInputError(f"{self.name}: {where}: one JSON value is over {MAX_RECORD >> 20} MB; not read")
        return self._fill(size)  # double the window: linear overall

    def string(self, where: str) -> str:
        if self.peek() != '"':
            raise AuditInputError(f"{self.name}: {where}: expected an object key")
        key = self.value(where)
        return key

    def items(self, where: str) -> Iterator[tuple[str, object | None, bool]]:
        """Members of an object: (key, value, False), or for an array value (key, element, True) each."""
        self.take("{", where)
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.string(where)
            self.take(":", f"{where}.{key}")
            if self.peek() == "[":
                yield from ((key, el, True) for el in self.elements(f"{where}.{key}"))
            else:
                yield key, self.value(f"{where}.{key}"), False
            nxt = self.peek()
            if nxt == ",":
                self.pos += 1
                continue
            self.take("}", where)
            return

    def elements(self, where: str) -> Iterator[object]:
        self.take("[", where)
        if self.peek() == "]":
            self.pos += 1
            return
        i = 0
        while True:
            yield self.value(f"{where}[{i}]")
            i += 1
            nxt = self.peek()
            if nxt == ",":
                self.pos += 1
                continue
            self.take("]", where)
            return

    def trailing(self) -> None:
        if self.peek():
            raise AuditInputError(f"{self.name}: unexpected data after the JSON document")


def _open_text(p: Path):
    return open(p, encoding="utf-8-sig", errors="replace", newline="")  # a byte-order mark is allowed


def _read_json_file(p: Path, name: str, only: str | None) -> list[Session]:
    with _open_text(p) as fh:
        first = ""
        while True:
            line = fh.readline(MAX_RECORD + 1)
            if not line:
                break
            if line.strip():
                first = line
                break
    if not first:
        raise AuditInputError(f"{name}: empty file")
    lead = first.lstrip()[:1]
    if lead not in "{[":
        raise AuditInputError(
            f"{name}: not an opencode export, JSON Lines, JSON array, SQLite database or storage directory "
            f"(starts with {first.strip()[:20]!r})"
        )
    if lead == "{" and _is_jsonl(p, first):
        return _read_jsonl(p, name, only)
    b = _Builder(name, "json-array" if lead == "[" else "export", only)
    with _open_text(p) as fh:
        s = _Stream(fh, name)
        if lead == "[":
            for i, el in enumerate(s.elements("$")):
                b.record(el, f"[{i}]")
        else:
            _read_document(s, b, name)
        s.trailing()
    return b.finish()


def _is_jsonl(p: Path, first: str) -> bool:
    """JSON Lines when the first non-blank line is a whole JSON object and more lines follow it."""
    try:
        obj = json.loads(first)
    except (json.JSONDecodeError, RecursionError):
        return False  # a pretty-printed document spans lines
    if not isinstance(obj, dict):
        return False
    with _open_text(p) as fh:
        seen_first = False
        while True:
            line = fh.readline(MAX_RECORD + 1)
            if not line:
                return False
            if not line.strip():
                continue
            if not seen_first:
                seen_first = True
                continue
            return True


def _read_document(s: _Stream, b: _Builder, name: str) -> None:
    """A top-level object: an export ({info, messages}), or one message record."""
    loose: dict = {}
    messages = 0
    for key, val, element in s.items("$"):
        if key == "messages" and element:
            messages += 1
            b.record(val, f"messages[{messages - 1}]", expect="withparts")
        elif key == "info" and not element and isinstance(val, dict) and "role" not in val:
            b.session_info(val, "info")
        elif element:
            loose.setdefault(key, []).append(val)
        else:
            loose[key] = val
    if messages == 0 and "messages" not in loose:
        if "role" in loose or ("info" in loose and isinstance(loose["info"], dict)):
            b.format = "jsonl"
            b.record(loose, "$")
        elif "id" in loose and str(loose.get("id", "")).startswith("ses_") and not b.sessions:
            raise AuditInputError(f"{name}: a session with no messages field (not an opencode export)")
        else:
            raise AuditInputError(
                f"{name}: not an opencode export: expected {{info, messages: [{{info, parts}}]}} "
                f"(top-level fields: {', '.join(sorted(loose)[:6]) or 'none'})"
            )
    elif messages == 0 and not isinstance(loose.get("messages"), list):
        raise AuditInputError(f"{name}: messages: expected an array of {{info, parts}}")


def _read_jsonl(p: Path, name: str, only: str | None) -> list[Session]:
    b = _Builder(name, "jsonl", only)
    with _open_text(p) as fh:
        n = 0
        while True:
            line = fh.readline(MAX_RECORD + 1)
            if not line:
                break
            n += 1
            if len(line) > MAX_RECORD:
                b.bad(f"{name}: line {n}: longer than {MAX_RECORD >> 20} MB; skipped")
                while line and not line.endswith("\n"):
                    line = fh.readline(MAX_RECORD + 1)
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                what = "truncated JSON" if "Unterminated" in e.msg or e.pos >= len(line.rstrip()) else "invalid JSON"
                b.bad(f"{name}: line {n}: {what} ({e.msg}); skipped")
                continue
            except RecursionError:
                b.bad(f"{name}: line {n}: JSON nested too deeply; skipped")
                continue
            b.record(obj, f"line {n}")
    return b.finish()


# --------------------------------------------------------------------------------------------
# SQLite (opencode.db) and the JSON storage directory


def _read_dir(p: Path, name: str, only: str | None) -> list[Session]:
    for db in ("opencode.db",):
        if (p / db).is_file():
            return _read_sqlite(p / db, str(p / db), only)
    dbs = sorted(p.glob("opencode*.db"))
    if dbs:
        return _read_sqlite(dbs[0], str(dbs[0]), only)
    root = p
    if (p / "storage" / "message").is_dir():
        root = p / "storage"
    elif not (p / "message").is_dir():
        if p.parent.name == "message" and p.name.startswith("ses_"):
            root = p.parent.parent
            only = only or p.name
        else:
            raise AuditInputError(
                f"{name}: a directory without opencode.db or storage/{{session,message,part}} "
                "(give an export file, a .jsonl, opencode.db or opencode's data/storage directory)"
            )
    return _read_storage(root, name, only)


def _read_storage(root: Path, name: str, only: str | None) -> list[Session]:
    b = _Builder(name, "json-storage", only)
    infos = {}
    if (root / "session").is_dir():
        for f in (root / "session").glob("*/*.json"):
            infos[f.stem] = f
    dirs = sorted(d for d in (root / "message").iterdir() if d.is_dir()) if (root / "message").is_dir() else []
    for d in dirs:
        if only and d.name != only:
            continue
        if d.name in infos:
            obj = _load_file(infos[d.name], b)
            if isinstance(obj, dict):
                b.session_info({**obj, "id": obj.get("id", d.name)}, str(infos[d.name].relative_to(root)))
        for f in sorted(d.glob("*.json")):
            obj = _load_file(f, b)
            if obj is None:
                continue
            if isinstance(obj, dict):
                obj.setdefault("id", f.stem)
                obj.setdefault("sessionID", d.name)
            b.record(obj, str(f.relative_to(root)), expect="message")
            pdir = root / "part" / f.stem
            if pdir.is_dir():
                for pf in sorted(pdir.glob("*.json")):
                    part = _load_file(pf, b)
                    if isinstance(part, dict):
                        part.setdefault("messageID", f.stem)
                        part.setdefault("sessionID", d.name)
                        b.record(part, str(pf.relative_to(root)), expect="part")
    return b.finish()


def _load_file(f: Path, b: _Builder):
    try:
        if f.stat().st_size > MAX_RECORD:
            b.bad(f"{f}: over {MAX_RECORD >> 20} MB; skipped")
            return None
        return json.loads(f.read_text(encoding="utf-8-sig", errors="replace"))
    except json.JSONDecodeError as e:
        b.bad(f"{f}: invalid or truncated JSON ({e.msg}); skipped")
    except RecursionError:
        b.bad(f"{f}: JSON nested too deeply; skipped")
    except OSError as e:
        b.bad(f"{f}: cannot read: {e.strerror}; skipped")
    return None


def open_db(p: Path, name: str) -> tuple[sqlite3.Connection, set[str]]:
    """The database opened read-only, and its table names; one-line AuditInputError when it cannot be."""
    try:
        con = sqlite3.connect(p.absolute().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise AuditInputError(f"{name}: cannot open SQLite database: {e}") from None
    try:
        return con, {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.Error as e:
        con.close()
        raise AuditInputError(f"{name}: SQLite error: {e}") from None


def _read_sqlite(p: Path, name: str, only: str | None) -> list[Session]:
    con, tables = open_db(p, name)
    try:
        missing = [t for t in ("message", "part") if t not in tables]
        if missing:
            raise AuditInputError(f"{name}: SQLite database without opencode's {', '.join(missing)} table")
        b = _Builder(name, "sqlite", only)
        if "session" in tables:
            cols = {r[1] for r in con.execute("pragma table_info(session)")}
            want = [c for c in ("id", "title", "version", "parent_id") if c in cols]
            q = f"select {', '.join(want)} from session" + (" where id = ?" if only else "")
            for row in con.execute(q, (only,) if only else ()):
                info = dict(zip(want, row, strict=True))
                info["parentID"] = info.pop("parent_id", None)
                b.session_info(info, f"session row {info.get('id')}")
        q = "select id, session_id, data from message" + (" where session_id = ?" if only else "")
        for mid, sid, data in con.execute(q + " order by session_id, id", (only,) if only else ()):
            obj = _row(b, data, f"message row {mid}")
            if obj is not None:
                b.record(obj, f"message row {mid}", expect="message", ids=(mid, sid, None))
        q = "select id, message_id, session_id, data from part" + (" where session_id = ?" if only else "")
        for pid, mid, sid, data in con.execute(q + " order by message_id, id", (only,) if only else ()):
            obj = _row(b, data, f"part row {pid}")
            if obj is not None:
                b.record(obj, f"part row {pid}", expect="part", ids=(pid, sid, mid))
        return b.finish()
    except sqlite3.Error as e:
        raise AuditInputError(f"{name}: SQLite error: {e}") from None
    finally:
        con.close()


def _row(b: _Builder, data, where: str):
    """A row's `data` column decoded, or None (reported) when it is not JSON text."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    if not isinstance(data, str):
        b.bad(f"{b.name}: {where}: data: missing or not text; skipped")
        return None
    try:
        return json.loads(data)
    except (json.JSONDecodeError, RecursionError) as e:
        b.bad(f"{b.name}: {where}: data: not JSON ({getattr(e, 'msg', 'nested too deeply')}); skipped")
        return None


# --------------------------------------------------------------------------------------------
# records -> sessions


class _Builder:
    """Collects message and part records into sessions, validating each field it uses."""

    def __init__(self, name: str, fmt: str, only: str | None):
        self.name, self.format, self.only = name, fmt, only
        self.sessions: dict[str, Session] = {}
        self.default = ""  # the export's session id: messages without sessionID belong to it
        self.parts: dict[str, PartInfo] = {}
        self.part_session: dict[str, str] = {}
        self.msg_session: dict[str, str] = {}
        self.problems: list[str] = []  # before any session is known
        self.part_warnings: dict[str, list[str]] = {}  # message id -> warnings about its parts
        self.skipped = 0

    def session(self, sid: str) -> Session:
        s = self.sessions.get(sid)
        if s is None:
            s = self.sessions[sid] = Session(sid, self.name, self.format)
        return s

    def bad(self, text: str) -> None:
        """A record that could not be used."""
        self.problems.append(text)
        self.skipped += 1

    def session_info(self, info: dict, where: str) -> None:
        sid = info.get("id")
        if not isinstance(sid, str) or not sid:
            self.problems.append(f"{self.name}: {where}.id: missing session id")
            return
        if self.only and sid != self.only:
            return
        if not self.default:
            self.default = sid
        s = self.session(sid)
        v = info.get("version")
        s.version = v if isinstance(v, str) else s.version
        par = info.get("parentID")
        s.parent_session = par if isinstance(par, str) else s.parent_session

    def record(self, obj, where: str, expect: str = "", ids: tuple | None = None) -> None:
        """One record of any supported kind."""
        if not isinstance(obj, dict):
            self.bad(f"{self.name}: {where}: expected a JSON object, found {type(obj).__name__}; skipped")
            return
        if ids is not None:  # a database row: data lacks its ids
            rid, sid, mid = ids
            obj = dict(obj)
            obj["id"], obj["sessionID"] = rid, sid
            if expect == "part":
                obj["messageID"] = mid
        kind, info, parts = self._classify(obj, expect)
        if kind == "session":
            self.session_info(info, where)
        elif kind == "message":
            self._message(info, where)
            if parts is not None:
                mid = info.get("id") if isinstance(info.get("id"), str) else None
                if mid:  # the record's own parts: a later record of a duplicated id keeps none of the earlier's
                    self.parts[mid] = PartInfo()
                    self.part_warnings.pop(mid, None)
                if not isinstance(parts, list):
                    self.bad(f"{self.name}: {where}.parts: expected an array; parts skipped")
                else:
                    for i, part in enumerate(parts):
                        self._part(part, f"{where}.parts[{i}]", mid)
        elif kind == "part":
            self._part(info, where, None)
        elif kind == "row-data":
            data = _row(self, obj.get("data"), where)
            if data is not None:
                rid, sid = obj.get("id"), obj.get("session_id")
                mid = obj.get("message_id")
                self.record(data, where, "part" if mid is not None else "message", (rid, sid, mid))
        else:
            fields = ", ".join(sorted(map(str, obj))[:6]) or "none"
            self.bad(f"{self.name}: {where}: not a message or part (fields: {fields}); skipped")

    def _classify(self, obj: dict, expect: str):
        if expect == "withparts":
            info = obj.get("info")
            if not isinstance(info, dict):
                return "message", {"__bad": "info"}, None
            return "message", info, obj.get("parts", [])
        if isinstance(obj.get("info"), dict) and "role" in obj["info"]:
            return "message", obj["info"], obj.get("parts", [])
        t = obj.get("type")
        if t in ("session", "message", "part") and isinstance(obj.get("data"), dict):
            return t, obj["data"], None
        if "data" in obj and ("session_id" in obj or "message_id" in obj) and isinstance(obj.get("data"), str):
            return "row-data", obj, None
        if expect == "part" or (isinstance(t, str) and "messageID" in obj):
            return "part", obj, None
        if expect == "message" or "role" in obj:
            return "message", obj, None
        if isinstance(obj.get("id"), str) and obj["id"].startswith("ses_") and "role" not in obj:
            return "session", obj, None
        return "", obj, None

    def _message(self, info: dict, where: str) -> None:
        w = f"{self.name}: {where}"
        if "__bad" in info:
            self.bad(f"{w}.info: missing or not an object; skipped")
            return
        mid = info.get("id")
        if not isinstance(mid, str) or not mid:
            self.bad(f"{w}: id: missing or not a string; skipped")
            return
        sid = info.get("sessionID")
        if not isinstance(sid, str) or not sid:
            if not self.default:
                self.default = "(unknown session)"
                self.problems.append(f"{w}: sessionID: missing; messages without one are taken as one session")
            sid = self.default
        if self.only and sid != self.only:
            return
        s = self.session(sid)
        role = info.get("role")
        if role not in ("user", "assistant"):
            s.skipped += 1
            s.warn(f"{w}: role: unknown value {str(role)[:40]!r} (expected user or assistant); message {mid} skipped")
            return
        m = Msg(mid, role, sid, where)
        t = info.get("time")
        m.undated = t is None
        if isinstance(t, dict):
            m.created = _int(t.get("created"))
            m.completed = _int(t.get("completed"))
            if t.get("created") is not None and m.created is None:
                s.warn(f"{w}: time.created: not a timestamp ({str(t.get('created'))[:30]!r})")
        if m.created is None and not (isinstance(t, dict) and t.get("created") is not None):
            s.warn(f"{w}: time.created: missing (message {mid})")
        if not mid.startswith("msg_"):
            s.warn(f"{w}: id: {mid[:40]!r} is not an opencode message id (msg_…); id order may not be write order")
        if role == "assistant":
            par = info.get("parentID")
            if not isinstance(par, str) or not par:
                s.skipped += 1
                s.warn(f"{w}: parentID: missing on assistant {mid}; message skipped")
                return
            m.parent = par
            fin = info.get("finish")
            if fin is not None and not isinstance(fin, str):
                s.warn(f"{w}: finish: not a string ({str(fin)[:30]!r}) on {mid}; taken as unknown")
                fin = "unknown"
            if isinstance(fin, str) and fin not in KNOWN_FINISH:
                s.warn(f"{w}: finish: unknown value {fin[:40]!r} on {mid}; taken as a terminal finish")
            m.finish = fin
            err = info.get("error")
            if err is not None:
                m.error = str(err.get("name") or "error") if isinstance(err, dict) else str(err)[:60]
            m.summary = info.get("summary") is True
            m.structured = info.get("structured") is not None
            m.agent = info.get("agent") if isinstance(info.get("agent"), str) else ""
            if m.completed is None and t is not None and isinstance(t, dict) and t.get("completed") is not None:
                s.warn(f"{w}: time.completed: not a timestamp on {mid}")
        if mid in s.messages:
            old = s.messages[mid]
            s.warn(f"{w}: id: duplicate message id {mid} (also at {old.where}); the later record is used")
            m.parts = old.parts
        s.messages[mid] = m
        self.msg_session[mid] = sid

    def _part(self, part, where: str, mid: str | None) -> None:
        w = f"{self.name}: {where}"
        if not isinstance(part, dict):
            self.bad(f"{w}: expected a part object; skipped")
            return
        pm = part.get("messageID")
        mid = mid or (pm if isinstance(pm, str) else None)
        if not mid:
            self.bad(f"{w}: messageID: missing on a part; skipped")
            return
        sid = part.get("sessionID")
        if isinstance(sid, str):
            if self.only and sid != self.only:
                return
            self.part_session.setdefault(mid, sid)
        info = self.parts.setdefault(mid, PartInfo())
        info.count += 1
        if part.get("synthetic") is True:
            info.synthetic += 1
        t = part.get("type")
        if t == "compaction":
            info.compaction = True
        elif t == "subtask":
            info.subtask = True
        elif t == "tool":
            st = part.get("state")
            status = st.get("status") if isinstance(st, dict) else None
            if status not in TOOL_STATES:
                info.junk += 1
                self.part_warnings.setdefault(mid, []).append(
                    f"{w}: state{'.status' if isinstance(st, dict) else ''}: "
                    f"{json.dumps(status if isinstance(st, dict) else st, default=str)[:30]} is not a tool state "
                    f"({', '.join(TOOL_STATES)}); "
                    f"not counted as a tool call of {mid} (ignored: no finding rests on it)"
                )
                return
            err = st.get("error") if isinstance(st.get("error"), str) else ""
            meta = part.get("metadata")
            prov = isinstance(meta, dict) and meta.get("providerExecuted") is True
            name = part.get("tool") if isinstance(part.get("tool"), str) else "?"
            info.tools.append(Tool(name, status, err[:200], prov))
        meta = part.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("turnproof"), dict):
            label = meta["turnproof"].get("label")
            if isinstance(label, str) and re.fullmatch(r"[A-Za-z0-9_]{1,16}", label):
                info.label = label

    def finish(self) -> list[Session]:
        # parts whose message is in no session
        for mid, info in self.parts.items():
            owner = self.sessions.get(self.msg_session.get(mid, ""))
            if owner is None or mid not in owner.messages:
                sid = self.part_session.get(mid, "")
                if sid and sid in self.sessions:
                    self.sessions[sid].warn(f"{self.name}: part of message {mid}: that message is missing")
                continue
            owner.messages[mid].parts = info
            owner.has_parts = True
            for text in self.part_warnings.get(mid, ()):
                owner.warn(text)
        out = [s for s in self.sessions.values() if s.messages or s.skipped]
        if not out and self.problems:
            raise AuditInputError(
                self.problems[0] + (f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else "")
            )
        for s in out:
            for p in self.problems:
                s.warn(p)
            s.skipped += self.skipped
        return out


def _int(v) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if v != v or v in (float("inf"), float("-inf")) or v < 0:
        return None
    return int(v)


def id_time(mid: str) -> int | None:
    """The clock reading in an ascending opencode id, modulo 2**36 ms (the id keeps 48 bits of ms*0x1000)."""
    m = re.match(r"^[a-z]+_([0-9a-f]{12})", mid)
    return int(m.group(1), 16) // 0x1000 if m else None
