"""`turnproof audit`: check real opencode sessions (audit/) and write their pictures and audit.json;
and check --export-session's writing of final stores as sessions audit can read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from turnproof.cli.guard import writable_dir
from turnproof.cli.outdir import Target, is_manifest, no_dot
from turnproof.specs.loader import InputError


@click.command()
@click.argument("file", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    default=Path("out/audit"),
    show_default=True,
    help="Where to write each session's message-tree.dot/.svg (violating messages marked) and audit.json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--session", "session_id", help="Audit only this session ID (of a database or directory holding many).")
@click.option(
    "--release",
    metavar="VERSION",
    help="The opencode release that wrote the sessions, e.g. 1.18.34: whose loop exit test an id/creation order "
    "disagreement is judged by (default: each session's version field).",
)
def audit(file: tuple[str, ...], out: Path, as_json: bool, session_id: str | None, release: str | None) -> None:
    """Check real opencode sessions for the turn-boundary violations the model finds.

    FILE is what `opencode export <sessionID>` writes, JSON Lines of messages (or of {info, parts},
    parts, sync records or database rows), a JSON array of them, an opencode.db (legacy and V2
    tables), a V2 session JSON ({"message": GET /api/session/:id/message, "history": its /history}),
    or a data or storage directory (session/message/part JSON files). The format detected is printed.

    Exit 0 clean, 1 violations, 2 an input error, or records that could not be read and no
    violation in the rest (never a false clean). Errors go to stderr, one line each.
    """
    from turnproof.audit import audit_paths
    from turnproof.audit.release import parse as parse_release
    from turnproof.audit.report import write_graphs as write_audit

    if session_id is not None and (not session_id or any(ord(c) < 32 or ord(c) == 127 for c in session_id)):
        raise InputError(f"--session {session_id!r}: not a session id (empty, or has control characters)")
    if release is not None and parse_release(release) is None:
        raise InputError(f"--release {release[:40]!r}: not an opencode version (expected e.g. 1.18.34)")
    writable_dir(out, "--out")
    file = tuple(f for f in file if not is_manifest(f)) or file  # (`audit DIR/*.json` of an --export-session)
    files: list[str] = []
    with Target(out, "--out") as target:
        report = audit_paths(file, session=session_id, release=release)
        for e in report.errors:
            click.echo(f"turnproof: error: {e}", err=True)
        if report.audits:
            write_audit(report, target.stage(), shown=out)
            files = [g for a in report.audits for g in a.drawn] + [str(out / "audit.json")]
            ids = [a.session.id for a in report.audits]
            target.commit(
                {"command": "audit", "design": None, "scenario": None, "sessions": ids} | {"verdict": report.verdict}
            )
    if as_json:
        click.echo(json.dumps(report.to_json() | {"files": files}, indent=2))
    elif report.audits:
        click.echo(report.text(errors=False))
        click.echo(f"report written to {out}/audit.json")
        no_dot(files)
    sys.exit(report.exit_code)


def export_sessions(res, where: Path, export_dir: Path) -> dict[str, Path]:
    """check --export-session: {property: WHERE/PROPERTY.json}; an unwritable DIR is an input error."""
    from turnproof.audit import export_findings

    try:
        return export_findings(res, where)
    except OSError as e:
        raise InputError(f"--export-session {export_dir}: cannot write: {e.strerror or e}") from None


def exported_lines(export_dir: Path, exported: dict[str, Path]) -> str:
    """The line(s) check prints after --export-session: what was written, and what audit can judge."""
    from turnproof.audit import KINDS

    if not exported:
        return f"no counterexample, so no session exported to {export_dir}/"
    names = ", ".join(p.name for p in exported.values())
    lines = [f"final stores written as opencode exports to {export_dir}/: {names}"]
    unseen = [name for name in exported if name not in KINDS.values()]
    if unseen:
        judged = ", ".join(KINDS.values())
        lines.append(f"  {', '.join(unseen)}: not visible in a stored session (turnproof audit judges {judged})")
    return "\n".join(lines)
