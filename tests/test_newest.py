"""The newest release (1.18.34): the V2 inbox engine, what steer and queue promise, the upstream changes
as designs, and the V2 route on the real binary (docs/newest.md)."""

from __future__ import annotations

import platform
import re
from collections import deque
from pathlib import Path
from unittest import mock

import pytest
from conftest import checked, exhaustive, system
from turnproof.cli.review import changes, matrix_text
from turnproof.cli.review import review as run_review
from turnproof.explore.search.trace import replay
from turnproof.model.inbox import history
from turnproof.model.store import ASSISTANT, TOOL_CALLS, USER
from turnproof.specs.inbox import promised
from turnproof.specs.loader import InputError, load_design, load_scenario

STEER, QUEUE = "upstream-1.18.34-steer", "upstream-1.18.34-queue"
INBOX_SCENARIOS = ("steer-during-tool", "queue-plugin", "abort-queued")
ROOT = Path(__file__).parent.parent


def violated(design: str, scenario: str) -> set[str]:
    return set(checked(design, scenario).findings)


# --- the model: inbox rows, seq and the drain --------------------------------------------


def worlds(sys_):
    """Every world reachable within the bound."""
    seen, todo = {sys_.initial()}, deque([sys_.initial()])
    while todo:
        w = todo.popleft()
        yield w
        for _, nxt in sys_.successors(w):
            if nxt not in seen and not sys_.bounded_out(nxt):
                seen.add(nxt)
                todo.append(nxt)


@pytest.mark.parametrize("design", [STEER, QUEUE])
@pytest.mark.parametrize("scenario", INBOX_SCENARIOS)
def test_the_inbox_keeps_its_bookkeeping_on_every_reachable_world(design, scenario):
    """seq orders every event once; a promoted row has its user row; one drain owns the session."""
    n = 0
    for w in worlds(system(design, scenario)):
        n += 1
        inbox = w.inbox
        seqs = [r.admitted for r in inbox.rows] + [r.promoted for r in inbox.rows if not r.pending]
        assert len(seqs) == len(set(seqs)) and all(0 < s <= inbox.seq for s in seqs)
        users = {m.label for m in w.store.messages if m.role == USER}
        assert users == {r.name for r in inbox.rows if not r.pending}
        alive = [f.name for f in w.fibers if f.kind == "run" and not f.ended]
        assert len(alive) <= 1
        assert (inbox.entry is None) == (not alive) and (not alive or inbox.entry.owner == alive[0])
        assert all(m.parent is None for m in w.store.messages if m.role == ASSISTANT)
    assert n > 20


def test_steer_folds_a_follow_up_into_the_next_step_after_the_tool_round_trip():
    res = checked(STEER, "steer-during-tool")
    assert set(res.findings) == {"turn-binding", "turn-serialization"}
    assert not any(promised(load_design(STEER), p) for p in res.findings)
    f = res.findings["turn-binding"]
    rows = [(m.role, m.label, m.finish) for m in history(f.trace.final)]
    # U1's tool step, then U2 promoted before the step that continues it: A2 answers both
    assert rows[:3] == [(USER, "U1", None), (ASSISTANT, "A1", TOOL_CALLS), (USER, "U2", None)]
    assert rows[3][:2] == (ASSISTANT, "A2")
    assert f.trace.final.inbox.row("U2").delivery == "steer"


def test_queue_holds_a_follow_up_until_the_turn_has_settled():
    assert violated(QUEUE, "steer-during-tool") == set()
    res = checked(QUEUE, "steer-during-tool")
    assert res.complete and res.stats.quiescent > 0
    # in every state at rest U2's user row comes after U1's turn ended with a stop reply
    sys_ = system(QUEUE, "steer-during-tool")
    rested = [w for w in worlds(sys_) if not sys_.enabled(w)]
    assert len(rested) == res.stats.quiescent
    for w in rested:
        rows = history(w)
        first_stop = next(i for i, m in enumerate(rows) if m.role == ASSISTANT and m.finish == "stop")
        assert [m.label for m in rows].index("U2") > first_stop


def test_a_plugin_prompt_without_delivery_steers_into_a_queue_turn():
    res = checked(QUEUE, "queue-plugin")
    assert {"turn-binding", "turn-serialization"} <= set(res.findings)
    final = res.findings["turn-binding"].trace.final
    assert final.inbox.row("W1").delivery == "steer"  # V2Session.prompt: delivery ?? "steer"
    assert "W1" in res.findings["turn-binding"].violation.says


@pytest.mark.parametrize("design", [STEER, QUEUE])
def test_an_interrupt_strands_admitted_inputs_in_both_modes(design):
    res = checked(design, "abort-queued")
    f = res.findings["prompt-answered"]
    stranded = [r for r in f.trace.final.inbox.rows if r.pending and r.wake]
    assert stranded and f.trace.final.inbox.entry is None
    assert "still pending in session_input" in f.violation.says
    # the driveable one: U2 admitted while U1's request is held, then the interrupt
    trace = replay(system(design, "abort-queued"), "U1,r1,U2,X1,r1,X1")
    assert [r.name for r in trace.final.inbox.rows if r.pending] == ["U2"]


@pytest.mark.parametrize("design", [STEER, QUEUE])
def test_the_inbox_never_runs_away_nor_answers_twice(design):
    for scenario in INBOX_SCENARIOS + ("tool-race", "clock-skew", "two-instances"):
        assert not violated(design, scenario) & {"no-terminal-siblings", "loop-terminates", "tool-followup"}


def test_inbox_steps_cite_bundle_spans():
    from turnproof.model.bundle import BUNDLE
    from turnproof.model.source import ref

    res = checked(STEER, "steer-during-tool")
    for step, _ in res.findings["turn-binding"].trace.steps:
        for e in step.events:
            assert e.ref in BUNDLE and str(ref(e.ref)).startswith("opencode 1.18.34 bundle: ")
    doc = (ROOT / "docs" / "newest.md").read_text()
    assert all(span.name in doc for span in BUNDLE.values())


# --- designs and scenarios ---------------------------------------------------------------


def test_the_v2_route_fields_are_checked(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[prompt]]\nname = "U1"\nroute = "prompt_async"\ndelivery = "queue"\n')
    with pytest.raises(InputError, match=r"bad.toml: prompt\[1\].delivery: only a prompt with route = \"v2\""):
        load_scenario(str(bad))
    bad.write_text('[[prompt]]\nname = "U1"\nroute = "v2"\ndelivery = "later"\n')
    with pytest.raises(InputError, match=r"prompt\[1\].delivery: 'later' is not one of"):
        load_scenario(str(bad))
    bad.write_text('[[prompt]]\nname = "U1"\nroute = "interrupt"\ntools = 1\n')
    with pytest.raises(InputError, match=r"tools: a interrupt request calls no model"):
        load_scenario(str(bad))
    design = tmp_path / "d.toml"
    design.write_text('base = "v1.15.4"\n')
    with pytest.raises(InputError, match=r"d.toml: change: a design with a base names"):
        load_design(str(design))


def test_the_legacy_engine_sends_a_v2_request_as_the_v1_adapter_does():
    """On the legacy engine a `v2` prompt is prompt_async and `interrupt` is abort."""
    res = checked("upstream-1.18.34", "steer-during-tool")
    steps = res.findings["turn-binding"].trace.steps
    assert steps[0][0].events[0].ref == "route.prompt_async"
    assert {"turn-binding", "turn-serialization", "no-silent-drop"} <= violated("upstream-1.18.34", "steer-during-tool")
    assert all(f.route == "prompt_async" for f in system("upstream-1.18.34", "steer-during-tool").initial().fibers)


def test_pr_28488_binds_the_tool_continuation_but_leaves_the_guard_open():
    assert "turn-binding" in violated("upstream-1.18.34", "tool-race")
    assert violated("pr-28488", "tool-race") == {"turn-serialization", "prompt-answered", "no-silent-drop"}
    final = checked("pr-28488", "tool-race").findings["turn-serialization"].trace.final
    assert final.store.count(USER) == 2


# --- 1.19.5: the same turn machinery as 1.18.34 ------------------------------------------

NEWEST = {"upstream-1.19.5": "upstream-1.18.34", "upstream-1.19.5-steer": STEER, "upstream-1.19.5-queue": QUEUE}


@pytest.mark.parametrize("design,same_as", sorted(NEWEST.items()))
def test_the_1_19_5_designs_are_1_18_34s_machinery_and_check_alike(design, same_as):
    from turnproof.conform.schedule import _knobs

    d, e = load_design(design), load_design(same_as)
    assert d.base and d.change and (d.base == "upstream-1.18.34" or d.base == "upstream-1.19.5")
    assert _knobs(d) == _knobs(e) | {"base": d.base, "change": d.change}  # only the labels differ
    for scenario in ("tool-race", "client-ids-gap", "steer-during-tool"):
        assert violated(design, scenario) == violated(same_as, scenario), scenario


def test_conform_picks_the_release_a_design_describes():
    from turnproof.conform import HarnessError
    from turnproof.conform.schedule import check_design, release

    assert [release(load_design(d)) for d in ("v1.15.4", "upstream-1.18.34", STEER)] == ["1.15.4", "1.18.34", "1.18.34"]
    assert {release(load_design(d)) for d in NEWEST} == {"1.19.5"}
    assert release(load_design("bind-turn")) is None  # a fix design: conform's own default (a patched build)
    assert check_design(load_design("upstream-1.19.5")) == "upstream-1.19.5"  # its own name, not 1.18.34's twin
    assert check_design(load_design("upstream-1.18.34")) == "upstream-1.18.34"
    with pytest.raises(HarnessError, match="upstream-1.19.5"):
        check_design(load_design("bind-turn"))


# --- review: promises and the change table -----------------------------------------------


@pytest.fixture(scope="module")
def change_review(tmp_path_factory):
    designs = [load_design(d) for d in ("upstream-1.18.34", "pr-28488", STEER, QUEUE)]
    scenarios = [load_scenario(s) for s in ("tool-race", "queue-plugin", "abort-queued")]
    return reviewed(designs, scenarios, tmp_path_factory.mktemp("review"))


def reviewed(designs, scenarios, out: Path):
    """`review` over built-in pairs, each pair's bfs taken from the session's shared one (`exhaustive`)."""
    with mock.patch("turnproof.cli.review.bfs", exhaustive):
        return run_review(designs, scenarios, out)


def test_review_marks_what_steer_does_not_promise(change_review):
    lines = matrix_text(change_review)  # design × property: scenarios violated, (n) where not promised
    steer = next(line for line in lines if line.startswith(f"{STEER} ")).split()[1:]
    assert all(re.fullmatch(r"\([1-9]\d*\)", c) for c in steer[:2])  # turn-binding, turn-serialization
    assert not any(c.startswith("(") for c in steer[2:])
    queue = next(line for line in lines if line.startswith(f"{QUEUE} ")).split()[1:]
    assert all(re.fullmatch(r"[1-9]\d*", c) for c in queue[:2])  # queue promises both, and breaks them


def test_the_change_table_is_computed_against_each_base(change_review):
    found = {c.design.name: c for c in changes(change_review)}
    assert set(found) == {"pr-28488", STEER, QUEUE}  # the base itself has no base among these
    assert "turn-binding" in found["pr-28488"].fixed
    assert "tool-followup" in found[QUEUE].fixed
    assert any(n.startswith("prompt-answered") for n in found[QUEUE].narrowed + found[QUEUE].broken)


def test_the_reviewer_guide_change_table_is_what_review_computes(tmp_path):
    """The reviewer's guide's table of upstream changes against a fresh review over the scenarios it names."""
    guide = (ROOT / "docs" / "reviewer.md").read_text()
    section = guide.split("## What opencode ships now", 1)[1]
    cmd = next(line for line in section.splitlines() if line.startswith("$ ./run.sh review --designs"))
    args = cmd.split()
    designs = args[args.index("--designs") + 1 : args.index("--scenarios")]
    scenarios = args[args.index("--scenarios") + 1 :]
    cells = reviewed([load_design(d) for d in designs], [load_scenario(s) for s in scenarios], tmp_path)
    for c in changes(cells):
        row = next(line for line in section.splitlines() if line.startswith(f"| `{c.design.name}`"))
        cols = [x.strip() for x in row.strip("|").split("|")]
        assert cols[2] == (", ".join(c.fixed) or "—"), c.design.name
        assert cols[3] == (", ".join(c.narrowed + c.broken + c.widened + c.new) or "—"), c.design.name


# --- the real binary ---------------------------------------------------------------------


def release_binary(version: str):
    """The cached opencode-linux-x64 binary of `version`; the test SKIPS, saying conformance was not
    checked, where it cannot run or cannot be fetched."""
    from turnproof.conform import RegistryUnavailable
    from turnproof.conform.server import fetch_binary

    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("conformance NOT checked: opencode-linux-x64 needs linux x86_64")
    try:
        return fetch_binary(version)
    except RegistryUnavailable as e:
        pytest.skip(f"conformance NOT checked: cannot fetch opencode-linux-x64@{version} from the npm registry ({e})")


@pytest.fixture(scope="module")
def newest_bin():
    return release_binary("1.18.34")


@pytest.fixture(scope="module")
def release_1_19_5():
    return release_binary("1.19.5")


@pytest.mark.slow  # the real 1.19.5 server: seconds, mostly waiting on it
@pytest.mark.conformance
def test_tool_race_on_the_1_19_5_binary_agrees_and_says_so(release_1_19_5):
    from turnproof.conform.harness import conform

    design = load_design("upstream-1.19.5")
    report = conform(design, load_scenario("tool-race"), None, None, 1)  # its release: 1.19.5
    assert report.version == "1.19.5" and report.note == ""  # what ran: `opencode --version`
    assert "against the real opencode 1.19.5" in report.text()
    assert any(v.startswith("turn-binding") for v in report.model_violations)
    assert report.conforms, report.text()


@pytest.mark.slow  # a real server: seconds, mostly waiting on it
@pytest.mark.conformance
def test_a_report_names_what_ran_not_the_cache_folder(release_1_19_5, newest_bin, tmp_path, monkeypatch):
    """The 1.18.34 binary left in the cache folder of 1.19.5: `conform` says 1.18.34 ran."""
    from turnproof.conform.harness import conform

    folder = tmp_path / "opencode" / "1.19.5"
    folder.mkdir(parents=True)
    (folder / "opencode").symlink_to(newest_bin)
    monkeypatch.setenv("TURNPROOF_CACHE", str(tmp_path))
    report = conform(load_design("upstream-1.19.5"), load_scenario("tool-race"), None, None, 1)
    assert report.version == "1.18.34" and "against the real opencode 1.18.34" in report.text()
    assert report.note == "design upstream-1.19.5 describes opencode 1.19.5, driven against 1.18.34"
    assert report.conforms, report.text()  # the same machinery: the same tree


@pytest.mark.slow  # the real 1.18.34 server: seconds per case, mostly waiting on it
@pytest.mark.conformance
@pytest.mark.parametrize(
    "design,scenario,schedule,broken",
    [
        (STEER, "steer-during-tool", None, {"turn-binding", "turn-serialization"}),
        (QUEUE, "steer-during-tool", "U1,r1,U2,r1*5", set()),
        (QUEUE, "abort-queued", "U1,r1,U2,X1,r1,X1", {"prompt-answered", "no-silent-drop"}),
    ],
)
def test_the_v2_route_agrees_with_the_inbox_model(newest_bin, design, scenario, schedule, broken):
    from turnproof.conform.harness import conform

    report = conform(load_design(design), load_scenario(scenario), schedule, "1.18.34", 1, binary=newest_bin)
    assert {re.match(r"[\w-]+", v).group() for v in report.model_violations} == broken
    assert report.runs[0].requests >= 1
    assert report.conforms, report.text()
