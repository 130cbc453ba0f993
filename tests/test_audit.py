"""turnproof audit: real session formats, the observable checks, the model round trip, bad input."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from conftest import SEED_SESSION, SEED_SIBLINGS, SEED_USER, checked, pairs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from turnproof.audit import KINDS, AuditInputError, audit_paths, export_session, read_path
from turnproof.audit.export import message_id
from turnproof.explore.search.bfs import bfs
from turnproof.model.question import ASKS
from turnproof.model.system import System
from turnproof.specs.loader import builtin, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES

FIX = Path(__file__).parent / "fixtures" / "audit"


def one_line(text: str) -> bool:
    return bool(text) and "\n" not in text and "Traceback" not in text


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kinds, fmt",
    [
        ("seed-four-siblings.jsonl", {"terminal-siblings"}, "jsonl"),
        ("seed-four-siblings.export.json", {"terminal-siblings"}, "export"),
        ("u2-two-siblings.export.json", {"terminal-siblings", "turn-binding", "tool-followup", "unanswered"}, "export"),
        ("clean-tool-chain.export.json", set(), "export"),
        ("clean-compaction.export.json", set(), "export"),
        ("clean-subagent.export.json", set(), "export"),
        ("clean-subagent-child.export.json", set(), "export"),
        ("running.export.json", set(), "export"),
    ],
)
def test_fixture_audited(name, kinds, fmt):
    r = audit_paths([FIX / name])
    assert r.errors == []
    assert r.kinds == kinds, r.text()
    assert r.format == fmt
    assert r.exit_code == (1 if kinds else 0)


def test_seed_shape_with_its_ids_and_timestamps():
    r = audit_paths([FIX / "seed-four-siblings.jsonl"])
    (v,) = r.violations
    assert v.kind == "terminal-siblings"
    assert v.nodes[0] == SEED_USER and set(v.nodes[1:]) == set(SEED_SIBLINGS)
    text = r.text()
    assert SEED_SESSION in text and "4 terminal assistants" in text
    for mid, (created, completed) in SEED_SIBLINGS.items():
        assert mid in text and str(created) in text and str(completed) in text
    msgs = r.to_json()["sessions"][0]["violations"][0]["messages"]
    assert {m["id"]: (m["created"], m["completed"]) for m in msgs[1:]} == SEED_SIBLINGS
    assert "308 ms ahead" in text  # the user id was minted on a clock 308 ms ahead of the server's


def test_subagent_and_running_sessions_say_why():
    r = audit_paths([FIX / "clean-subagent-child.export.json"])
    assert "subagent session of ses_1c5290000000subagentClean0" in r.text()
    run = audit_paths([FIX / "running.export.json"])
    assert run.audits[0].running and any("no reply yet" in w for w in run.warnings)


def test_graph_marks_violating_nodes(tmp_path):
    audit_paths([FIX / "u2-two-siblings.export.json"], out=tmp_path)
    dot = (tmp_path / "message-tree.dot").read_text()
    assert dot.count("penwidth=3") == 5  # every message of this shape is involved: U1, A1, U2, A2, A3
    assert json.loads((tmp_path / "audit.json").read_text())["verdict"] == "violated"
    several = audit_paths([FIX / "seed-four-siblings.jsonl", FIX / "clean-compaction.export.json"], out=tmp_path / "m")
    assert (tmp_path / "m" / SEED_SESSION / "message-tree.dot").is_file()
    assert several.exit_code == 1


# --- the other formats: SQLite (1.15.4), JSON storage (older), JSON rows ---------------------------------


def _export(name: str) -> dict:
    return json.loads((FIX / name).read_text())


def _strip(obj: dict, *keys: str) -> dict:
    return {k: v for k, v in obj.items() if k not in keys}


def make_db(path: Path, *exports: str) -> None:
    """opencode.db with the 1.15.4 session/message/part tables (columns the reader uses)."""
    con = sqlite3.connect(path)
    con.executescript(
        "create table session (id text primary key, project_id text, parent_id text, slug text, directory text,"
        " title text, version text, time_created integer, time_updated integer);"
        "create table message (id text primary key, session_id text not null, time_created integer,"
        " time_updated integer, data text not null);"
        "create table part (id text primary key, message_id text not null, session_id text not null,"
        " time_created integer, time_updated integer, data text not null);"
    )
    for name in exports:
        doc = _export(name)
        i = doc["info"]
        con.execute(
            "insert into session values (?,?,?,?,?,?,?,?,?)",
            (
                i["id"],
                "global",
                i.get("parentID"),
                i["slug"],
                i["directory"],
                i["title"],
                i["version"],
                i["time"]["created"],
                i["time"]["updated"],
            ),
        )
        for m in doc["messages"]:
            info = m["info"]
            con.execute(
                "insert into message values (?,?,?,?,?)",
                (
                    info["id"],
                    info["sessionID"],
                    info["time"]["created"],
                    info["time"]["created"],
                    json.dumps(_strip(info, "id", "sessionID")),
                ),
            )
            for p in m["parts"]:
                con.execute(
                    "insert into part values (?,?,?,?,?,?)",
                    (
                        p["id"],
                        p["messageID"],
                        p["sessionID"],
                        0,
                        0,
                        json.dumps(_strip(p, "id", "messageID", "sessionID")),
                    ),
                )
    con.commit()
    con.close()


def test_sqlite_database(tmp_path):
    db = tmp_path / "opencode.db"
    make_db(db, "u2-two-siblings.export.json", "clean-compaction.export.json", "seed-four-siblings.export.json")
    r = audit_paths([db])
    assert r.format == "sqlite" and len(r.audits) == 3
    by = {a.session.id: {v.kind for v in a.violations} for a in r.audits}
    assert by[SEED_SESSION] == {"terminal-siblings"}
    assert by["ses_1c52a0000000compactClean00"] == set()
    assert by["ses_1c52c0000000u2pairFixture0"] == {"terminal-siblings", "turn-binding", "tool-followup", "unanswered"}
    assert all(a.session.version == "1.15.4" and a.session.has_parts for a in r.audits)
    only = audit_paths([tmp_path], session=SEED_SESSION)  # the data directory holding opencode.db
    assert [a.session.id for a in only.audits] == [SEED_SESSION]


def test_json_storage_layout(tmp_path):
    root = tmp_path / "storage"
    for name in ("u2-two-siblings.export.json", "clean-tool-chain.export.json"):
        doc = _export(name)
        sid = doc["info"]["id"]
        (root / "session" / "global").mkdir(parents=True, exist_ok=True)
        (root / "session" / "global" / f"{sid}.json").write_text(json.dumps(doc["info"]))
        for m in doc["messages"]:
            d = root / "message" / sid
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{m['info']['id']}.json").write_text(json.dumps(m["info"]))
            for p in m["parts"]:
                pd = root / "part" / m["info"]["id"]
                pd.mkdir(parents=True, exist_ok=True)
                (pd / f"{p['id']}.json").write_text(json.dumps(p))
    r = audit_paths([tmp_path])
    assert r.format == "json-storage"
    assert {a.session.id: bool(a.violations) for a in r.audits} == {
        "ses_1c52c0000000u2pairFixture0": True,
        "ses_1c52b0000000toolchainClean": False,
    }
    one = audit_paths([root / "message" / "ses_1c52b0000000toolchainClean"])
    assert one.exit_code == 0 and len(one.audits) == 1


def test_json_rows_and_records(tmp_path):
    doc = _export("u2-two-siblings.export.json")
    rows = [
        {
            "id": m["info"]["id"],
            "session_id": m["info"]["sessionID"],
            "time_created": 0,
            "data": json.dumps(_strip(m["info"], "id", "sessionID")),
        }
        for m in doc["messages"]
    ]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    r = audit_paths([tmp_path / "rows.json"])
    assert r.format == "json-array" and "terminal-siblings" in r.kinds
    recs = [{"type": "session", "data": doc["info"]}] + [
        {"type": "message", "data": m["info"]} for m in doc["messages"]
    ]
    recs += [{"type": "part", "data": p} for m in doc["messages"] for p in m["parts"]]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(x) + "\n" for x in recs))
    r2 = audit_paths([tmp_path / "records.jsonl"])
    assert r2.kinds == {"terminal-siblings", "turn-binding", "tool-followup", "unanswered"}
    assert r2.audits[0].session.has_parts
    withparts = "".join(json.dumps(m) + "\n" for m in doc["messages"])
    (tmp_path / "wp.jsonl").write_text(withparts)
    assert audit_paths([tmp_path / "wp.jsonl"]).kinds == r2.kinds
    compact = tmp_path / "compact.json"  # an export on one line
    compact.write_text(json.dumps(doc))
    assert audit_paths([compact]).format == "export"


# --- round trip with the model ------------------------------------------------------------------------


# a V2 inbox store has no parentID: there is no legacy export of it for audit to read
LEGACY = [d for d in builtin("design") if load_design(d).engine == "legacy"]


def _asking(w) -> bool:
    """A run waits for its user's answer to a question nobody gives (issue-46135): its store is a
    session still running (a tool part running), whose open tail audit rightly leaves unjudged."""
    return any(f.pc == "ask" and f.answer in ASKS for f in w.fibers)


@pytest.mark.parametrize("design, scenario", pairs(LEGACY, builtin("scenario")))
def test_round_trip(design, scenario, tmp_path):
    """Every observable finding of the model, exported as an opencode session, is found by audit,
    on (at least) the messages the model marked."""
    res = checked(design, scenario)
    inverse = {prop: kind for kind, prop in KINDS.items()}
    found = {name: f for name, f in res.findings.items() if name in inverse and not _asking(f.trace.final)}
    for name, f in found.items():
        path = export_session(f.trace.final, tmp_path / name)
        assert path.suffix == ".json" and path.parent == tmp_path / name
        r = audit_paths([path])
        assert r.format == "export" and r.errors == []
        assert inverse[name] in r.kinds, f"{design} × {scenario}: {name} not found\n{r.text()}"
        assert r.exit_code == 1
        want = {f.trace.final.store.get(i).label for i in f.violation.nodes}
        msgs = r.audits[0].session.messages
        got = [{msgs[n].label for n in v.nodes if n in msgs} for v in r.violations if v.kind == inverse[name]]
        assert any(want <= g for g in got), f"{design} × {scenario}: {name} on {want}, audit: {got}"


@pytest.mark.slow  # every pair, idle-window's included
def test_round_trip_covers_every_observable_property():
    seen = set()
    for d in builtin("design"):
        for sc in builtin("scenario"):
            seen |= set(checked(d, sc).findings) & set(KINDS.values())
    assert seen == set(KINDS.values())


def test_model_run_to_rest_without_findings_is_clean(tmp_path):
    """A store the model reaches at rest on a design that holds audits clean (no false positives)."""
    for design, scenario in [
        ("serialize-turn", "tool-race"),
        ("serialize-turn", "async-overlap"),
        ("bind-turn", "plugin-inject"),
    ]:
        system = System(load_design(design), load_scenario(scenario))
        assert bfs(system, PROPERTIES).holds
        w = system.initial()
        while True:
            succ = system.successors(w)
            if not succ:
                break
            w = succ[-1][1]
        r = audit_paths([export_session(w, tmp_path / f"{design}-{scenario}.json")])
        assert r.exit_code == 0, r.text()


def test_exported_ids_sort_like_the_model():
    from turnproof.model import ids

    order = [ids.server(1), ids.client(1), ids.server(2), ids.client(2.5), ids.server(10), ids.client(ids.AFTER_ALL)]
    made = [message_id(m, i, f"X{i}") for i, m in enumerate(order)]
    assert made == sorted(made) and all(len(m) == 30 and m.startswith("msg_") for m in made)


# --- bad input ----------------------------------------------------------------------------------------


def _err(tmp_path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = audit_paths([p])
    assert r.exit_code == 2 and not r.violations
    (e,) = r.errors
    assert one_line(e) and str(p) in e
    return e


def test_bad_files(tmp_path):
    doc = (FIX / "u2-two-siblings.export.json").read_text()
    assert "truncated" in _err(tmp_path, "cut.json", doc[: len(doc) // 2])
    assert "empty" in _err(tmp_path, "empty.json", "")
    assert "not an opencode export" in _err(tmp_path, "other.json", '{"hello": 1}')
    assert "starts with" in _err(tmp_path, "bin.dat", b"\x00\x01\x02garbage")
    assert "no such file" in audit_paths([tmp_path / "missing.json"]).errors[0]
    assert "without opencode.db" in audit_paths([tmp_path]).errors[0]
    (tmp_path / "bad.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    e = audit_paths([tmp_path / "bad.db"]).errors[0]
    assert one_line(e) and "bad.db" in e


def _jsonl(tmp_path, lines: list) -> Path:
    p = tmp_path / "s.jsonl"
    p.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return p


def _seed_lines():
    return [json.loads(x) for x in (FIX / "seed-four-siblings.jsonl").read_text().splitlines()]


def test_bad_records_warn_and_never_read_clean(tmp_path):
    lines = _seed_lines()
    u, a1 = lines[0], lines[1]
    # a truncated last line: the violation is still found, and the line is named
    r = audit_paths([_jsonl(tmp_path, lines + [json.dumps(a1)[:40]])])
    assert r.exit_code == 1 and any("line 6" in w and "truncated" in w for w in r.warnings)
    # the same without a violation: incomplete, exit 2, not clean
    r = audit_paths([_jsonl(tmp_path, [u, a1, json.dumps(a1)[:40]])])
    assert r.exit_code == 2 and r.verdict == "incomplete" and "incomplete" in r.text()
    # unknown role, missing parentID, unknown finish, duplicate id, dangling parent, missing time
    odd = [
        u,
        a1,
        {**a1, "id": "msg_e3b47cbfc009xxxxxxxxxxxxxx", "role": "robot"},
        {k: v for k, v in a1.items() if k != "parentID"} | {"id": "msg_e3b47cbfc00axxxxxxxxxxxxxx"},
        {**a1, "id": "msg_e3b47cbfc00bxxxxxxxxxxxxxx", "finish": "weird", "parentID": "msg_nowhere"},
        a1,
        {k: v for k, v in u.items() if k != "time"} | {"id": "msg_e3b47bdbe00cxxxxxxxxxxxxxx"},
    ]
    r = audit_paths([_jsonl(tmp_path, odd)])
    w = "\n".join(r.warnings)
    for expected in (
        "role: unknown value 'robot'",
        "parentID: missing",
        "finish: unknown value 'weird'",
        "duplicate message id",
        "points to no message",
        "time.created: missing",
    ):
        assert expected in w, w
    assert all(one_line(x) for x in r.warnings)
    assert r.exit_code in (1, 2) and r.exit_code != 0


def test_not_objects_and_bad_shapes(tmp_path):
    r = audit_paths([_jsonl(tmp_path, ["[1,2]", '"x"', "{}", {"role": "user"}])])
    assert r.exit_code == 2 and r.errors and one_line(r.errors[0])
    p = tmp_path / "arr.json"
    p.write_text('[{"info": 3, "parts": []}, 5]')
    r = audit_paths([p])
    assert r.exit_code == 2 and all(one_line(e) for e in r.errors)
    p.write_text('{"info": {"id": "ses_x"}, "messages": [{"info": {"id": 1}}, {"parts": "no"}]}')
    r = audit_paths([p])
    assert r.exit_code == 2 and all(one_line(e) for e in r.errors + r.warnings)


def test_large_files_stream_with_flat_memory(tmp_path):
    """~40 MB of tool output in JSON Lines and in an export: peak memory stays a few MB."""
    lines = _seed_lines()
    big = "x" * 200_000
    jl = tmp_path / "big.jsonl"
    with jl.open("w") as fh:
        fh.write(json.dumps(lines[0]) + "\n")
        for i in range(200):
            m = dict(lines[1], id=f"msg_e3b47cbfc{i:03x}xxxxxxxxxxxxxx", finish="tool-calls" if i < 199 else "stop")
            fh.write(json.dumps({"info": m, "parts": [{"type": "text", "text": big, "messageID": m["id"]}]}) + "\n")
    ex = tmp_path / "big.json"
    with ex.open("w") as fh:
        fh.write(f'{{\n  "info": {{"id": "{SEED_SESSION}", "version": "1.15.4"}},\n  "messages": [\n')
        for i in range(200):
            m = dict(lines[1], id=f"msg_e3b47cbfc{i:03x}xxxxxxxxxxxxxx", finish="tool-calls" if i < 199 else "stop")
            fh.write(("," if i else "") + json.dumps({"info": m, "parts": [{"type": "text", "text": big}]}) + "\n")
        fh.write("  ]\n}\n")
    assert jl.stat().st_size > 30_000_000 and ex.stat().st_size > 30_000_000
    for path in (jl, ex):
        tracemalloc.start()
        r = audit_paths([path])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(r.audits[0].session.messages) >= 200 and r.exit_code == 0, r.text()
        assert peak < 12_000_000, f"{path.name}: peak {peak}"


# --- fuzzing the readers --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**53) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "role",
                    "parentID",
                    "finish",
                    "time",
                    "created",
                    "completed",
                    "info",
                    "parts",
                    "messages",
                    "type",
                    "data",
                    "sessionID",
                    "messageID",
                    "session_id",
                    "state",
                    "status",
                    "error",
                    "synthetic",
                    "summary",
                    "tool",
                    "metadata",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)
message_like = st.fixed_dictionaries(
    {"id": st.sampled_from(["msg_a", "msg_b", "msg_c", "x", ""]), "role": st.sampled_from(["user", "assistant", "x"])},
    optional={
        "parentID": st.sampled_from(["msg_a", "msg_b", "nope", 3]),
        "finish": st.sampled_from(["stop", "tool-calls", "length", "odd", None, 5]),
        "time": st.fixed_dictionaries({}, optional={"created": json_values, "completed": json_values}),
        "error": json_values,
        "sessionID": st.sampled_from(["ses_a", "ses_b", 1]),
    },
)


def _check_read(path: Path) -> None:
    try:
        sessions = read_path(path)
    except AuditInputError as e:
        assert one_line(str(e)) and str(path) in str(e)
        return
    r = audit_paths([path])
    assert r.exit_code in (0, 1, 2)
    assert all(one_line(w) for w in r.warnings + r.errors)
    assert r.text() and json.dumps(r.to_json())
    assert sessions


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_bytes(tmp_path, data):
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    _check_read(p)


@pytest.mark.slow  # hypothesis: hundreds of documents
@FUZZ
@given(doc=json_values)
def test_fuzz_json_documents(tmp_path, doc):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc, indent=1))
    _check_read(p)


@pytest.mark.slow  # hypothesis: hundreds of documents
@FUZZ
@given(msgs=st.lists(message_like | json_values, min_size=1, max_size=8), cut=st.integers(0, 400))
def test_fuzz_jsonl_and_exports(tmp_path, msgs, cut):
    p = tmp_path / "f.jsonl"
    text = "".join(json.dumps(m) + "\n" for m in msgs)
    p.write_text(text)
    _check_read(p)
    p.write_text(text[:cut])
    _check_read(p)
    e = tmp_path / "e.json"
    body = json.dumps({"info": {"id": "ses_a"}, "messages": [{"info": m, "parts": []} for m in msgs]}, indent=2)
    e.write_text(body)
    _check_read(e)
    e.write_text(body[: cut * 3])
    _check_read(e)
