"""replay and explain on every counterexample the built-in designs produce, and on bad input."""

from __future__ import annotations

import json

import pytest
from conftest import checked, pairs, system
from turnproof.explore.search.confirm import confirm, run_schedule
from turnproof.explore.views.explain import narrate
from turnproof.explore.views.report import trace_doc
from turnproof.specs.loader import builtin

PAIRS = pairs(builtin("design"), builtin("scenario"))  # idle-window ones marked slow


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_replay_and_explain_every_counterexample(design, scenario):
    res = checked(design, scenario)
    for name in res.findings:
        doc = json.loads(json.dumps(trace_doc(res, name)))  # as read back from trace.json
        code, lines = confirm(doc)
        assert code == 1 and lines[0].startswith(f"reproduced {name}"), (name, lines)
        text = "\n".join(narrate(doc))
        cited = ".ts:" in text or "opencode 1.18.34 bundle: " in text  # a v1.15.4 line or a bundle span
        assert doc["violation"] in text and cited and "Why it matters" in text


def test_replay_says_where_a_changed_design_departs():
    doc = trace_doc(checked("v1.15.4", "tool-race"), "turn-binding")
    doc["design"] = doc["design_file"] = "bind-turn"  # the model under the trace changed
    code, lines = confirm(doc)
    assert code == 2 and lines[0].startswith("step 6: r1 leaves different messages")


def test_replay_says_where_a_schedule_stops_applying():
    doc = trace_doc(checked("v1.15.4", "tool-race"), "turn-binding")
    doc["steps"][2]["fiber"] = "U1"
    code, lines = confirm(doc)
    assert code == 2 and lines[0].startswith("step 3: the schedule no longer applies: fiber U1 cannot move")


def test_replay_a_bare_schedule(cli):
    code, lines = run_schedule(system("v1.15.4", "tool-race"), "U1,r1,U2,r1*3")
    assert code == 1 and any(line.startswith("turn-binding violated at step 6") for line in lines)
    assert run_schedule(system("v1.15.4", "tool-race"), "U1")[0] == 0
    r = cli("replay", "--schedule", "U1,r1,U2,r1*3", "--design", "v1.15.4", "--scenario", "tool-race")
    assert r.exit_code == 1 and "turn-binding violated at step 6" in r.output


@pytest.mark.parametrize(
    "content,needle",
    [
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"design": "v1.15.4"}', "scenario: missing"),
        (
            '{"design": "v1.15.4", "scenario": "tool-race", "property": "nope", "schedule": "", "steps": []}',
            "property: 'nope' is not a property",
        ),
    ],
)
def test_bad_trace_files_exit_2_on_one_line(cli, tmp_path, content, needle):
    path = tmp_path / "trace.json"
    path.write_text(content)
    for cmd in ("replay", "explain"):
        r = cli(cmd, str(path))
        assert r.exit_code == 2
        assert r.output.strip().count("\n") == 0 and needle in r.output and str(path) in r.output


def test_replay_usage_errors(cli):
    assert cli("replay").exit_code == 2
    assert cli("replay", "--schedule", "U1").exit_code == 2


def test_explain_says_what_a_step_is_at_await_granularity():
    # bundle-only steps cite the bundle
    plain = "\n".join(narrate(trace_doc(checked("v1.15.4", "tool-race"), "turn-binding")))
    assert "2048" not in plain and "until the code waits for something)" in plain
    gap = "\n".join(narrate(trace_doc(checked("v1.15.4", "mint-gap"), "own-reply")))
    assert '1.15.4 bundle c057: "SessionPrompt.createUserMessage"' in gap


@pytest.mark.slow  # idle-window's effect-granularity space
def test_explain_says_what_a_step_is_at_effect_granularity():
    # effect granularity is the runtime's 2048-operation budget (never overridden in 1.15.4), not
    # a choice the code makes: the explanation says so
    effect = "\n".join(narrate(trace_doc(checked("v1.15.4", "idle-window"), "no-terminal-siblings")))
    assert "after 2048 operations" in effect and "until the code waits for something)" not in effect


def _shape_doc(design: str, scenario: str, shape: str) -> dict:
    from turnproof.explore.search.bfs import bfs
    from turnproof.specs.shapes import SHAPES

    res = bfs(system(design, scenario), (SHAPES[shape],))
    return json.loads(json.dumps(trace_doc(res, f"shape:{shape}")))


def test_a_shape_trace_replays_and_explain_names_the_exit_tests_values(cli, tmp_path):
    doc = _shape_doc("v1.15.4", "two-instances", "four-siblings")
    code, lines = confirm(doc)
    assert code == 1 and lines[0].startswith("reproduced shape:four-siblings: after 10 steps the shape is there: W1")
    text = "\n".join(narrate(doc))
    assert text.startswith("How design v1.15.4 × scenario two-instances (opencode v1.15.4) reaches the seed's")
    # r2's first loop head: r1's A1 is the newest assistant, still streaming, so r2 goes round too
    assert (
        "Why: Exit test (packages/opencode/src/session/prompt.ts:1672): the newest assistant A1 has no finish yet "
        "(still being written by r1), no tool parts; lastUser W1 (id 2) < lastAssistant A1 (id 3); it has no "
        "finish yet, so the loop goes round." in text
    )
    assert "After step 10: the shape is there: W1 has 4 terminal assistants" in text
    path = tmp_path / "shape:four-siblings" / "trace.json"  # what check --shape writes, read back by the CLI
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    assert cli("replay", str(path)).exit_code == 1
    r = cli("explain", str(path))
    assert r.exit_code == 0 and "lastUser W1 (id 2) < lastAssistant A2 (id 4)" in r.output


def test_explain_tells_a_lasso_and_where_the_exit_test_fails_each_round():
    doc = json.loads(json.dumps(trace_doc(checked("v1.15.4", "clock-skew"), "loop-terminates")))
    assert confirm(doc)[0] == 1
    text = "\n".join(narrate(doc))
    start = doc["lasso"]["cycle_from"]
    cycle = text[text.index("From here the steps repeat for ever") :]
    assert "lastUser U2 (id max) ≥ lastAssistant A2 (id 3), so the turn does not count as answered" in cycle
    assert f"come back to the state step {start} began from, so they repeat for ever" in text


def test_the_exit_test_that_stops_the_loop_is_told_with_its_ids():
    text = "\n".join(narrate(trace_doc(checked("v1.15.4", "tool-race"), "tool-followup")))
    assert "lastUser U2 (id 3) < lastAssistant A2 (id 4): the turn counts as answered, the loop stops." in text


def test_why_it_matters_follows_the_design_that_ran():
    kept = "\n".join(narrate(trace_doc(checked("one-runner", "tool-race"), "tool-followup")))
    assert "keeps the session's entry in the runner map (on_idle = keep-entry)" in kept
    assert "deletes the session's entry" not in kept and "one map (runner_map = per-process)" in kept
    parent = "\n".join(narrate(trace_doc(checked("parent-exit", "tool-race"), "turn-binding")))
    assert "This design (exit = parent) decides by parentage" in parent and "Exit test (on parentID" in parent
    assert "its parentID U1 is not the user the turn answers, U2" in parent
    plain = "\n".join(narrate(trace_doc(checked("v1.15.4", "tool-race"), "tool-followup")))
    assert "This design (exit = id-order, as opencode 1.15.4) decides by comparing ids" in plain
    assert "deletes the session's entry from the runner map, whichever runner it holds by then" in plain


def test_the_inbox_drains_continuation_test_is_told():
    text = "\n".join(narrate(trace_doc(checked("upstream-1.18.34-steer", "tool-race"), "turn-binding")))
    assert "Why: Continuation test: A1 has finish tool-calls (a tool call: the step goes on); steer inputs " in text
