"""Collects message and part records, whatever format they came in, into sessions.

Each field the checks use is validated here; a bad record is a one-line warning on its session
(naming the file, the record and the field), never an exception.
"""

from __future__ import annotations

import json
import re

from turnproof.audit.records import KNOWN_FINISH, TOOL_STATES, AuditInputError, Msg, PartInfo, Session, Tool


class Builder:
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

    def decode_row(self, data, where: str):
        """A row's `data` column decoded, or None (reported) when it is not JSON text."""
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        if not isinstance(data, str):
            self.bad(f"{self.name}: {where}: data: missing or not text; skipped")
            return None
        try:
            return json.loads(data)
        except (json.JSONDecodeError, RecursionError) as e:
            self.bad(f"{self.name}: {where}: data: not JSON ({getattr(e, 'msg', 'nested too deeply')}); skipped")
            return None

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
            data = self.decode_row(obj.get("data"), where)
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
