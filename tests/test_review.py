"""turnproof review: the matrix, review.md, exit codes, and a new design reviewed from one file."""

from __future__ import annotations

import json

from turnproof.model.config import KNOBS


def test_review_matrix_and_report(cli, tmp_path):
    r = cli("review", "--designs", "v1.15.4", "bind-and-serialize", "--scenarios", "tool-race", "plugin-inject",
            "--out", str(tmp_path))  # fmt: skip
    assert r.exit_code == 1  # v1.15.4 violates
    assert "v1.15.4 × tool-race" in r.output and "bind-and-serialize: holds on every scenario reviewed" in r.output
    md = (tmp_path / "review.md").read_text()
    assert md.count("\n| v1.15.4 |") == 2 and md.count("\n| bind-and-serialize |") == 2
    assert "(v1.15.4/tool-race/turn-binding/message-tree." in md  # a violated cell links its picture
    assert (tmp_path / "v1.15.4" / "tool-race" / "turn-binding" / "trace.json").is_file()
    assert not (tmp_path / "bind-and-serialize").exists()  # nothing to draw where everything holds


def test_review_json_and_exit_0_when_everything_holds(cli, tmp_path):
    r = cli("review", "--designs", "bind-and-serialize", "--scenarios", "tool-race", "--json", "--out", str(tmp_path))
    doc = json.loads(r.output)
    assert r.exit_code == 0 and doc["verdict"] == "holds"
    cell = doc["cells"][0]
    assert (
        cell["design"] == "bind-and-serialize" and cell["states"] > 10 and all(p["holds"] for p in cell["properties"])
    )


def test_a_new_design_is_reviewed_from_one_file(cli, tmp_path):
    design = tmp_path / "my-fix.toml"
    design.write_text(
        'description = "bind per turn and end on parentage, nothing else"\nbinding = "turn"\nexit = "parent"\n'
    )
    r = cli(
        "review",
        "--designs",
        str(design),
        "--scenarios",
        "tool-race",
        "clock-skew",
        "--json",
        "--out",
        str(tmp_path / "out"),
    )
    doc = json.loads(r.output)
    assert doc["designs"] == ["my-fix"] and len(doc["cells"]) == 2
    by = {c["scenario"]: {p["name"]: p["holds"] for p in c["properties"]} for c in doc["cells"]}
    assert by["clock-skew"]["loop-terminates"] and by["clock-skew"]["no-terminal-siblings"]
    assert not by["tool-race"]["turn-serialization"]  # the guard still covers only loop entry
    assert "my-fix" in (tmp_path / "out" / "review.md").read_text()


def test_review_usage_errors(cli, tmp_path):
    assert cli("review", "--designs").exit_code == 2
    assert cli("review", "--colour", "x").exit_code == 2
    assert cli("review", "stray").exit_code == 2
    r = cli("review", "--designs", "nope", "--scenarios", "tool-race", "--out", str(tmp_path))
    assert r.exit_code == 2 and r.output.startswith("turnproof: error: nope: no such design")


def test_the_knob_table_covers_every_knob_and_value():
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "knobs.md").read_text()
    for knob, values in KNOBS.items():
        assert f"`{knob}`" in doc, knob
        for v in values:
            assert f"`{v}`" in doc, (knob, v)


def test_review_help_lists_its_options_and_lists_take_the_words_up_to_the_next_option(cli, tmp_path):
    from turnproof.cli.words import spread

    r = cli("review", "--help")
    assert r.exit_code == 0
    for flag in ("--designs DESIGN …", "--scenarios SCENARIO …", "--out DIR", "--json"):
        assert flag in r.output, flag
    lists = {"--designs", "--scenarios"}
    assert spread(["--designs", "a", "b", "--out", "d", "--scenarios", "x"], lists) == [
        "--designs", "a", "--designs", "b", "--out", "d", "--scenarios", "x"
    ]  # fmt: skip
    assert spread(["--designs=a", "b"], lists) == ["--designs=a", "--designs", "b"]
    r = cli("review", "--designs", "--scenarios", "tool-race")
    assert r.exit_code == 2 and "--designs needs at least one value" in r.output
    r = cli("review", "--scenarios", "tool-race", "--out", str(tmp_path), "extra")
    assert r.exit_code == 2 and "unexpected extra argument (extra)" in r.output
