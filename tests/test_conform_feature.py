"""The schedules that exercise a scenario's feature, the shell gate that holds under the 1.15.4
shell route's `eval`, and drives whose clock or gate did not hold: redone, then not judged.
(The default of shell-then-prompt is driven on the real 1.15.4 server in tests/test_conform.py.)"""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest
from turnproof.conform import HarnessError, NotJudged
from turnproof.conform.drive import Driver
from turnproof.conform.fakellm import FakeLLM
from turnproof.conform.feature import FEATURES, feature_schedule, in_loop, runner_tag
from turnproof.conform.harness import RETRIES, held
from turnproof.conform.report import Run
from turnproof.conform.schedule import Eager, default_schedule, driveable
from turnproof.conform.suite import cases, redone_why
from turnproof.explore.search.trace import replay
from turnproof.model.runner import RUNNING, SHELL, SHELL_THEN_RUN
from turnproof.model.system import System
from turnproof.specs.loader import load_design, load_scenario


def system(scenario: str, design: str = "v1.15.4") -> System:
    return System(load_design(design), load_scenario(scenario))


def last_step(s: System, schedule: str):
    """(the world before the schedule's last step, that step's fiber, the world after)."""
    trace = replay(s, schedule)
    before = trace.steps[-2][1] if len(trace.steps) > 1 else trace.initial
    step, after = trace.steps[-1]
    return before, before.fiber(step.fiber), after


def has_feature_within(s: System, steps: int) -> bool:
    """Does any driveable schedule of at most `steps` steps end in the scenario's feature? (a
    plain depth-first enumeration, independent of feature_schedule's search)"""
    feat, eager = FEATURES[s.scenario.name], Eager(s.design, s.scenario)

    def walk(w, left: int) -> bool:
        for f in eager.enabled(w) if left else []:
            _, nxt = eager.apply(w, f.name)
            if (f.name == feat.fiber and feat.holds(w, f, nxt)) or walk(nxt, left - 1):
                return True
        return False

    return walk(eager.initial(), steps)


@pytest.mark.parametrize("design", ["v1.15.4", "upstream-1.18.34"])
def test_abort_race_default_aborts_while_the_run_is_running(design):
    s = system("abort-race", design)
    schedule, origin = default_schedule(s)
    before, f, after = last_step(s, schedule)
    assert f.name == "X1" and f.pc == "send" and runner_tag(before, 0) == RUNNING
    assert "X1 aborts while U1's run is Running" in origin and driveable(s, schedule) is None


def test_shell_then_prompt_default_sends_u1_while_the_runner_is_shell():
    s = system("shell-then-prompt")
    schedule, origin = default_schedule(s)
    before, f, after = last_step(s, schedule)
    assert f.name == "U1" and runner_tag(before, 0) == SHELL and runner_tag(after, 0) == SHELL_THEN_RUN
    assert "runner is Shell" in origin and driveable(s, schedule) is None
    # the model's own completion then runs the shell to its end before U1's run starts
    assert "S1" in schedule


def test_client_clock_ahead_default_sends_u3_while_r1_loops():
    s = system("client-clock-ahead")
    schedule, origin = default_schedule(s)
    before, f, after = last_step(s, schedule)
    assert f.name == "U3" and f.pc == "send" and in_loop(before, "r1") and in_loop(after, "r1")
    assert "U3 is sent while r1 is still in its loop" in origin and driveable(s, schedule) is None


@pytest.mark.parametrize("scenario", sorted(FEATURES))
def test_each_feature_schedule_is_the_shortest_driveable_one(scenario):
    s = system(scenario)
    schedule, _ = feature_schedule(Eager(s.design, s.scenario))
    n = len(replay(s, schedule).steps)
    assert has_feature_within(s, n) and not has_feature_within(s, n - 1)


def test_a_scenario_without_a_feature_keeps_the_shortest_counterexample():
    s = system("tool-race")
    assert feature_schedule(Eager(s.design, s.scenario)) is None
    assert default_schedule(s) == ("U1,r1,U2,r1*3", "shortest driveable counterexample of turn-binding")


def test_the_suite_drives_each_feature_schedule_first():
    for scenario in FEATURES:
        first = cases("v1.15.4", [scenario])[0]
        assert first.schedule == default_schedule(system(scenario))[0]
        assert first.what.startswith("shortest driveable schedule in which")


# --- the shell gate --------------------------------------------------------------------------


def eval_in_login_bash(command: str) -> list[str]:
    """argv of the 1.15.4 shell route: `eval` of the command's JSON-quoted text in `bash -l`."""
    return ["bash", "-lc", "eval " + json.dumps(command)]


def test_the_gate_command_text_survives_eval_unchanged(tmp_path):
    cmd = FakeLLM(tmp_path / "gates").tool_command(7)
    assert "$" not in cmd and "`" not in cmd
    out = subprocess.run(["bash", "-lc", "printf %s " + json.dumps(cmd)], capture_output=True, text=True, timeout=30)
    assert out.stdout == cmd  # the first evaluation leaves the command exactly as written


def test_the_gate_command_blocks_under_eval_until_released(tmp_path):
    llm = FakeLLM(tmp_path / "gates")
    llm.gate_dir.mkdir()
    p = subprocess.Popen(eval_in_login_bash(llm.tool_command(1)), stdout=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):  # started, and still waiting at its gate
            p.wait(2)
        assert llm.tool_started(1)
        llm.release_tool(1)
        assert p.wait(30) == 0 and "turnproof tool 1 done" in p.stdout.read()
    finally:
        p.kill()
        p.wait()


def test_the_gate_command_ends_when_its_gate_folder_is_gone(tmp_path):
    llm = FakeLLM(tmp_path / "gates")
    llm.gate_dir.mkdir()
    p = subprocess.Popen(eval_in_login_bash(llm.tool_command(1)), stdout=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            p.wait(1)
        for f in llm.gate_dir.iterdir():
            f.unlink()
        llm.gate_dir.rmdir()
        assert p.wait(30) == 0
    finally:
        p.kill()
        p.wait()


def test_a_gate_folder_with_a_dollar_is_refused(tmp_path):
    with pytest.raises(HarnessError, match=r"\$ or backtick"):
        FakeLLM(tmp_path / "a$b").tool_command(1)


def test_a_shell_that_returned_before_its_release_is_caught(tmp_path):
    s = system("shell-then-prompt")
    d = Driver(None, FakeLLM(tmp_path / "gates"), s, replay(s, "S1*2,U1"), 1)
    d.shell_gate["S1"] = 1
    d.requests["S1"] = SimpleNamespace(open=True)
    d.gate_held("S1")
    assert d.run.unheld == []  # still held: released as the schedule says
    d.gates_checked.clear()
    d.requests["S1"] = SimpleNamespace(open=False)
    d.gate_held("S1")
    assert d.run.unheld == ["S1's shell gate did not hold: the shell returned before the harness released it"]
    d.gate_held("S1")  # said once per gate
    assert len(d.run.unheld) == 1


# --- drives not held: redone, then not judged --------------------------------------------------


def drives(*unheld: list[str]):
    """A stand-in for a driver: the k-th drive of a run returns a Run with unheld[k]."""
    made = iter(unheld)

    def drive(n: int) -> Run:
        return Run(n, conforms=False, unheld=next(made))

    return drive


def test_a_drive_not_held_is_redone_and_only_the_held_one_counts():
    discarded: list[str] = []
    run = held(drives(["the paced clock did not hold: U2"], []), 1, discarded)
    assert run.unheld == [] and discarded == ["run 1, drive 1: the paced clock did not hold: U2"]


def test_a_run_never_held_is_not_judged():
    discarded: list[str] = []
    late = ["the paced clock did not hold: U2"]
    with pytest.raises(NotJudged, match=f"run 2: not judged: .* any of {RETRIES + 1} drives"):
        held(drives(*[late] * (RETRIES + 1)), 2, discarded)
    assert len(discarded) == RETRIES + 1


def test_the_suite_says_what_did_not_hold():
    assert redone_why(["run 1, drive 1: the paced clock did not hold: x"]) == "the paced clock did not hold"
    both = ["run 1, drive 1: S1's shell gate did not hold: y", "run 2, drive 1: the paced clock did not hold: x"]
    assert redone_why(both) == "a shell gate and the paced clock did not hold"


def test_a_shell_refused_as_busy_has_no_gate_to_hold(tmp_path):
    s = system("shell-then-prompt")
    trace = replay(s, "U1,r1,S1")  # S1 while U1's run is Running: the model refuses it (RunnerBusy)
    d = Driver(None, FakeLLM(tmp_path / "gates"), s, trace, 1)
    d.background = lambda name, *rest: d.requests.update(
        {name: SimpleNamespace(open=False, error="HTTP 400", join=lambda t: True)}
    )
    (_, before), (step, after) = trace.steps[1], trace.steps[2]
    assert step.fiber == "S1" and after.fiber("S1").ended
    d.shell(3, "S1", "refused", before, after)
    d.gate_held("S1")
    assert d.run.unheld == [] and d.run.deviations == []


def test_the_suite_shows_a_run_not_judged_as_a_harness_error_never_a_disagreement(capsys):
    from turnproof.conform.suite import Case, publish, table

    case = Case("client-clock-ahead", "U1,r1,U3", "x")
    err = NotJudged("run 1: not judged: the schedule was not held in any of 3 drives (the paced clock …)")
    row = table("1.15.4", "v1.15.4", [(case, err)])[-1]
    assert "harness error: run 1: not judged" in row and "DISAGREE" not in row
    assert publish("\n".join([row]), None, disagree=0, errors=1) == 2
