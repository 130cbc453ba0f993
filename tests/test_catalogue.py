"""The catalogue of upstream's reports (specs/catalogue.py, docs/upstream-reports.md): each report's
symptom searched on the design of the release it was seen on and on the newest release's, and the
question tool and the failing provider it needed, against the bundle's behaviour per engine."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from turnproof.cli.main import main
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.trace import decode
from turnproof.model.system import System
from turnproof.specs.catalogue import NEWEST, REPORTS, unanswered
from turnproof.specs.loader import InputError, builtin, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES

# report -> (reachable where reported, reachable on the newest release): what the searches below must find
EXPECTED = {
    32010: (True, True),
    40955: (True, True),
    49740: (True, True),
    46135: (True, True),
    30809: (True, False),
    29478: (True, False),
    35399: (True, False),
    44108: (True, True),
}
BY = {r.number: r for r in REPORTS}


def search(report, design: str):
    return bfs(System(load_design(design), load_scenario(report.scenario)), (report.prop,))


def test_every_report_has_its_scenario_and_an_expectation():
    assert sorted(EXPECTED) == sorted(BY)
    for r in REPORTS:
        assert r.scenario in builtin("scenario")
        assert r.reported in builtin("design") and r.newest in builtin("design")
        text = load_scenario(r.scenario).description
        assert f"#{r.number}" in text and r.release in text  # the description cites the report and its release


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_the_report_where_it_was_seen_and_on_the_newest_release(number):
    report = BY[number]
    for design, expected in zip((report.reported, report.newest), EXPECTED[number], strict=True):
        res = search(report, design)
        assert (report.prop.name in res.findings) is expected, (design, res.findings)
        assert expected or res.stats.cut == 0  # not reached: complete, so a proof for the scenario
        if expected:  # the shortest schedule replays to a world that shows the symptom
            sys_ = System(load_design(design), load_scenario(report.scenario))
            w = sys_.initial()
            for fiber in decode(res.findings[report.prop.name].trace.schedule):
                _, w = sys_.apply(w, fiber)
            assert report.prop.check(w) is not None


@pytest.mark.parametrize(
    "number, design",
    [
        (32010, "upstream-1.18.34-steer"),  # a wake that lands during the drain sets pendingWake
        (49740, "upstream-1.18.34"),  # the legacy engine writes the error on the assistant
        (30809, "change-87c33b3"),  # one runner map: the plugin's prompt joins the run
        (29478, "change-40990"),  # the parentID exit ignores the client's id
        (44108, "upstream-1.18.34-queue"),  # a client that sends delivery queue
    ],
)
def test_a_design_that_fixes_it(number, design):
    res = search(BY[number], design)
    assert res.verdict == "holds" and res.stats.cut == 0


@pytest.mark.parametrize("number", [40955, 46135])
def test_no_design_fixes_it(number):
    """An interrupt strands the queued input on every design; a question nobody answers holds every turn."""
    for design in builtin("design"):
        assert search(BY[number], design).verdict == "violated", design


def test_the_newest_designs_are_built_in():
    assert set(NEWEST) == {"legacy", "steer", "queue"}
    assert all(load_design(d).engine == ("legacy" if k == "legacy" else "inbox") for k, d in NEWEST.items())


def test_question_wait_per_engine():
    """Legacy: a rejection stops the loop, and the prompt that joined the run is never answered; V2: the
    drain interrupts itself and its pendingWake drains the prompt, so it is always answered."""
    sc = load_scenario("question-wait")
    legacy = bfs(System(load_design("upstream-1.18.34"), sc), (unanswered("U2"),))
    trace = legacy.findings["U2-unanswered"].trace
    assert "J1" in trace.schedule and "question.reject" in [e.ref for st, _ in trace.steps for e in st.events]
    for d in ("upstream-1.18.34-steer", "upstream-1.18.34-queue"):
        assert bfs(System(load_design(d), sc), (unanswered("U2"),)).verdict == "holds"
    queue = bfs(System(load_design("upstream-1.18.34-queue"), sc), PROPERTIES)
    assert queue.verdict == "holds" and queue.stats.cut == 0  # the user's own question excused, U2 queued


def test_a_failed_drain_is_not_excused_but_a_waiting_question_is():
    steer = load_design("upstream-1.18.34-steer")
    failed = bfs(System(steer, load_scenario("issue-49740")), PROPERTIES)
    assert {"prompt-answered", "no-silent-drop"} <= set(failed.findings)
    waiting = bfs(System(steer, load_scenario("issue-46135")), PROPERTIES)
    says = waiting.findings["prompt-answered"].violation.says
    assert "U2" in says and "U1" not in says  # U1 waits on its own question; U2 sits in session_input


@pytest.mark.parametrize(
    "body, field",
    [
        ('name = "U1"\ntool_kind = "question"', "tool_kind"),  # no tool to wait in
        ('name = "U1"\ntools = 1\ntool_kind = "ask"', "tool_kind"),
        ('name = "U1"\nroute = "shell"\nprovider = "error"', "provider"),
        ('name = "R1"\nroute = "reply"\ntools = 1', "tools"),
    ],
)
def test_bad_question_fields_are_one_line_errors(tmp_path, body, field):
    path = tmp_path / "s.toml"
    path.write_text(f"[[prompt]]\n{body}\n")
    with pytest.raises(InputError, match=rf"s\.toml: prompt\[1\]\.{field}"):
        load_scenario(str(path))


def test_the_catalogue_command():
    out = CliRunner().invoke(main, ["catalogue", "--json"])
    assert out.exit_code == 1  # reports reachable on the newest release
    doc = json.loads(out.output)
    rows = {r["report"]: r for r in doc["reports"]}
    assert sorted(rows) == sorted(EXPECTED)
    for n, (where, newest) in EXPECTED.items():
        assert rows[n]["reported"]["reachable"] is where and rows[n]["newest"]["reachable"] is newest
        assert bool(rows[n]["newest"]["schedule"]) is newest
    assert "upstream-1.18.34-queue" in rows[44108]["fixed_by"] and rows[40955]["fixed_by"] == []
