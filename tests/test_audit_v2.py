"""audit on V2 sessions (opencode 1.18.34's inbox route), and the release's own exit test on legacy exports.

The V2 fixtures are real sessions of the 1.18.34 server driven by the conformance harness
(tests/fixtures/audit/capture_v2.py, sanitized by make_v2.py): steer-during-tool on the steer design
(U2 folded into U1's turn, as steer promises) and queue-plugin on the queue design (a plugin's steer
W1 promoted into the turn a queued U1 opened: the turn-binding violation the model finds).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from turnproof.audit import audit_paths
from turnproof.audit.release import exit_test, parse
from turnproof.cli.main import main

FIX = Path(__file__).parent / "fixtures" / "audit"
STEER = "ses_dacdd9d4effeN7jmcxVZsnrKO4"  # steer-during-tool
QUEUE = "ses_dacdd8395ffezQkiHZ4i6Mb432"  # queue-plugin
W1 = "msg_2532286d2001EdG403N7jGmuqt"  # the plugin's steer promoted into U1's queued turn


def _by_session(r):
    return {a.session.id: a for a in r.audits}


def test_v2_json_queue_plugin_is_a_turn_binding_violation():
    r = audit_paths([FIX / "v2-queue-plugin.v2.json"])
    assert r.format == "v2-json" and r.errors == [] and r.exit_code == 1
    (a,) = r.audits
    assert a.session.id == QUEUE and a.complete and not a.running
    assert [v.kind for v in a.violations] == ["turn-binding"]
    v = a.violations[0]
    assert W1 in v.nodes and "(queued)" in v.says and "(steered)" in v.says
    assert [m.seq for m in a.session.ordered()] == [2, 4, 10, 11, 16, 17]  # seq order, not id or time order
    assert r.to_json()["sessions"][0]["violations"][0]["property"] == "turn-binding"


def test_v2_json_steer_fold_is_noted_not_flagged():
    r = audit_paths([FIX / "v2-steer-during-tool.v2.json"])
    assert r.exit_code == 0 and r.verdict == "clean"
    (a,) = r.audits
    assert any("folded into the turn" in n and "steer does not promise" in n for n in a.notes)
    assert [i.promoted for i in a.session.inputs] == [2, 10]


def test_v2_database_agrees_with_the_json():
    r = audit_paths([FIX / "v2-sessions.db"])
    assert r.format == "v2-sqlite" and r.exit_code == 1
    by = _by_session(r)
    assert len(by) == 3 and all(a.session.version == "1.18.34" for a in by.values())
    for sid, fixture in ((STEER, "v2-steer-during-tool"), (QUEUE, "v2-queue-plugin")):
        js = audit_paths([FIX / f"{fixture}.v2.json"]).audits[0]
        db = by[sid]
        assert [(v.kind, v.nodes) for v in db.violations] == [(v.kind, v.nodes) for v in js.violations]
        assert [m.id for m in db.session.ordered()] == [m.id for m in js.session.ordered()]
    one = audit_paths([FIX / "v2-sessions.db"], session=QUEUE)
    assert [a.session.id for a in one.audits] == [QUEUE]


def _db(tmp_path, sql: list[str]):
    p = tmp_path / "opencode.db"
    shutil.copy(FIX / "v2-sessions.db", p)
    con = sqlite3.connect(p)
    for q in sql:
        con.execute(q, ())
    con.commit()
    con.close()
    return p


def test_v2_input_left_pending_is_stranded(tmp_path):
    """abort-queued's outcome: U2 admitted with a 200, never promoted (its row and reply never written)."""
    u2 = "msg_253226d15001DcFYpCGBd1UViJ"
    p = _db(
        tmp_path,
        [
            f"update session_input set promoted_seq = null where id = '{u2}'",
            f"delete from session_message where session_id = '{STEER}' and seq >= 10",
        ],
    )
    a = _by_session(audit_paths([p], session=STEER))[STEER]
    kinds = {v.kind: v for v in a.violations}
    assert "stranded" in kinds and kinds["stranded"].nodes == (u2,)
    assert "never promoted" in kinds["stranded"].says
    props = {v["kind"]: v["property"] for v in audit_paths([p], session=STEER).to_json()["sessions"][0]["violations"]}
    assert props["stranded"] == "no-silent-drop"


def test_v2_promoted_input_with_no_reply_is_unanswered(tmp_path):
    """#49740's outcome: the drain failed before its first content, so U2 has no reply and no error."""
    p = _db(tmp_path, [f"delete from session_message where session_id = '{STEER}' and seq = 11"])
    a = _by_session(audit_paths([p], session=STEER))[STEER]
    un = {v.nodes: v.says for v in a.violations if v.kind == "unanswered"}
    assert "#49740" in un[("msg_253226d15001DcFYpCGBd1UViJ",)]  # (U1 too: its only reply is a tool round-trip)
    assert "tool round-trips" in un[("msg_2532263cf0014wF5p8QkBk54iE",)]


def test_v2_failed_step_excuses_its_user(tmp_path):
    """An interrupted or failed step is a turn that failed visibly: no unanswered finding."""
    data = json.dumps({"time": {"created": 1, "completed": 2}, "finish": "error", "error": {"name": "Aborted"}})
    p = _db(tmp_path, [f"update session_message set data = '{data}' where session_id = '{STEER}' and seq = 11"])
    a = _by_session(audit_paths([p], session=STEER))[STEER]
    assert not [v for v in a.violations if v.kind == "unanswered"]


def test_v2_two_stops_with_no_user_between(tmp_path):
    data = json.dumps({"time": {"created": 1, "completed": 2}, "finish": "stop", "content": []})
    p = _db(
        tmp_path,
        [
            "insert into session_message (id, session_id, type, seq, time_created, time_updated, data) "
            f"values ('msg_extra', '{STEER}', 'assistant', 12, 1, 2, '{data}')"
        ],
    )
    a = _by_session(audit_paths([p], session=STEER))[STEER]
    assert [v.kind for v in a.violations] == ["terminal-siblings"]


def test_v2_message_json_alone_and_more_pages(tmp_path):
    doc = json.loads((FIX / "v2-queue-plugin.v2.json").read_text())
    only = tmp_path / "message.json"
    only.write_text(json.dumps(doc["message"]))
    r = audit_paths([only])  # no deliveries: whether U1's turn was queued cannot be told, only noted
    assert r.exit_code == 0 and any("history: missing" in w and "deliveries" in w for w in r.warnings)
    assert r.audits[0].session.inputs == [] and [m.seq for m in r.audits[0].session.ordered()] == list(range(1, 7))
    doc["history"]["hasMore"] = True
    more = tmp_path / "more.json"
    more.write_text(json.dumps(doc))
    r = audit_paths([more])
    assert not r.audits[0].complete and any("further page" in w for w in r.warnings)


def _one_line_error(tmp_path, name: str, text: bytes | str) -> str:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    r = audit_paths([p])
    assert r.exit_code == 2 and not r.audits and len(r.errors) == 1 and "\n" not in r.errors[0]
    assert str(p) in r.errors[0]
    return r.errors[0]


def test_v2_bad_input_is_one_line_naming_file_and_field(tmp_path):
    doc = json.loads((FIX / "v2-queue-plugin.v2.json").read_text())
    e = _one_line_error(tmp_path, "hist.json", json.dumps(doc["history"]))
    assert "data: a V2 history without its messages" in e
    e = _one_line_error(tmp_path, "other.json", json.dumps({"data": [{"foo": 1}], "x": 2}))
    assert "nor a V2 session JSON" in e and "data, x" in e
    e = _one_line_error(tmp_path, "bad.json", json.dumps({"message": 3, "history": []}))
    assert "message: expected" in e
    raw = (FIX / "v2-sessions.db").read_bytes()
    e = _one_line_error(tmp_path, "corrupt.db", raw[:100] + b"\xff" * 4000)
    assert "SQLite" in e
    p = _db(tmp_path, [f"update session_message set data = 'nope' where session_id = '{STEER}' and seq = 11"])
    a = _by_session(audit_paths([p], session=STEER))[STEER]
    assert not a.complete and any("session_message row" in w and "data: not a JSON object" in w for w in a.warnings)


# --- legacy exports: the release's own exit test ----------------------------------------------------------


def _mid(ms: int, tag: str) -> str:
    return f"msg_{ms * 0x1000 + 1:012x}{tag:0<14}"


def _export(tmp_path, version: str):
    """A user whose client-minted id sorts before the assistant written after it."""
    sid = "ses_1c52c37ddffezrIcFQ9H63Cd7K"
    u1, u2, a1 = _mid(1779111000000, "U1"), _mid(1779111001000, "U2"), _mid(1779111002000, "A1")
    msgs = [
        {"id": u1, "sessionID": sid, "role": "user", "time": {"created": 1779111000000}},
        {"id": u2, "sessionID": sid, "role": "user", "time": {"created": 1779111004000}},
        {
            "id": a1,
            "sessionID": sid,
            "role": "assistant",
            "parentID": u1,
            "finish": "stop",
            "time": {"created": 1779111002000, "completed": 1779111003000},
        },
    ]
    doc = {"info": {"id": sid, "version": version}, "messages": [{"info": m, "parts": []} for m in msgs]}
    p = tmp_path / f"export-{version}.json"
    p.write_text(json.dumps(doc))
    return p


def test_legacy_export_names_its_release_exit_test(tmp_path):
    old = audit_paths([_export(tmp_path, "1.15.4")]).to_json()["sessions"][0]
    new = audit_paths([_export(tmp_path, "1.18.34")]).to_json()["sessions"][0]
    (o,), (n,) = old["order_disagreements"], new["order_disagreements"]
    assert o["exit_test_misreads"] and "prompt.ts:1672" in o["says"]
    assert not n["exit_test_misreads"] and "parentID === lastUser.id" in n["says"] and "1672" not in n["says"]
    assert "#40990" in new["exit_test"] and "1672" in old["exit_test"]
    forced = audit_paths([_export(tmp_path, "1.18.34")], release="1.15.4").to_json()["sessions"][0]
    assert forced["order_disagreements"][0]["exit_test_misreads"]


def test_release_versions():
    assert parse("1.18.15") == (1, 18, 15) and parse("v1.19.5") == (1, 19, 5) and parse("1.18") is None
    assert exit_test("1.18.14").by_id and not exit_test("1.18.15").by_id and not exit_test("1.19.5").by_id
    assert exit_test("").by_id and "no release known" in exit_test("").text


def test_cli_release_option(tmp_path):
    p = _export(tmp_path, "1.18.34")
    r = CliRunner().invoke(main, ["audit", str(p), "--out", str(tmp_path / "o"), "--json", "--release", "1.15.4"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["sessions"][0]["order_disagreements"][0]["exit_test_misreads"]
    bad = CliRunner().invoke(main, ["audit", str(p), "--out", str(tmp_path / "o2"), "--release", "next"])
    assert bad.exit_code == 2 and "--release 'next'" in bad.output and "Traceback" not in bad.output
    v2 = CliRunner().invoke(main, ["audit", str(FIX / "v2-sessions.db"), "--out", str(tmp_path / "o3")])
    assert v2.exit_code == 1 and "format: v2-sqlite" in v2.output
