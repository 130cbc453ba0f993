"""The audit told as a story: short labels with the ids in a legend, the likely cause read from the
evidence, the next step, and each finding in its own colour in the picture."""

from __future__ import annotations

import json
import re
from pathlib import Path

from turnproof.audit import audit_paths
from turnproof.audit.story import PALETTE, Relabel, labels

FIX = Path(__file__).parent / "fixtures" / "audit"


def test_the_seed_is_told_with_short_labels_two_causes_and_the_commands_to_see_them(cli, tmp_path):
    r = cli("audit", str(FIX / "seed-four-siblings.jsonl"), "--out", str(tmp_path))
    out = r.stdout
    assert r.exit_code == 1 and "msg_" not in out.split("labels: ", 1)[1].split("  ✗", 1)[1]  # ids only in the legend
    # A2 was created 1.2 s after A1, 9.3 s before A1 completed: one loop cannot do that
    assert (
        "likely cause: two loops ran at once: A2 was created at 13:30:22.759 while A1 was still being written "
        "(13:30:21.564 to 13:30:32.041)" in out
    )
    assert "likely cause: a client clock ahead: U1's id reads 308 ms ahead of its time.created" in out
    assert "./run.sh check --design v1.15.4 --scenario two-instances --shape four-siblings --minimize" in out
    assert "./run.sh check --design v1.15.4 --scenario client-clock-ahead --shape four-siblings --minimize" in out
    assert "next: report it upstream: opencode issue #28202" in out
    doc = json.loads((tmp_path / "audit.json").read_text())["sessions"][0]
    assert [c["cause"] for c in doc["likely_causes"]] == ["two-loops", "client-clock"]
    assert doc["labels"]["msg_e3b47bdbe0016eiqJcvSD3F2QI"] == "U1" and len(doc["labels"]) == 5


def test_the_u2_pair_names_the_prompt_sent_during_the_tool_call(cli, tmp_path):
    out = cli("audit", str(FIX / "u2-two-siblings.export.json"), "--out", str(tmp_path)).stdout
    assert "✗ turn-binding: A2 carries on after A1 (tool-calls) of user U1 but its parentID is the newer user U2" in out
    assert (
        "likely cause: a prompt during a tool round-trip: U2 was created at 13:46:43.000, after A1 (tool-calls, "
        "created 13:46:40.900) and before its continuation A2 (13:46:44.010)" in out
    )
    assert "./run.sh check --design v1.15.4 --scenario tool-race --minimize" in out


def test_a_clean_session_has_no_cause_and_a_session_without_the_evidence_names_none(cli, tmp_path):
    out = cli("audit", str(FIX / "clean-tool-chain.export.json"), "--out", str(tmp_path)).stdout
    assert "likely cause" not in out and "next:" not in out
    # the seed's replies one after another and its user id on the server's clock: the findings stay, no cause
    lines = (FIX / "seed-four-siblings.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    recs[0]["time"]["created"] = int(recs[0]["id"][4:16], 16) // 0x1000  # the id's own clock
    t = recs[0]["time"]["created"] + 1000
    for r in recs[1:]:
        r["time"] = {"created": t, "completed": t + 500}
        t += 1000
    src = tmp_path / "serial.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    out = cli("audit", str(src), "--out", str(tmp_path / "o")).stdout
    assert "✗ terminal-siblings" in out and "likely cause" not in out


def test_each_finding_has_its_own_colour_and_the_legend_names_it(tmp_path):
    report = audit_paths([FIX / "u2-two-siblings.export.json"], out=tmp_path)
    (a,) = report.audits
    dot = (tmp_path / "message-tree.dot").read_text()
    names = labels(a.session)
    for i, v in enumerate(a.violations, 1):
        assert re.search(rf'bgcolor="{PALETTE[i - 1]}"[^<]*</td><td align="left">finding {i}: {v.kind}', dot)
    first = {}
    for i, v in enumerate(a.violations, 1):
        for n in v.nodes:
            first.setdefault(n, i)
    for mid, i in first.items():  # each message outlined in the colour of the first finding it is in
        line = next(x for x in dot.splitlines() if f"tooltip={mid}" in x)
        assert f'color="{PALETTE[i - 1]}"' in line and line.count("finding ") == 1 and names[mid] in line
    for mid, label in names.items():  # the legend gives every drawn label's real id
        assert f'<td>{label}</td><td align="left">{mid}</td>' in dot


def test_relabel_swallows_a_model_label_after_an_id_and_keeps_unknown_ids():
    r = Relabel({"msg_a1": "U1", "msg_a10": "A1"})
    assert r("msg_a10 [A1] under msg_a1, not msg_zz") == "A1 under U1, not msg_zz"
    assert r.legend() == ["U1 = msg_a1, A1 = msg_a10"]
