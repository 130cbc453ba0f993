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
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from turnproof.audit.build import Builder
from turnproof.audit.records import CHUNK, MAX_RECORD, AuditInputError, Session

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
    b = Builder(name, "json-array" if lead == "[" else "export", only)
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


def _read_document(s: _Stream, b: Builder, name: str) -> None:
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
    b = Builder(name, "jsonl", only)
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
    b = Builder(name, "json-storage", only)
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


def _load_file(f: Path, b: Builder):
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
        b = Builder(name, "sqlite", only)
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
            obj = b.decode_row(data, f"message row {mid}")
            if obj is not None:
                b.record(obj, f"message row {mid}", expect="message", ids=(mid, sid, None))
        q = "select id, message_id, session_id, data from part" + (" where session_id = ?" if only else "")
        for pid, mid, sid, data in con.execute(q + " order by message_id, id", (only,) if only else ()):
            obj = b.decode_row(data, f"part row {pid}")
            if obj is not None:
                b.record(obj, f"part row {pid}", expect="part", ids=(pid, sid, mid))
        return b.finish()
    except sqlite3.Error as e:
        raise AuditInputError(f"{name}: SQLite error: {e}") from None
    finally:
        con.close()
