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
