"""The audit's report: every path read and judged (check.py), told as text or JSON, and drawn.

`audit_paths` is the audit's entry point; `write_graphs` writes each session's message tree
(audit/story.py draws it) and audit.json.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from turnproof.audit import story
from turnproof.audit.check import Finding, SessionAudit, audit_session
from turnproof.audit.records import FORMATS, AuditInputError, Session
from turnproof.audit.v2 import read_path

MAX_ORDERS = 10  # order disagreements printed per session (all of them are in the JSON)


@dataclass
class AuditReport:
    audits: list[SessionAudit] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per path that could not be read

    @property
    def violations(self) -> list[Finding]:
        return [v for a in self.audits for v in a.violations]

    @property
    def warnings(self) -> list[str]:
        return [w for a in self.audits for w in a.warnings]

    @property
    def format(self) -> str:
        return ", ".join(dict.fromkeys(a.session.format for a in self.audits)) or "none"

    @property
    def kinds(self) -> set[str]:
        return {v.kind for v in self.violations}

    @property
    def exit_code(self) -> int:
        """1 violations; 2 an input error or records that could not be read (never a false clean); 0 clean."""
        if self.violations:
            return 1
        if self.errors or not self.audits or any(not a.complete for a in self.audits):
            return 2
        return 0

    @property
    def verdict(self) -> str:
        return {0: "clean", 1: "violated", 2: "input error" if not self.audits else "incomplete"}[self.exit_code]

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "exit": self.exit_code,
            "errors": self.errors,
            "sessions": [
                {
                    "session": a.session.id,
                    "file": a.session.file,
                    "format": a.session.format,
                    "format_description": FORMATS[a.session.format],
                    "opencode_version": a.session.version or None,
                    "parent_session": a.session.parent_session or None,
                    "messages": len(a.session.messages),
                    "parts": a.session.has_parts,
                    "running": a.running,
                    "complete": a.complete,
                    "skipped_records": a.session.skipped,
                    "violations": [v.to_json(a.session) for v in a.violations],
                    "warnings": a.warnings,
                    "notes": a.notes,
                    "order_disagreements": a.orders,
                    "exit_test": a.exit_test.text if a.exit_test else None,
                    "graphs": a.drawn,
                }
                | _story_json(a)
                for a in self.audits
            ],
        }

    def text(self, errors: bool = True) -> str:
        """The report as lines; errors=False leaves out the input errors (the CLI puts them on stderr)."""
        out: list[str] = []
        for e in self.errors if errors else ():
            out.append(f"error: {e}")
        for a in self.audits:
            out.extend(_told(a))
        nv, ns = len(self.violations), len(self.audits)
        bad = sum(1 for a in self.audits if a.violations)
        out.append(
            f"verdict: {self.verdict.upper()}: {nv} violation{'s' * (nv != 1)} in {bad} of {ns} "
            f"session{'s' * (ns != 1)}; format: {self.format}"
            + (f"; {len(self.errors)} input{'s' * (len(self.errors) != 1)} not read" if self.errors else "")
        )
        return "\n".join(out)


def _story_json(a: SessionAudit) -> dict:
    """The short labels, likely causes and next steps of a session, as audit.json holds them."""
    names = story.labels(a.session)
    found = story.causes(a, names)
    return {
        "labels": names,
        "likely_causes": [{"cause": c.key, "says": c.says, "scenario": c.scenario} for c in found],
        "next_steps": story.next_steps(found),
    }


def _told(a: SessionAudit) -> list[str]:
    """One session's part of the report, ids replaced by short labels (a legend gives the ids),
    with the likely cause and the next step when it has findings (audit/story.py)."""
    s = a.session
    users = sum(1 for m in s.messages.values() if m.role == "user")
    out: list[str] = []
    ver = f"; opencode {s.version}" if s.version else ""
    sub = f"; subagent session of {s.parent_session}" if s.parent_session else ""
    out.append(f"session {s.id}  ({s.file}: {FORMATS[s.format]}{ver}{sub})")
    parts = "" if s.has_parts else ", no parts (tool, synthetic and compaction detection from messages only)"
    state = ", still running" if a.running else ""
    out.append(f"  {len(s.messages)} messages ({users} user, {len(s.messages) - users} assistant){parts}{state}")
    for v in a.violations:
        out.append(f"  ✗ {v.kind}: {v.says}")
        out.extend(f"      {r}" for r in v.rows)
    for w in a.warnings:
        out.append(f"  ! {w}")
    for o in a.orders[:MAX_ORDERS]:
        out.append(f"  ! order: {o['says']}")
    if len(a.orders) > MAX_ORDERS:
        more = len(a.orders) - MAX_ORDERS
        out.append(f"  ! order: … and {more} more pairs whose id and creation orders disagree")
    if s.more_warnings:
        out.append(f"  ! … and {s.more_warnings} more warnings")
    for n in a.notes:
        out.append(f"  · {n}")
    if not a.violations:
        out.append(
            "  ✓ no violations"
            + ("" if a.complete else f" in what could be read ({s.skipped} records skipped: incomplete)")
        )
    for g in a.drawn:
        out.append(f"  graph: {g}")
    names = story.labels(s)
    relabel = story.Relabel(names)
    head, rest = out[:2], [relabel(line) for line in out[2:]]
    found = story.causes(a, names)
    tale = [f"  likely cause: {c.says}" for c in found] + [f"  next: {n}" for n in story.next_steps(found)]
    legend = relabel.legend()
    key = [f"  labels: {legend[0]}", *(f"          {x}" for x in legend[1:])] if legend else []
    return head + key + rest[: len(rest) - len(a.drawn)] + tale + rest[len(rest) - len(a.drawn) :]


def audit_paths(
    paths, out: str | Path | None = None, session: str | None = None, release: str | None = None
) -> AuditReport:
    """Read and check every path; unreadable paths become report.errors (one line each). `release`:
    the opencode version whose exit test an order disagreement is judged by (default: each session's)."""
    report = AuditReport()
    with _collector_paused():
        for p in paths:
            try:
                sessions = read_path(p, session)
            except AuditInputError as e:
                report.errors.append(str(e))
                continue
            report.audits.extend(audit_session(s, release) for s in sessions)
    if out is not None:
        write_graphs(report, Path(out))
    return report


@contextmanager
def _collector_paused():
    """No cyclic garbage collection while sessions are read and judged: their records form no
    cycles, and on a large session the collector's passes over every record kept so far cost more
    than the reading (100,000 messages: a third of the time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def write_graphs(report: AuditReport, out: Path, shown: Path | None = None) -> None:
    """message-tree.{dot,svg} per session (in a folder per session when there are several), and audit.json;
    the graphs are named as under `shown` (where `out` will be moved once whole) when given."""
    from turnproof.explore.views.graphs import write

    out.mkdir(parents=True, exist_ok=True)
    many = len(report.audits) > 1
    used: set[str] = set()
    for a in report.audits:
        if not a.session.messages:
            continue
        folder = out / _folder(a.session, used) if many else out
        folder.mkdir(parents=True, exist_ok=True)
        d, _ = story.picture(a, f"session {a.session.id}")
        a.drawn = [str((shown or out) / p.relative_to(out)) for p in write(d, folder / "message-tree")]
    (out / "audit.json").write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")


def _folder(s: Session, used: set[str]) -> str:
    """The session's id; with its file's name too when another file holds the same session."""
    name = _safe(s.id)
    if name in used:
        name = base = _safe(f"{s.id}-{Path(s.file).stem}")
        n = 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
    used.add(name)
    return name


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name)[:80] or "session"
