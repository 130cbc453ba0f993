"""End to end: `turnproof check` and `list` as a user runs them, and the files they write."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import LARGE_SCENARIOS, auto, checked, pairs, searched
from turnproof.explore.views.report import result_json
from turnproof.specs.loader import builtin

# end to end through the CLI on every await-granularity pair (idle-window runs once below)
PAIRS = pairs(builtin("design"), [s for s in builtin("scenario") if s != "idle-window"], slow=LARGE_SCENARIOS)


@pytest.mark.parametrize("strategy", ["default", "bfs"])
@pytest.mark.parametrize("design,scenario", PAIRS)
def test_check_json_for_every_builtin_pair(cli, tmp_path, monkeypatch, drawn_once, design, scenario, strategy):
    """The CLI's search is answered from the session's one result per pair and strategy (the same
    call, made once: `searched`), and a picture already drawn is not drawn again: what is tested
    here is everything the CLI does around the search, against the search's own result."""
    monkeypatch.setattr("turnproof.cli.main.search", searched)
    chosen = [] if strategy == "default" else ["--strategy", strategy]
    r = cli("check", "--design", design, "--scenario", scenario, *chosen, "--json", "--out", str(tmp_path))
    doc = json.loads(r.output)
    assert doc["design"] == design and doc["scenario"] == scenario
    assert r.exit_code == (0 if doc["verdict"] == "holds" else 1)
    assert doc["verdict"] == ("holds" if all(p["holds"] for p in doc["properties"]) else "violated")
    stats = doc["stats"]
    assert stats["states"] > 1 and stats["transitions"] >= stats["states"] - 1 and stats["max_depth"] > 0
    assert isinstance(stats["seconds"], float)
    for p in doc["properties"]:
        if not p["holds"]:
            steps = p["trace"]["steps"]
            assert p["schedule"] == p["trace"]["schedule"] and len(steps) == p["trace"]["length"]
            for s in steps:
                cited = ".ts:" in s["source"] or s["source"].startswith(("opencode 1.18.34 bundle: ", "1.15.4 bundle "))
                assert s["fiber"] and s["action"] and cited and isinstance(s["messages"], list)
            assert (tmp_path / p["name"] / "trace.json").is_file()
    # the CLI reports exactly what the explorer found (the default, auto, runs dpor here)
    assert doc["strategy"] == ("bfs" if chosen else "dpor") and doc.get("chosen_by") == (None if chosen else "auto")
    expected = result_json(checked(design, scenario) if chosen else auto(design, scenario))
    doc["stats"].pop("seconds"), expected["stats"].pop("seconds")
    for d in (doc, expected):
        d["stats"].get("shortest", {}).pop("seconds", None)
    if not chosen:  # auto's traces are the shortest: those of the reference bfs, step for step
        plain = checked(design, scenario).findings
        for p in doc["properties"]:
            if not p["holds"] and "lasso" not in p["trace"]:
                assert p["trace"]["length"] == len(plain[p["name"]].trace), p["name"]
    doc.pop("files")
    assert doc == expected


def test_bind_and_serialize_holds_on_every_builtin_scenario_but_client_minted_ids(cli, tmp_path):
    # a client id ahead of the server is still lastUser by id once the run's first turn is over,
    # so the parentID exit test sends the loop back to U1; with the clocks equal, U2's client id
    # (minted when U2 is sent) can sort before U1's, which the server mints only when U1's run
    # writes it (guard = turn). Ordering by time.created (as upstream did in 1.18.15) closes both
    created = tmp_path / "bind-and-serialize-created.toml"
    knobs = ("binding", "turn"), ("guard", "turn"), ("overlap", "queue"), ("cancel", "after-interrupt")
    knobs += ("on_idle", "keep-entry"), ("runner_map", "per-process"), ("exit", "parent"), ("order", "created")
    created.write_text("".join(f'{k} = "{v}"\n' for k, v in knobs))
    for scenario in builtin("scenario"):
        if scenario == "issue-46135":  # a question nobody answers holds up every design's turn
            continue
        r = cli("check", "--design", "bind-and-serialize", "--scenario", scenario, "--json")
        doc = json.loads(r.output)
        # U1's id minted ahead; U2's client id minted before U1's (guard = turn); a prompt mid-turn;
        # two client clocks, so U2's id may sort before U1's in one tick
        if scenario in ("client-clock-ahead", "clock-skew-zero", "issue-35399", "client-ids-two-clocks"):
            bad = [p["name"] for p in doc["properties"] if not p["holds"]]
            assert (r.exit_code, bad) == (1, ["no-terminal-siblings"])
            r = cli("check", "--design", str(created), "--scenario", scenario, "--json")
            doc = json.loads(r.output)
        assert (r.exit_code, doc["verdict"]) == (0, "holds"), scenario
        assert doc["stats"]["states"] > 4  # the one-prompt clock scenarios are small


def test_v1154_breaks_turn_binding_on_tool_race(cli, tmp_path):
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--out", str(tmp_path))
    assert r.exit_code == 1
    assert "✗ turn-binding: A2 continues the turn opened by U1 but its parentID is U2" in r.output
    assert "explored" in r.output and "states" in r.output
    tree = (tmp_path / "turn-binding" / "message-tree.dot").read_text()
    assert "parentID" in tree and "#dc2626" in tree  # the violating nodes are marked
    if shutil.which("dot"):
        assert (tmp_path / "turn-binding" / "message-tree.svg").read_text().lstrip().startswith("<?xml")
        assert (tmp_path / "turn-binding" / "sequence.svg").is_file()


def test_list_names_everything_built_in(cli):
    r = cli("list")
    assert r.exit_code == 0
    for name in builtin("design") + builtin("scenario") + ["turn-binding", "prompt-answered", "four-siblings"]:
        assert name in r.output


@pytest.mark.slow  # two fresh interpreters per pair
@pytest.mark.parametrize("design,scenario", [("v1.15.4", "two-instances"), ("v1.15.4", "clock-skew")])
def test_same_inputs_same_output_byte_for_byte(tmp_path, design, scenario):
    """Two processes with different hash seeds print the same JSON and write the same files
    (only stats.seconds may differ)."""
    import os
    import re
    import subprocess
    import sys

    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = os.environ | {"PYTHONHASHSEED": seed}
        args = ["check", "--design", design, "--scenario", scenario, "--json", "--out", str(out)]
        code = f"import sys; from turnproof.cli.main import main; sys.argv = ['turnproof'] + {args!r}; main()"
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert p.returncode == 1, p.stderr
        text = re.sub(r'"seconds": [0-9.e-]+', '"seconds": N', p.stdout.replace(str(out), "OUT"))
        files = {
            str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*")) if f.suffix in (".json", ".dot")
        }
        outs.append((text, files))
    assert outs[0][0] == outs[1][0]
    assert outs[0][1] == outs[1][1] and len(outs[0][1]) >= 6
