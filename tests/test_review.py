"""turnproof review: the matrix, review.md, exit codes, and a new design reviewed from one file."""

from __future__ import annotations

import json

from turnproof.model.config import KNOBS


def test_review_matrix_and_report(cli, tmp_path):
    r = cli("review", "--designs", "v1.15.4", "bind-and-serialize", "--scenarios", "tool-race", "plugin-inject",
            "--out", str(tmp_path))  # fmt: skip
    assert r.exit_code == 1  # v1.15.4 violates
    assert "bind-and-serialize: holds on every scenario reviewed" in r.output
    md = (tmp_path / "review.md").read_text()
    assert md.count("\n| v1.15.4 |") == 3 and md.count("\n| bind-and-serialize |") == 3  # matrix, then per scenario
    assert "(v1.15.4/tool-race/turn-binding/page.html)" in md  # a violated cell links its step-through page
    page = tmp_path / "v1.15.4" / "tool-race" / "turn-binding" / "page.html"
    assert page.is_file() and "What goes wrong: " in page.read_text() and '"steps"' in page.read_text()
    assert (tmp_path / "v1.15.4" / "tool-race" / "turn-binding" / "trace.json").is_file()
    assert not (tmp_path / "bind-and-serialize").exists()  # nothing to draw where everything holds


def test_review_opens_with_the_design_by_property_matrix_with_full_names(cli, tmp_path):
    from turnproof.specs.properties import PROPERTIES

    r = cli("review", "--designs", "v1.15.4", "bind-turn", "--scenarios", "tool-race", "mint-gap", "clock-skew",
            "--out", str(tmp_path))  # fmt: skip
    lines = r.output.splitlines()
    assert lines[0].startswith("scenarios violated, of 3 reviewed")
    head = lines[1 : lines.index(next(x for x in lines if x.startswith("design "))) + 1]
    row = lines[len(head) + 1]  # v1.15.4's
    start = len(row) - len(row[len("v1.15.4") :].lstrip())  # where the first column begins
    for k, p in enumerate(PROPERTIES):  # every name whole, wrapped at its hyphens, never cut
        at = start + k * 14  # 13 wide and a space
        assert "".join(h[at : at + 13].strip() for h in head) == p.name
    rows = {x.split()[0]: x.split()[1:] for x in lines[len(head) + 1 : len(head) + 3]}
    names = [p.name for p in PROPERTIES]
    by = {"tool-race": {}, "mint-gap": {}, "clock-skew": {}}
    doc = json.loads(cli("review", "--designs", "v1.15.4", "bind-turn", "--scenarios", *by, "--json",
                         "--out", str(tmp_path / "j")).output)  # fmt: skip
    for design in ("v1.15.4", "bind-turn"):
        counted = [
            sum(
                not p["holds"] for c in doc["cells"] if c["design"] == design for p in c["properties"] if p["name"] == n
            )
            for n in names
        ]
        assert doc["matrix"][design] == dict(zip(names, counted, strict=True))
        assert rows[design] == [str(n) if n else "·" for n in counted]
    md = (tmp_path / "review.md").read_text()
    assert md.index("| design | turn-binding |") < md.index("- v1.15.4: violated") < md.index("## Scenario by scenario")


def test_a_change_names_what_it_newly_breaks_and_where(cli, tmp_path):
    # #40990 ends the runaway on clock-skew; at rest, U1's tool branch is seen to get no reply there
    r = cli("review", "--designs", "v1.15.4", "change-40990", "--scenarios", "tool-race", "clock-skew",
            "--out", str(tmp_path))  # fmt: skip
    assert "  newly broken: tool-followup on clock-skew (1→2)" in r.output
    assert "widened" not in r.output


def test_review_says_which_knob_values_would_fix_a_property_still_broken(cli, tmp_path):
    r = cli("review", "--designs", "v1.15.4", "bind-turn", "serialize-turn", "--scenarios", "tool-race",
            "--json", "--out", str(tmp_path))  # fmt: skip
    doc = json.loads(r.output)
    fix = next(f for f in doc["fixes"] if f["property"] == "turn-binding")
    assert fix["held_by"] == ["bind-turn", "serialize-turn"] and fix["broken_by"] == ["v1.15.4"]
    # both holders differ from v1.15.4 in different knobs: no single value is shared by both and lacked by it
    assert fix["decisive"] == []
    r = cli("review", "--designs", "v1.15.4", "bind-turn", "--scenarios", "tool-race", "--out", str(tmp_path / "t"))
    assert "  turn-binding: held by bind-turn; it has binding=turn, and every design that breaks it lacks" \
        " binding=turn" in r.output  # fmt: skip
    assert "## What would fix each property still broken" in (tmp_path / "t" / "review.md").read_text()


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
