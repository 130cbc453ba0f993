"""`turnproof audit`: check real, persisted opencode session data for the turn-boundary violations
the model checker reasons about, and write a model counterexample back out as an opencode session.

    from turnproof.audit import audit_paths, AuditInputError, export_session

    report = audit_paths(["session.json"], out="out/audit")
    print(report.text()); raise SystemExit(report.exit_code)

May import: `turnproof.model`, `turnproof.explore.views` (to draw what it finds); never the CLI.
"""

from __future__ import annotations

from turnproof.audit.check import KINDS, Finding, SessionAudit, audit_session
from turnproof.audit.export import export_findings, export_session, session_document
from turnproof.audit.read import read_path
from turnproof.audit.records import AuditInputError, Msg, Session
from turnproof.audit.report import AuditReport, audit_paths

__all__ = [
    "KINDS",
    "AuditInputError",
    "AuditReport",
    "Finding",
    "Msg",
    "Session",
    "SessionAudit",
    "audit_paths",
    "audit_session",
    "export_findings",
    "export_session",
    "read_path",
    "session_document",
]
