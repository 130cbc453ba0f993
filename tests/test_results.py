"""Results whole or absent, and every fault its exit (issue 24): stale folders, concurrent writers,
signals while drawing, pipes, read-only targets, budgets, usage errors, no graphviz, odd exports."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from turnproof.cli.outdir import MANIFEST, Target

VIOLATES, HOLDS = ("v1.15.4", "tool-race"), ("bind-and-serialize", "tool-race")


def check(cli, out: Path, pair=VIOLATES, *more: str):
    return cli("check", "--design", pair[0], "--scenario", pair[1], "--out", str(out), "--quiet", *more)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    """What a writer leaves beside its target: locks, staged or replaced folders."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def one_line(r) -> bool:
    return len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("turnproof: error: ")


# --- stale folders ---------------------------------------------------------------------------


def test_a_holding_check_leaves_no_counterexample_of_an_earlier_run(cli, tmp_path):
    out = tmp_path / "out"
    assert check(cli, out).exit_code == 1
    assert (out / "turn-binding" / "trace.json").is_file()
    r = check(cli, out, HOLDS)
    assert r.exit_code == 0
    assert sorted(tree(out)) == [MANIFEST]
    manifest = json.loads((out / MANIFEST).read_text())
    assert {k: manifest[k] for k in ("command", "design", "scenario", "verdict")} == {
        "command": "check",
        "design": "bind-and-serialize",
        "scenario": "tool-race",
        "verdict": "holds",
    }
    assert manifest["turnproof_version"]
    assert leftovers(tmp_path) == []


def test_a_violated_check_holds_exactly_its_own_counterexamples(cli, tmp_path):
    out = tmp_path / "out"
    (out / "turn-binding").mkdir(parents=True)
    (out / "turn-binding" / "trace.json").write_text("{}")  # an earlier run's, without a manifest
    (out / "stale-property").mkdir()
    (out / "stale-property" / "sequence.svg").write_text("")
    r = check(cli, out, VIOLATES, "--json")
    doc = json.loads(r.stdout)
    violated = sorted(p["name"] for p in doc["properties"] if not p["holds"])
    assert r.exit_code == 1 and violated
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == violated
    assert sorted(doc["files"]) == sorted(str(out / f) for f in tree(out) if f != MANIFEST)
    assert json.loads((out / "turn-binding" / "trace.json").read_text())["design"] == "v1.15.4"


def test_export_session_holds_only_this_runs_sessions(cli, tmp_path):
    sessions = tmp_path / "sessions"
    check(cli, tmp_path / "a", VIOLATES, "--export-session", str(sessions))
    assert (sessions / "turn-binding.json").is_file()
    assert check(cli, tmp_path / "b", HOLDS, "--export-session", str(sessions)).exit_code == 0
    assert sorted(tree(sessions)) == [MANIFEST]


def test_audit_of_a_sessions_folder_skips_its_manifest(cli, tmp_path):
    sessions = tmp_path / "sessions"
    check(cli, tmp_path / "a", VIOLATES, "--export-session", str(sessions))
    files = sorted(str(p) for p in sessions.glob("*.json"))
    assert str(sessions / MANIFEST) in files
    r = cli("audit", *files, "--json", "--out", str(tmp_path / "audit"))
    assert r.exit_code == 1 and json.loads(r.stdout)["errors"] == []


def test_audit_out_holds_one_runs_graphs(cli, tmp_path):
    sessions, out = tmp_path / "sessions", tmp_path / "audit"
    check(cli, tmp_path / "a", VIOLATES, "--export-session", str(sessions))
    two = sorted(str(p) for p in sessions.glob("*.json") if p.name != MANIFEST)[:2]
    assert cli("audit", *two, "--out", str(out)).exit_code == 1
    assert len([p for p in out.iterdir() if p.is_dir()]) == 2  # a folder per session
    assert cli("audit", two[0], "--out", str(out)).exit_code == 1
    assert sorted(tree(out)) == ["audit.json", MANIFEST, "message-tree.dot", "message-tree.svg"]
    assert json.loads((out / MANIFEST).read_text())["command"] == "audit"


def test_a_folder_with_other_files_is_never_replaced(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    r = check(cli, tmp_path)
    assert r.exit_code == 2 and one_line(r) and "notes.txt" in r.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_review_out_is_replaced_whole(cli, tmp_path):
    out = tmp_path / "review"
    out.mkdir()
    (out / "old.svg").write_text("")
    r = cli("review", "--designs", "bind-and-serialize", "--scenarios", "tool-race", "--out", str(out))
    assert r.exit_code == 0
    assert sorted(tree(out)) == [MANIFEST, "review.md"]


# --- concurrent writers ----------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_first(cli, tmp_path):
    out = tmp_path / "out"
    with Target(out, "--out"):  # the first writer, mid-run
        r = check(cli, out)
    assert r.exit_code == 2 and one_line(r)
    assert f"pid {os.getpid()}" in r.stderr and "being written by another turnproof" in r.stderr
    assert not out.exists()
    assert check(cli, out).exit_code == 1  # the lock is gone with its writer


def test_a_stale_lock_of_a_dead_writer_is_taken_over(cli, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".out.lock").write_text(json.dumps({"pid": int(dead.stdout), "command": "turnproof check"}))
    assert check(cli, tmp_path / "out").exit_code == 1
    assert leftovers(tmp_path) == []


def test_two_checks_at_once_never_mix(tmp_path):
    """Two real processes on one --out: one result, whole; the other refused (exit 2) or run after."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "turnproof.cli", "check", "--scenario", "tool-race", "--out", str(out), "--quiet"]
    procs = [
        subprocess.Popen([*cmd, "--design", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for d in ("v1.15.4", "bind-turn")
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert set(codes) <= {1, 2} and 1 in codes
    designs = {json.loads((p).read_text())["design"] for p in out.rglob("trace.json")}
    assert designs == {json.loads((out / MANIFEST).read_text())["design"]}
    assert leftovers(tmp_path) == []


# --- signals while drawing ------------------------------------------------------------------


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_while_drawing_leaves_the_earlier_result_untouched(cli, tmp_path, monkeypatch, sig, code):
    from turnproof.explore.views import report

    out = tmp_path / "out"
    assert check(cli, out, ("bind-turn", "tool-race")).exit_code == 1
    before = tree(out)
    drawn = []
    real = report.write

    def write(d, base):
        drawn.append(base)
        if len(drawn) == 3:
            os.kill(os.getpid(), sig)
        return real(d, base)

    monkeypatch.setattr(report, "write", write)
    r = check(cli, out)
    assert r.exit_code == code and "turnproof: interrupted" in r.stderr
    assert len(drawn) == 3
    assert tree(out) == before
    assert leftovers(tmp_path) == []


# --- read-only targets -----------------------------------------------------------------------


def test_a_read_only_disk_under_the_writer_is_exit_2(cli, tmp_path, monkeypatch):
    from turnproof.explore.views import report

    def write(d, base):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(base) + ".dot")

    monkeypatch.setattr(report, "write", write)
    r = check(cli, tmp_path / "out")
    assert r.exit_code == 2 and one_line(r) and "Read-only file system" in r.stderr
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", [1, 2])
def test_a_failed_swap_keeps_the_earlier_result(cli, tmp_path, monkeypatch, failing):
    """The first rename (the old result aside) or the second (the new one in) fails: the old stays."""
    from turnproof.cli import outdir

    out = tmp_path / "out"
    check(cli, out, HOLDS)
    before = tree(out)
    calls, rename = [], os.rename

    def rename_or_refuse(a, b):
        calls.append((a, b))
        if len(calls) == failing:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return rename(a, b)

    monkeypatch.setattr(outdir.os, "rename", rename_or_refuse)
    r = check(cli, out)
    assert r.exit_code == 2 and one_line(r) and "Read-only file system" in r.stderr
    assert tree(out) == before
    assert leftovers(tmp_path) == []


# --- pipes, devices, folders as inputs ------------------------------------------------------


@pytest.mark.parametrize("command", ["audit", "replay", "explain"])
def test_a_named_pipe_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "trace.json"
    os.mkfifo(fifo)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "turnproof.cli",
            command,
            str(fifo),
            *(["--out", str(tmp_path / "o")] if command == "audit" else []),
        ],
        capture_output=True,
        text=True,
        timeout=120,  # a blocking read would hang here: the pipe has no writer
    )
    assert r.returncode == 2 and "not a regular file" in r.stderr


def test_a_folder_or_a_device_is_not_a_trace(cli, tmp_path):
    for path in (tmp_path, Path("/dev/null")):
        r = cli("replay", str(path))
        assert r.exit_code == 2 and one_line(r) and "not a regular file" in r.stderr
    r = cli("audit", "/dev/null", "--out", str(tmp_path / "o" / "deeper"))
    assert r.exit_code == 2 and "not a regular file" in r.stderr
    assert not (tmp_path / "o").exists()  # no folder made for a result that was never written


# --- budgets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["auto", "bfs", "dpor", "sleep"])
def test_max_states_1_is_exact(cli, tmp_path, strategy):
    r = check(cli, tmp_path / "out", HOLDS, "--max-states", "1", "--strategy", strategy)
    assert r.exit_code == 3 and "the state budget (--max-states 1) is spent" in r.stdout


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "soon"])
def test_max_seconds_must_be_a_finite_positive_number(cli, tmp_path, value):
    r = check(cli, tmp_path / "out", HOLDS, "--max-seconds", value)
    assert r.exit_code == 2 and one_line(r)


def test_with_no_budget_a_large_space_stops_with_advice(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("turnproof.cli.main.DEFAULT_SECONDS", 0.5)
    r = check(cli, tmp_path / "out", ("v1.15.4", "large/crowd"))
    assert r.exit_code == 3 and "stopped: the time budget" in r.stdout and "--exhaustive" in r.stdout
    assert json.loads((tmp_path / "out" / MANIFEST).read_text())["verdict"] == "undecided"


def test_exhaustive_goes_with_no_state_or_time_budget(cli, tmp_path):
    r = check(cli, tmp_path / "out", HOLDS, "--exhaustive", "--max-seconds", "5")
    assert r.exit_code == 2 and one_line(r)
    assert check(cli, tmp_path / "out", HOLDS, "--exhaustive").exit_code == 0


# --- usage errors on one line ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["nope"],
        ["check"],
        ["check", "--design", "v1.15.4"],
        ["check", "--bogus"],
        ["check", "--design", "v1.15.4", "--scenario", "tool-race", "--strategy", "dfs"],
        ["check", "--design", "v1.15.4", "--scenario", "tool-race", "--runs", "0"],
        ["replay"],
        ["explain"],
        ["audit"],
        ["review", "--designs"],
        ["conform", "--design", "v1.15.4"],
    ],
)
def test_usage_errors_are_one_line(cli, args):
    r = cli(*args)
    assert r.exit_code == 2 and one_line(r), r.stderr
    assert re.search(r"\(see turnproof( \w+)? --help\)$", r.stderr.strip())


# --- without graphviz -----------------------------------------------------------------------


def test_without_dot_check_says_so_and_explain_html_refuses(cli, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert check(cli, out).exit_code == 1
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    r = check(cli, tmp_path / "bare")
    assert r.exit_code == 1 and "graphviz's dot is not installed" in r.stdout
    assert not list((tmp_path / "bare").rglob("*.svg"))
    r = cli("explain", str(out / "turn-binding" / "trace.json"), "--html", str(tmp_path / "page.html"))
    assert r.exit_code == 2 and one_line(r) and "graphviz" in r.stderr
    assert not (tmp_path / "page.html").exists()


# --- explain re-runs what it narrates -------------------------------------------------------


def test_explain_refuses_a_claim_that_does_not_hold(cli, tmp_path):
    out = tmp_path / "out"
    check(cli, out)
    doc = json.loads((out / "turn-binding" / "trace.json").read_text())
    assert cli("explain", str(out / "turn-binding" / "trace.json")).exit_code == 0
    doc["property"] = "no-terminal-siblings"  # not what this schedule shows
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    assert cli("replay", str(edited)).exit_code == 2
    r = cli("explain", str(edited))
    assert r.exit_code == 2 and one_line(r) and "no-terminal-siblings" in r.stderr and r.stdout == ""


# --- audit on odd but real exports ----------------------------------------------------------


def clean_session(turns: int = 2) -> dict:
    """Users each answered after two tool round-trips: a clean session."""
    sid, msgs, k = "ses_testresults0000000000", [], 0

    def mid(n: int) -> str:
        return f"msg_{(1_779_111_000_000 * 4096 + n) % (1 << 48):012x}{n:014d}"

    for _ in range(turns):
        uid = mid(k)
        msgs.append({"info": {"id": uid, "sessionID": sid, "role": "user", "time": {"created": k}}, "parts": []})
        k += 1
        for finish in ("tool-calls", "tool-calls", "stop"):
            m = mid(k)
            parts = []
            if finish == "tool-calls":
                state = {"status": "completed", "input": {}, "output": "", "time": {"start": 0, "end": 1}}
                parts = [{"id": f"prt_{k}", "sessionID": sid, "messageID": m, "type": "tool", "state": state}]
            info = {"id": m, "sessionID": sid, "role": "assistant", "parentID": uid, "finish": finish}
            msgs.append({"info": info | {"time": {"created": k, "completed": k}}, "parts": parts})
            k += 1
    return {"info": {"id": sid, "version": "1.15.4"}, "messages": msgs}


def audited(cli, tmp_path, doc) -> tuple[int, dict]:
    path = tmp_path / "session.json"
    path.write_text(json.dumps(doc))
    r = cli("audit", str(path), "--json", "--out", str(tmp_path / "a"))
    return r.exit_code, json.loads(r.stdout)


def test_audit_of_a_clean_session_is_clean(cli, tmp_path):
    code, doc = audited(cli, tmp_path, clean_session())
    assert code == 0 and doc["verdict"] == "clean"


def test_audit_without_time_fields_judges_by_order(cli, tmp_path):
    doc = clean_session()
    for m in doc["messages"]:
        del m["info"]["time"]
    code, report = audited(cli, tmp_path, doc)
    assert code == 0 and report["verdict"] == "clean"
    broken = clean_session()
    broken["messages"] = broken["messages"][:-1]  # the last turn ends on a tool round-trip
    for m in broken["messages"]:
        del m["info"]["time"]
    code, report = audited(cli, tmp_path, broken)
    kinds = {v["kind"] for s in report["sessions"] for v in s["violations"]}
    assert code == 1 and "tool-followup" in kinds


def test_audit_of_a_duplicated_id_uses_the_later_record_with_its_own_parts(cli, tmp_path):
    doc = clean_session()
    later = json.loads(json.dumps(doc["messages"][2]))  # the second tool round-trip of the first turn…
    later["info"]["finish"], later["parts"] = "stop", []  # …written again as the turn's answer, with no tool
    del doc["messages"][3]
    doc["messages"].insert(3, later)
    code, report = audited(cli, tmp_path, doc)
    assert code == 0 and report["verdict"] == "clean"
    assert any("duplicate message id" in w for s in report["sessions"] for w in s["warnings"])
