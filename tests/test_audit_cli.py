"""`turnproof audit` and `turnproof check --export-session` as a user runs them: exit codes, --json,
the graphs, one-line errors, and the round trip model → opencode export → audit through the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LARGE_SCENARIOS, SEED_SESSION, SEED_SIBLINGS, SEED_USER, pairs, searched
from turnproof.audit import KINDS
from turnproof.specs.loader import builtin, load_design

FIX = Path(__file__).parent / "fixtures" / "audit"
ROOT = Path(__file__).parent.parent
SEED = FIX / "seed-four-siblings.jsonl"
PROPERTY_KIND = {prop: kind for kind, prop in KINDS.items()}


def marked(dot: str) -> dict[str, bool]:
    """message id -> drawn as part of a finding (outlined thick, in a finding's colour) in a
    message-tree.dot; each node names its message's real id in its tooltip."""
    out = {}
    for line in dot.splitlines():
        m = re.search(r"tooltip=(msg_[A-Za-z0-9]+)", line)
        if m:
            out[m.group(1)] = "penwidth=3" in line and bool(re.search(r'color="#[0-9a-f]{6}"', line))
    return out


# --- exit codes and what is printed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, code, verdict",
    [
        ("seed-four-siblings.jsonl", 1, "VIOLATED"),
        ("u2-two-siblings.export.json", 1, "VIOLATED"),
        ("clean-tool-chain.export.json", 0, "CLEAN"),
        ("clean-compaction.export.json", 0, "CLEAN"),
        ("running.export.json", 0, "CLEAN"),
    ],
)
def test_audit_exit_codes_on_the_fixtures(cli, tmp_path, name, code, verdict):
    r = cli("audit", str(FIX / name), "--out", str(tmp_path))
    assert r.exit_code == code, r.output
    assert r.stderr == ""
    last = r.stdout.splitlines()[-2:]
    assert last[0].startswith(f"verdict: {verdict}: ") and last[1] == f"report written to {tmp_path}/audit.json"


def test_audit_seed_prints_ids_timestamps_and_the_format(cli, tmp_path):
    r = cli("audit", str(SEED), "--out", str(tmp_path))
    assert r.exit_code == 1
    out = r.stdout
    assert f"session {SEED_SESSION}  ({SEED}: JSON Lines of messages" in out
    assert "✗ terminal-siblings: 4 terminal assistants under user U1: A1, A2, A3, A4" in out
    legend = f"labels: U1 = {SEED_USER}, " + ", ".join(f"A{i} = {mid}" for i, mid in enumerate(SEED_SIBLINGS, 1))
    assert legend in " ".join(line.strip() for line in out.splitlines())  # the legend wraps, three to a line
    for i, (created, completed) in enumerate(SEED_SIBLINGS.values(), 1):
        row = next(line for line in out.splitlines() if line.strip().startswith(f"A{i}  assistant"))
        assert "parentID U1" in row and f"created {created} (" in row and f"completed {completed} (" in row
    assert "verdict: VIOLATED: 1 violation in 1 of 1 session; format: jsonl" in out
    assert f"graph: {tmp_path}/message-tree.dot" in out


def test_audit_json_shape(cli, tmp_path):
    r = cli("audit", str(SEED), str(FIX / "clean-compaction.export.json"), "--json", "--out", str(tmp_path))
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert set(doc) == {"verdict", "exit", "errors", "sessions", "files"}
    assert (doc["verdict"], doc["exit"], doc["errors"]) == ("violated", 1, [])
    seed, clean = doc["sessions"]
    assert (seed["session"], seed["format"], seed["parts"]) == (SEED_SESSION, "jsonl", False)
    assert (clean["format"], clean["opencode_version"], clean["violations"]) == ("export", "1.15.4", [])
    (v,) = seed["violations"]
    assert (v["kind"], v["property"]) == ("terminal-siblings", "no-terminal-siblings")
    assert v["messages"][0]["id"] == SEED_USER
    assert {m["id"]: (m["created"], m["completed"]) for m in v["messages"][1:]} == SEED_SIBLINGS
    # every file listed was written, and the report on disk is the same object minus the list
    assert doc["files"][-1] == str(tmp_path / "audit.json")
    assert all(Path(f).is_file() for f in doc["files"])
    assert seed["graphs"][0] == str(tmp_path / SEED_SESSION / "message-tree.dot")
    on_disk = json.loads((tmp_path / "audit.json").read_text())
    assert on_disk == {k: v for k, v in doc.items() if k != "files"}


def test_audit_graph_marks_exactly_the_violating_messages(cli, tmp_path):
    """The seed plus a later prompt answered once: the four siblings and their user are marked, the rest not."""
    lines = SEED.read_text().splitlines()
    user, reply = json.loads(lines[0]), json.loads(lines[1])
    u3 = {**user, "id": "msg_e3b480000001zzzzzzzzzzzzzz", "time": {"created": 1779111040000}}
    a3 = {**reply, "id": "msg_e3b480400001zzzzzzzzzzzzzz", "parentID": u3["id"]}
    a3["time"] = {"created": 1779111041000, "completed": 1779111042000}
    src = tmp_path / "seed-then-answered.jsonl"
    src.write_text("\n".join(lines + [json.dumps(u3), json.dumps(a3)]) + "\n")
    r = cli("audit", str(src), "--out", str(tmp_path / "out"), "--json")
    assert r.exit_code == 1
    (v,) = json.loads(r.stdout)["sessions"][0]["violations"]
    hot = {m["id"] for m in v["messages"]}
    assert hot == {SEED_USER, *SEED_SIBLINGS}
    drawn = marked((tmp_path / "out" / "message-tree.dot").read_text())
    assert drawn == {mid: mid in hot for mid in [SEED_USER, *SEED_SIBLINGS, u3["id"], a3["id"]]}
    if shutil.which("dot"):
        assert (tmp_path / "out" / "message-tree.svg").read_text().lstrip().startswith("<?xml")


def test_audit_one_session_of_a_database(cli, tmp_path):
    """--session picks one session out of an opencode.db holding several."""
    from test_audit import make_db

    db = tmp_path / "opencode.db"
    make_db(db, "clean-tool-chain.export.json", "seed-four-siblings.export.json")
    r = cli("audit", str(db), "--json", "--out", str(tmp_path / "all"))
    assert r.exit_code == 1 and len(json.loads(r.stdout)["sessions"]) == 2
    r = cli("audit", str(db), "--session", "ses_1c52b0000000toolchainClean", "--out", str(tmp_path / "one"))
    assert r.exit_code == 0 and "opencode SQLite database" in r.stdout
    assert "verdict: CLEAN: 0 violations in 0 of 1 session; format: sqlite" in r.stdout
    r = cli("audit", str(db), "--session", "ses_nope", "--out", str(tmp_path / "none"))
    assert r.exit_code == 2 and r.stderr == f"turnproof: error: {db}: no opencode messages found for session ses_nope\n"


def test_audit_same_session_in_two_files_gets_two_pictures(cli, tmp_path):
    r = cli("audit", str(SEED), str(FIX / "seed-four-siblings.export.json"), "--json", "--out", str(tmp_path))
    assert r.exit_code == 1
    graphs = [s["graphs"][0] for s in json.loads(r.stdout)["sessions"]]
    assert len(set(graphs)) == 2 and all(Path(g).is_file() for g in graphs)


# --- bad input: one line on stderr, exit 2, never a traceback, never "clean" --------------------------------


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, what its one-line error must say)."""
    doc = (FIX / "u2-two-siblings.export.json").read_text()
    files = {
        "truncated export": ("cut.json", doc[: len(doc) // 2], "truncated JSON"),
        "empty": ("empty.json", "", "empty file"),
        "not opencode": ("other.json", '{"hello": 1}', "not an opencode export"),
        "binary": ("blob.bin", b"\x00\x01\x02garbage", "starts with"),
        "bad sqlite": ("bad.db", b"SQLite format 3\x00" + b"\x00" * 200, "bad.db"),
        "no message": ("records.jsonl", '{}\n"x"\n[1, 2]\n', "not a message or part"),
        "no id": ("noid.jsonl", '{"role": "user"}\n{"role": "assistant"}\n', "id: missing"),
    }
    out = {}
    for name, (fname, content, says) in files.items():
        p = tmp_path / fname
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        out[name] = (p, says)
    out["missing"] = (tmp_path / "missing.json", "no such file or directory")
    (tmp_path / "emptydir").mkdir()
    out["directory without sessions"] = (tmp_path / "emptydir", "emptydir")
    return out


def test_audit_bad_files_are_one_line_errors(cli, tmp_path):
    for name, (path, says) in _bad_inputs(tmp_path).items():
        r = cli("audit", str(path), "--out", str(tmp_path / "out"))
        assert r.exit_code == 2, name
        assert r.stdout == "", name  # nothing was read: no verdict that could read as clean
        (line,) = r.stderr.splitlines()
        assert line.startswith(f"turnproof: error: {path}") and says in line, (name, line)
        assert "Traceback" not in r.output
        j = cli("audit", str(path), "--json", "--out", str(tmp_path / "out"))
        doc = json.loads(j.stdout)
        assert (j.exit_code, doc["verdict"], doc["sessions"], doc["files"]) == (2, "input error", [], []), name
        assert len(doc["errors"]) == 1 and doc["errors"][0] in line


def test_audit_a_bad_file_beside_a_clean_one_is_not_clean(cli, tmp_path):
    bad = tmp_path / "cut.json"
    bad.write_text((FIX / "seed-four-siblings.export.json").read_text()[:500])
    r = cli("audit", str(bad), str(FIX / "clean-tool-chain.export.json"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert len(r.stderr.splitlines()) == 1 and str(bad) in r.stderr
    assert "verdict: INCOMPLETE: 0 violations in 0 of 1 session; format: export; 1 input not read" in r.stdout
    # a violation elsewhere still says violated (exit 1), and the unread file is still named
    r = cli("audit", str(bad), str(SEED), "--out", str(tmp_path / "o"))
    assert r.exit_code == 1 and str(bad) in r.stderr and "1 input not read" in r.stdout


def test_audit_bad_records_warn_on_one_line_each(cli, tmp_path):
    """Unknown role and finish, duplicate id, dangling parentID, a truncated line: warnings, and never exit 0."""
    lines = SEED.read_text().splitlines()
    user, a1 = json.loads(lines[0]), json.loads(lines[1])
    odd = [
        user,
        a1,
        {**a1, "id": "msg_e3b47cbfc009xxxxxxxxxxxxxx", "role": "robot"},
        {**a1, "id": "msg_e3b47cbfc00bxxxxxxxxxxxxxx", "finish": "weird", "parentID": "msg_nowhere"},
        a1,
    ]
    src = tmp_path / "odd.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in odd) + json.dumps(a1)[:40] + "\n")
    r = cli("audit", str(src), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "verdict: INCOMPLETE" in r.stdout and "Traceback" not in r.output
    warnings = [line.strip()[2:] for line in r.stdout.splitlines() if line.strip().startswith("! ")]
    for says in ("role: unknown value 'robot'", "finish: unknown value 'weird'", "duplicate message id"):
        assert sum(says in w for w in warnings) == 1, (says, warnings)
    assert any("points to no message" in w for w in warnings)
    assert any("line 6" in w and "truncated" in w for w in warnings)
    assert all(str(src) in w for w in warnings if "session still running" not in w)


def test_audit_usage_errors(cli, tmp_path):
    r = cli("audit")
    assert r.exit_code == 2 and "Missing argument 'FILE...'" in r.stderr
    a_file = tmp_path / "f"
    a_file.write_text("")
    r = cli("audit", str(SEED), "--out", str(a_file))
    assert r.exit_code == 2 and "is a file" in r.stderr


def test_audit_in_a_real_process_prints_no_traceback(tmp_path):
    cut = tmp_path / "cut.json"
    cut.write_text((FIX / "u2-two-siblings.export.json").read_text()[:3000])
    p = subprocess.run(
        [sys.executable, "-m", "turnproof.cli", "audit", str(cut), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(f"turnproof: error: {cut}: ")


# --- check --export-session, then audit: the round trip through the CLI ---------------------------------

# a V2 inbox store has no parentID: --export-session refuses inbox designs (tested below)
LEGACY = [d for d in builtin("design") if load_design(d).engine == "legacy"]
# issue-46135: a question nobody answers leaves a session still running, which audit leaves unjudged
PAIRS = pairs(LEGACY, [s for s in builtin("scenario") if s not in ("idle-window", "issue-46135")], slow=LARGE_SCENARIOS)


def labels_in_trace(trace_json: Path) -> set[str]:
    """The labels of the messages the model marked as violating, read from check's trace.json."""
    doc = json.loads(trace_json.read_text())
    by_id = {m["id"]: m["label"] for m in doc["steps"][-1]["messages"]}
    return {by_id[i] for i in doc["highlight"]}


def test_export_session_refuses_an_inbox_design_before_the_search(cli, tmp_path):
    """A V2 inbox store has no parentID to write as a legacy export: a usage error, exit 2."""
    design = ("--design", "upstream-1.18.34-queue", "--scenario", "abort-queued")
    r = cli("check", *design, "--export-session", str(tmp_path))
    assert r.exit_code == 2 and "V2 inbox store has no parentID" in r.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("design, scenario", PAIRS)
def test_check_export_session_then_audit_finds_the_same_violation(cli, tmp_path, monkeypatch, design, scenario):
    """Every counterexample of every built-in pair (idle-window is covered by test_audit's library round
    trip), exported by `check --export-session` and read by `audit`: the same property is violated, on
    the same messages. Graphviz is hidden to keep this fast; the .dot files are still written. The
    search is the session's one `auto` result per pair (`searched`), shared with test_cli."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    monkeypatch.setattr("turnproof.cli.main.search", searched)
    sessions, out = tmp_path / "sessions", tmp_path / "out"
    r = cli(
        "check",
        "--design",
        design,
        "--scenario",
        scenario,
        "--json",
        "--out",
        str(out),
        "--export-session",
        str(sessions),
    )
    doc = json.loads(r.stdout)
    violated = [p["name"] for p in doc["properties"] if not p["holds"]]
    assert r.exit_code == (1 if violated else 0)
    exports = [str(sessions / f"{name}.json") for name in violated]
    assert [f for f in doc["files"] if f.startswith(str(sessions))] == exports
    if not violated:  # the folder is this run's result: its manifest, and no session
        assert [p.name for p in sessions.iterdir()] == ["manifest.json"]
        return
    a = cli("audit", *exports, "--json", "--out", str(tmp_path / "audit"))
    report = json.loads(a.stdout)
    assert report["errors"] == [] and a.stderr == ""
    by_file = {s["file"]: s for s in report["sessions"]}
    assert set(by_file) == set(exports)
    assert len({s["session"] for s in report["sessions"]}) == len(exports)  # one opencode session each
    observable = [name for name in violated if name in PROPERTY_KIND]
    assert a.exit_code == (1 if observable else report["exit"])
    for name in violated:
        s = by_file[str(sessions / f"{name}.json")]
        assert (s["format"], s["opencode_version"], s["complete"]) == ("export", "1.15.4", True)
        if name not in PROPERTY_KIND:
            continue  # turn-serialization, loop-terminates: not visible in a store
        want = labels_in_trace(out / name / "trace.json")
        found = [{m.get("label") for m in v["messages"]} for v in s["violations"] if v["property"] == name]
        assert any(want <= got for got in found), f"{design} × {scenario}: {name} on {want}, audit found {found}"


def test_check_export_session_text_and_audit(cli, tmp_path):
    sessions = tmp_path / "sessions"
    r = cli(
        "check",
        "--design",
        "v1.15.4",
        "--scenario",
        "tool-race",
        "--out",
        str(tmp_path / "o"),
        "--export-session",
        str(sessions),
    )
    assert r.exit_code == 1
    tail = r.stdout.splitlines()[-2:]
    assert tail == [
        f"final stores written as opencode exports to {sessions}/: "
        "turn-binding.json, turn-serialization.json, tool-followup.json, prompt-answered.json, no-silent-drop.json",
        "  turn-serialization, no-silent-drop: not visible in a stored session "
        "(turnproof audit judges no-terminal-siblings, tool-followup, turn-binding, prompt-answered)",
    ]
    a = cli("audit", str(sessions / "turn-binding.json"), "--out", str(tmp_path / "a"))
    assert a.exit_code == 1
    assert (
        "✗ turn-binding: A2 carries on after A1 (tool-calls) of user U1 but its parentID is the newer user U2"
        in a.stdout
    )
    assert "msg_" in a.stdout.split("labels: ", 1)[1].splitlines()[0]  # the model's labels, the ids in the legend
    j = json.loads(cli("audit", str(sessions / "turn-binding.json"), "--json", "--out", str(tmp_path / "a")).stdout)
    (s,) = j["sessions"]
    hot = {m["id"] for v in s["violations"] for m in v["messages"]}
    drawn = marked((tmp_path / "a" / "message-tree.dot").read_text())
    assert len(drawn) == s["messages"] and {m for m, red in drawn.items() if red} == hot
    holds = cli(
        "check",
        "--design",
        "bind-and-serialize",
        "--scenario",
        "tool-race",
        "--out",
        str(tmp_path / "h"),
        "--export-session",
        str(tmp_path / "none"),
    )
    assert (
        holds.exit_code == 0
        and holds.stdout.splitlines()[-1] == f"no counterexample, so no session exported to {tmp_path / 'none'}/"
    )
    assert [p.name for p in (tmp_path / "none").iterdir()] == ["manifest.json"]  # no session, this run's manifest


def test_check_export_session_unwritable_is_one_line(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = cli(
        "check",
        "--design",
        "v1.15.4",
        "--scenario",
        "tool-race",
        "--out",
        str(tmp_path / "o"),
        "--export-session",
        str(blocker / "x"),
    )
    assert r.exit_code == 2
    assert r.stderr == f"turnproof: error: --export-session {blocker / 'x'}: cannot write: Not a directory\n"
