"""What the audit keeps of each opencode message and session: small summaries, and the formats it reads.

The readers (read.py, v2.py) fill these; the checks (check.py, inbox.py) and the story (story.py)
read them. An `AuditInputError` is input that cannot be audited at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


def id_time(mid: str) -> int | None:
    """The clock reading in an ascending opencode id, modulo 2**36 ms (the id keeps 48 bits of ms*0x1000)."""
    m = re.match(r"^[a-z]+_([0-9a-f]{12})", mid)
    return int(m.group(1), 16) // 0x1000 if m else None
