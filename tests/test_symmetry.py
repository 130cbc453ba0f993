"""Symmetry reduction: the renamings are automorphisms of the model, the quotient search gives
the plain search's verdicts, its orbits add up to the plain counts, and its counterexamples
replay under the plain model."""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import checked, counts, pairs, system
from conftest import reduced as cached_dpor
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from turnproof.explore.scale import symmetry
from turnproof.explore.scale.symmetry import Quotient, Symmetry, groups, symmetric_bfs, symmetric_dpor
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.budget import Budget, OutOfBudget
from turnproof.explore.search.liveness import abstract
from turnproof.explore.search.trace import decode, replay
from turnproof.model.system import System
from turnproof.specs.loader import builtin, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES
from turnproof.specs.shapes import SHAPES

PLUGIN_WAKES = "large/plugin-wakes"
ROOT = Path(__file__).parent.parent
SMALL = [s for s in builtin("scenario") if s != "idle-window"]
PAIRS = pairs(builtin("design"), SMALL) + pairs(["bind-and-serialize", "one-runner"], ["idle-window"])

SHELLS_AND_ABORTS = """
max_messages = 2
[[prompt]]
name = "U1"
[[prompt]]
name = "S1"
client = "tui"
route = "shell"
[[prompt]]
name = "S2"
client = "tui"
route = "shell"
[[prompt]]
name = "X1"
route = "abort"
after = ["U1"]
[[prompt]]
name = "X2"
route = "abort"
after = ["U1"]
"""

# Two identical prompts whose client-minted ids sort after every server id: loop-terminates fails
TWINS_AFTER_ALL = """
max_messages = 10
[[prompt]]
name = "U1"
tools = 1
[[prompt]]
name = "V1"
client = "sdk"
after = ["U1"]
id = "after-all"
[[prompt]]
name = "V2"
client = "sdk"
after = ["U1"]
id = "after-all"
"""


def reachable(sys_):
    seen, todo = {sys_.initial()}, [sys_.initial()]
    while todo:
        for _, nxt in sys_.successors(todo.pop()):
            if not sys_.bounded_out(nxt) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_groups_are_prompts_equal_but_for_their_names():
    assert groups(load_scenario("async-overlap")) == (("W1", "W2"),)
    assert groups(load_scenario("double-async")) == (("U1", "U2"),)
    assert groups(load_scenario(PLUGIN_WAKES)) == (("W1", "W2", "W3"),)
    assert groups(load_scenario("idle-window")) == ()  # U2 waits for U1 and U3 for U2, by name
    assert groups(load_scenario("tool-race")) == ()
    assert groups(load_scenario("two-instances")) == ()  # different clients and instances


@pytest.mark.parametrize(
    "design,text",
    [  # shells (handles by fiber place), aborts (targets), guard=turn (run.prompt), binding=turn (starter)
        pytest.param("v1.15.4", SHELLS_AND_ABORTS, marks=pytest.mark.slow),  # seconds: every world of it
        pytest.param("serialize-turn", SHELLS_AND_ABORTS, marks=pytest.mark.slow),
        ("v1.15.4", TWINS_AFTER_ALL),
        ("serialize-turn", TWINS_AFTER_ALL),
        ("bind-turn", TWINS_AFTER_ALL),
    ],
)
def test_renamings_are_automorphisms(design, text, tmp_path):
    """Every renaming maps each reachable world to a reachable one, and its steps to the renamed steps."""
    path = tmp_path / "twins.toml"
    path.write_text(text)
    sys_ = system(design, str(path))
    sym = Symmetry(sys_.scenario)
    assert sym.size == (4 if text is SHELLS_AND_ABORTS else 2)
    worlds = reachable(sys_)
    orbits: dict = {}
    for w in worlds:
        moves = {(s.fiber, n) for s, n in sys_.successors(w)}
        for m in sym.renamings():
            rw = sym.rename(w, m)
            assert rw in worlds
            assert {(s.fiber, n) for s, n in sys_.successors(rw)} == {(m.get(f, f), sym.rename(n, m)) for f, n in moves}
        orbits.setdefault(sym.canonical(w)[0], set()).add(w)
    for rep, members in orbits.items():  # one least world per orbit, and the orbit sizes are exact
        assert sym.canonical(rep)[0] == rep and sym.orbit(rep) == len(members)
    assert sum(map(len, orbits.values())) == len(worlds) > len(orbits)


@pytest.mark.parametrize("design", ["v1.15.4", "bind-turn"])
def test_properties_and_shapes_do_not_tell_renamed_worlds_apart(design):
    """What makes the quotient sound: no property mentions a prompt by name."""
    sys_ = system(design, "async-overlap")
    sym = Symmetry(sys_.scenario)
    checks = [p for p in (*PROPERTIES, *SHAPES.values()) if p.check is not None]
    for w in reachable(sys_):
        for m in sym.renamings():
            rw = sym.rename(w, m)
            for p in checks:
                assert (p.check(w) is None) == (p.check(rw) is None), (p.name, m)


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_symmetry_gives_the_plain_verdicts_and_counts(design, scenario):
    sys_ = system(design, scenario)
    reduced = symmetric_bfs(sys_, PROPERTIES)
    plain = checked(design, scenario)
    y = reduced.stats.symmetry
    assert set(reduced.findings) == set(plain.findings)
    assert (y["represented_states"], y["represented_transitions"], y["represented_quiescent"]) == (
        plain.stats.states,
        plain.stats.transitions,
        plain.stats.quiescent,
    )
    if not y["groups"]:
        assert counts(reduced) == counts(plain)
    else:
        assert reduced.stats.states < plain.stats.states and reduced.stats.max_depth == plain.stats.max_depth
    for name, f in reduced.findings.items():
        again = replay(sys_, f.trace.schedule)  # the plain model runs the lifted schedule
        assert again.final == f.trace.final
        if f.trace.lasso is None:
            assert len(f.trace) == len(plain.findings[name].trace)  # still a shortest trace
            assert f.prop.check(again.final) == f.violation


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_dpor_over_the_orbits_gives_the_plain_verdicts(design, scenario):
    """dpor over the orbits on every built-in pair: plain bfs's violated set (loop-terminates
    may be left unjudged, as plain dpor leaves it), every world at rest reached up to renaming, a
    step past the bound met when one exists, no more states than plain dpor, traces that replay."""
    sys_ = system(design, scenario)
    reduced, plain, dpor = symmetric_dpor(sys_, PROPERTIES), checked(design, scenario), cached_dpor(design, scenario)
    assert set(reduced.unjudged) <= {"loop-terminates"}
    assert set(reduced.findings) | set(reduced.unjudged) == set(plain.findings) | set(reduced.unjudged)
    assert reduced.stats.symmetry["represented_quiescent"] == plain.stats.quiescent
    assert reduced.complete == plain.complete and reduced.stats.states <= dpor.stats.states
    for name, f in reduced.findings.items():
        again = replay(sys_, f.trace.schedule)
        assert again.final == f.trace.final, name
        assert f.trace.cycle_from is not None or f.prop.check(again.final) is not None, name


@pytest.mark.slow  # the plain space of a large scenario
def test_plugin_wakes_orbits_stand_for_the_plain_space():
    """Three identical wakes: about 3! fewer states, the same verdicts (a smaller bound keeps it quick)."""
    sys_ = system("v1.15.4", PLUGIN_WAKES, max_messages=5)
    plain = bfs(sys_, PROPERTIES)
    reduced = symmetric_bfs(sys_, PROPERTIES, fingerprint=True)
    y = reduced.stats.symmetry
    assert set(reduced.findings) == set(plain.findings) and plain.findings
    assert y["represented_states"] == plain.stats.states and y["represented_transitions"] == plain.stats.transitions
    assert plain.stats.states > 5 * reduced.stats.states and y["reduction"] > 5
    assert reduced.stats.cut and reduced.stats.cut < plain.stats.cut


@pytest.mark.parametrize("design", ["v1.15.4", "serialize-turn"])
def test_lassos_found_on_the_quotient_replay_under_the_plain_model(design, tmp_path):
    path = tmp_path / "twins.toml"
    path.write_text(TWINS_AFTER_ALL)
    sys_ = system(design, str(path))
    plain = bfs(sys_, PROPERTIES)
    for fingerprint in (False, True):
        reduced = symmetric_bfs(sys_, PROPERTIES, fingerprint=fingerprint)
        assert set(reduced.findings) == set(plain.findings) and "loop-terminates" in reduced.findings
        trace = reduced.findings["loop-terminates"].trace
        prefix, cycle = trace.lasso
        start = replay(sys_, prefix).final
        end = replay(sys_, trace.schedule).final
        assert decode(trace.schedule) == decode(prefix) + decode(cycle)
        assert abstract(start, sys_) == abstract(end, sys_) and len(end.store.messages) > len(start.store.messages)


def test_quotient_hands_out_only_least_worlds():
    q = Quotient.of(system("v1.15.4", "async-overlap"))
    w = q.initial()
    for _ in range(6):
        step, nxt = q.successors(w)[-1]
        assert q.canon(nxt) == nxt
        w = nxt


def test_cli_symmetry_reports_the_reduction(cli, tmp_path):
    args = ("check", "--design", "bind-and-serialize", "--scenario", "async-overlap", "--json")
    doc = json.loads(cli(*args, "--symmetry").output)
    plain = json.loads(cli(*args, "--strategy", "bfs").output)
    assert doc["verdict"] == plain["verdict"] == "holds"
    y = doc["stats"]["symmetry"]
    assert y["groups"] == [["W1", "W2"]] and y["represented_states"] == plain["stats"]["states"]
    assert y["reduction"] == round(plain["stats"]["states"] / doc["stats"]["states"], 2)
    r = cli("check", "--design", "v1.15.4", "--scenario", "async-overlap", "--symmetry", "--out", str(tmp_path))
    assert r.exit_code == 1 and "symmetry: interchangeable prompts W1, W2" in r.output
    trace = json.loads((tmp_path / "turn-binding" / "trace.json").read_text())
    assert cli("replay", str(tmp_path / "turn-binding" / "trace.json")).exit_code == 1  # still violates
    assert trace["schedule"]


def test_scenario_bound_override_keeps_groups():
    sc = replace(load_scenario(PLUGIN_WAKES), max_messages=6)
    assert Symmetry(sc).groups == (("W1", "W2", "W3"),) and Symmetry(sc).size == 6


ALIKE = "auto: prompts W1, W2, W3 are interchangeable"
BY_DPOR = f"{ALIKE}: dpor over their orbits, then bfs over them for the shortest traces"
BY_BFS = f"{ALIKE}; dpor over their orbits could not judge loop-terminates, so bfs over them"


def _agrees_with_plain_bfs(sys_, res, plain) -> None:
    """What auto over the orbits promises, against plain bfs: the verdicts and violated set, the
    shortest traces (as plain-model schedules that replay), and every world at rest reached; a
    bfs over the orbits stands for exactly bfs's states and transitions."""
    assert res.verdict == plain.verdict and set(res.findings) == set(plain.findings) and not res.unjudged
    y = res.stats.symmetry
    assert y["represented_quiescent"] == plain.stats.quiescent  # every world at rest, up to renaming
    if res.strategy == "bfs":
        assert (y["represented_states"], y["represented_transitions"]) == (plain.stats.states, plain.stats.transitions)
    else:
        assert res.strategy == "dpor" and y["represented_states"] <= plain.stats.states
    for name, f in res.findings.items():
        assert len(f.trace.steps) == len(plain.findings[name].trace.steps), name
        final = replay(sys_, f.trace.schedule).final
        assert f.trace.cycle_from is not None or f.prop.check(final) is not None


@pytest.mark.parametrize(
    "design,bound,how",
    [
        ("v1.15.4", 5, BY_BFS),  # a bound that cuts steps
        ("bind-and-serialize", 12, BY_DPOR),  # the scenario's own bound: nothing cut
        pytest.param("v1.15.4", 12, BY_DPOR, marks=pytest.mark.slow),
    ],
)
def test_auto_searches_the_orbits_where_three_prompts_are_interchangeable(design, bound, how):
    """A group of order 3! = 6: auto runs dpor over the orbits, then bfs over them for the
    shortest traces; where that dpor cannot judge loop-terminates (the bound cut steps, no lasso
    among the orbits it explored), one bfs over the orbits judges everything. Either way bfs's
    verdicts and shortest traces, in far fewer states."""
    from turnproof.explore.strategy import AUTO_SYMMETRY, search

    sys_ = system(design, PLUGIN_WAKES, max_messages=bound)
    assert Symmetry(sys_.scenario).size >= AUTO_SYMMETRY
    res, plain = search(sys_, PROPERTIES, "auto"), bfs(sys_, PROPERTIES)
    assert res.chosen_by == how
    _agrees_with_plain_bfs(sys_, res, plain)
    assert plain.stats.states > 5 * res.stats.states


def test_auto_keeps_dpor_below_the_threshold_and_for_a_model_that_picks_fibers_by_place():
    from turnproof.conform.schedule import Eager
    from turnproof.explore.strategy import AUTO_SYMMETRY, search

    pair = system("v1.15.4", "async-overlap")  # W1, W2: a group of order 2
    assert 1 < Symmetry(pair.scenario).size < AUTO_SYMMETRY
    assert search(pair, PROPERTIES, "auto").chosen_by == "auto"
    wakes = system("v1.15.4", PLUGIN_WAKES, max_messages=5)
    eager = Eager(wakes.design, wakes.scenario)  # its first autonomous fiber, by place, goes first
    with pytest.raises(ValueError, match="picks fibers by name or place"):
        Quotient.of(eager)
    res = search(eager, PROPERTIES, "auto")
    assert not eager.name_blind and res.strategy == "bfs" and not res.stats.symmetry
    assert res.chosen_by == "auto, after dpor could not judge loop-terminates"  # not the orbits


def test_memos_are_only_caches(monkeypatch):
    """Symmetry keeps memos (signature parts, renamed parts): cleared every few entries, or left
    behind by pickling (worker processes), the quotient search finds the same least worlds,
    orbit sizes, counts and traces."""
    sys_ = system("v1.15.4", PLUGIN_WAKES, max_messages=5)
    kept = symmetric_bfs(sys_, PROPERTIES)
    monkeypatch.setattr(symmetry, "MEMO", 3)
    cleared = symmetric_bfs(sys_, PROPERTIES)
    assert counts(cleared) == counts(kept) and cleared.stats.symmetry == kept.stats.symmetry
    assert {k: f.trace.schedule for k, f in cleared.findings.items()} == {
        k: f.trace.schedule for k, f in kept.findings.items()
    }
    q = Quotient.of(sys_)
    worlds = list(reachable(sys_))[:300]
    least = [q.symmetry.canonical(w) for w in worlds]
    copy = pickle.loads(pickle.dumps(q))
    assert not any(copy.symmetry._named_in) and not copy.symmetry._heads and not copy.symmetry._renamed
    assert [copy.symmetry.canonical(w) for w in worlds] == least
    assert [copy.symmetry.orbit(c) for c, _ in least] == [q.symmetry.orbit(c) for c, _ in least]


def test_cli_default_says_it_searched_the_orbits(cli, tmp_path):
    """`check` with no strategy on three identical plugin wakes: the orbits, said in text and JSON,
    with the plain search's verdict and counts (a bound of 6 keeps the plain search quick)."""
    scenario = tmp_path / "wakes.toml"
    text = (ROOT / "specs" / "scenarios" / "large" / "plugin-wakes.toml").read_text()
    scenario.write_text(re.sub(r"(?m)^max_messages = \d+", "max_messages = 6", text))
    args = ("check", "--design", "v1.15.4", "--scenario", str(scenario), "--json")
    doc, plain = json.loads(cli(*args).output), json.loads(cli(*args, "--strategy", "bfs").output)
    assert (doc["strategy"], doc["chosen_by"]) == ("bfs", BY_BFS)
    assert (
        doc["verdict"] == plain["verdict"]
        and doc["stats"]["symmetry"]["represented_states"] == plain["stats"]["states"]
    )
    assert [p["holds"] for p in doc["properties"]] == [p["holds"] for p in plain["properties"]]
    r = cli("check", "--design", "v1.15.4", "--scenario", str(scenario), "--out", str(tmp_path / "out"))
    assert "strategy bfs: chosen by auto: prompts W1, W2, W3" in r.output and "orbits stand for" in r.output


@st.composite
def alike_scenarios(draw):
    """Small scenarios with three prompts alike but for their names (and maybe one more prompt)."""
    from turnproof.model.config import Prompt, Scenario

    client, route = draw(st.sampled_from([("plugin", "prompt_async"), ("web", "prompt_async"), ("tui", "prompt")]))
    alike = tuple(Prompt(f"W{i}", client=client, route=route, tools=draw(st.integers(0, 1))) for i in (1, 2, 3))
    alike = tuple(replace(p, tools=alike[0].tools) for p in alike)
    other = draw(st.sampled_from([(), (Prompt("U1", tools=1),), (Prompt("U1", no_reply=True),)]))
    granularity = draw(st.sampled_from(["await", "effect"]))
    return Scenario("alike", other + alike, granularity=granularity, max_messages=draw(st.integers(3, 5)))


@pytest.mark.slow  # a dozen exhaustive searches of fresh scenarios, twice each
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design=st.sampled_from(builtin("design")), scenario=alike_scenarios())
def test_auto_over_the_orbits_agrees_with_plain_bfs_on_random_scenarios(design, scenario):
    """The default over the orbits against plain bfs on scenarios it was not written for: the
    same verdicts, violated properties and shortest trace lengths, every world at rest, and (bfs
    over the orbits) orbits that stand for exactly bfs's states and transitions."""
    from turnproof.explore.strategy import search

    sys_ = System(load_design(design), scenario)
    res, plain = search(sys_, PROPERTIES, "auto"), bfs(sys_, PROPERTIES)
    assert res.chosen_by.startswith("auto: prompts ") and "W1, W2, W3 are" in res.chosen_by  # (U1 may be alike too)
    _agrees_with_plain_bfs(sys_, res, plain)


def test_a_spent_budget_does_not_advise_symmetry_where_the_default_searched_the_orbits(cli, tmp_path):
    args = ("check", "--design", "v1.15.4", "--scenario", "large/crowd", "--max-states", "300", "--json")
    default = json.loads(cli(*args, "--out", str(tmp_path / "a")).output)
    dpor = json.loads(cli(*args, "--strategy", "dpor", "--out", str(tmp_path / "b")).output)
    assert default["verdict"] == dpor["verdict"] == "undecided"
    assert not any("--symmetry" in a for a in default["try"]) and any("--symmetry" in a for a in dpor["try"])


@pytest.mark.parametrize("design", ["v1.15.4", "bind-and-serialize"])
def test_auto_over_the_orbits_stops_once_every_safety_property_asked_is_violated(design):
    """Asked safety properties only (`--property`, `--shape`), the orbit search stops at the level
    where each has its shortest violation, as dpor does; where one holds it searches them all."""
    from turnproof.explore.strategy import search

    sys_ = system(design, PLUGIN_WAKES, max_messages=5)
    asked = tuple(p for p in PROPERTIES if p.name == "turn-binding")
    res, plain = search(sys_, asked, "auto"), bfs(sys_, asked)
    assert res.chosen_by == (
        f"{ALIKE}: dpor over their orbits, which stops once every property asked is violated, "
        "then bfs over them for the shortest traces"
    )
    assert res.verdict == plain.verdict and set(res.findings) == set(plain.findings)
    whole = symmetric_dpor(sys_, asked)  # the same search, not told to stop
    assert res.search["stopped"] == bool(res.findings)
    if res.findings:
        assert len(res.findings["turn-binding"].trace.steps) == len(plain.findings["turn-binding"].trace.steps)
        assert res.stats.states < whole.stats.states
    else:
        assert res.stats.states == whole.stats.states


@st.composite
def renamed_scenarios(draw):
    """Scenarios with two or three prompts alike but for their names, of any client, route,
    instance, parts and hook, beside up to two others: where dpor over the orbits meets orbits
    again by other names (its summaries renamed)."""
    from turnproof.model.config import Prompt, Scenario

    client, route = draw(st.sampled_from([("plugin", "prompt_async"), ("web", "prompt_async"), ("tui", "prompt")]))
    base = Prompt(
        "W1",
        client=client,
        route=route,
        tools=draw(st.integers(0, 1)),
        instance=draw(st.integers(0, 1)),
        parts=draw(st.sampled_from(["text", "file"])),
        hook=draw(st.booleans()),
    )
    alike = tuple(replace(base, name=f"W{i}") for i in range(1, draw(st.integers(2, 3)) + 1))
    others = draw(
        st.sampled_from(
            [
                (),
                (Prompt("U1", tools=1),),
                (Prompt("U1", client="plugin", no_reply=True),),
                (Prompt("U1"), Prompt("U2", after=("U1",), instance=1)),
            ]
        )
    )
    granularity = draw(st.sampled_from(["await", "effect"]))
    return Scenario("renamed", others + alike, granularity=granularity, max_messages=draw(st.integers(3, 4)))


@pytest.mark.slow  # two dozen exhaustive searches of fresh scenarios, twice each
@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(design=st.sampled_from(builtin("design")), scenario=renamed_scenarios())
def test_dpor_over_the_orbits_agrees_with_bfs_over_them_on_random_scenarios(design, scenario):
    """dpor over the orbits against bfs over them: the same violated properties, every orbit at
    rest reached, a step past the bound met when one exists, loop-terminates judged alike or
    left unjudged (never the other verdict), and traces that replay under the plain model."""
    sys_ = System(load_design(design), scenario)
    try:  # a scenario drawn too large for a test is not one of the examples
        whole = symmetric_bfs(sys_, PROPERTIES, Budget(max_states=3000))
    except OutOfBudget:
        reject()
    reduced = symmetric_dpor(sys_, PROPERTIES)
    assert not whole.unjudged and set(reduced.unjudged) <= {"loop-terminates"}
    assert set(reduced.findings) | set(reduced.unjudged) == set(whole.findings) | set(reduced.unjudged)
    assert reduced.stats.quiescent == whole.stats.quiescent and reduced.complete == whole.complete
    assert reduced.stats.states <= whole.stats.states
    for name, f in reduced.findings.items():
        again = replay(sys_, f.trace.schedule)
        assert again.final == f.trace.final, name
        assert f.trace.cycle_from is not None or f.prop.check(again.final) is not None, name


def test_cli_dpor_over_the_orbits_with_symmetry(cli, tmp_path):
    """`--strategy dpor --symmetry` runs dpor over the orbits: plain bfs's verdict and violated
    set, in fewer states than plain dpor, and says what the orbits stand for; --symmetry with
    another bfs-only option, or with sleep, is still refused."""
    args = ("check", "--design", "v1.15.4", "--scenario", PLUGIN_WAKES, "--json", "--out", str(tmp_path / "o"))
    orbits = json.loads(cli(*args, "--strategy", "dpor", "--symmetry").output)
    plain = json.loads(cli(*args, "--strategy", "dpor").output)
    assert orbits["strategy"] == plain["strategy"] == "dpor" and orbits["verdict"] == plain["verdict"] == "violated"
    assert [p["holds"] for p in orbits["properties"]] == [p["holds"] for p in plain["properties"]]
    y = orbits["stats"]["symmetry"]
    assert y["groups"] == [["W1", "W2", "W3"]] and orbits["stats"]["states"] < plain["stats"]["states"] / 3
    assert y["represented_quiescent"] == plain["stats"]["quiescent"]  # every world at rest, up to renaming
    for extra in (("--strategy", "dpor", "--symmetry", "--fingerprint"), ("--strategy", "sleep", "--symmetry")):
        r = cli("check", "--design", "v1.15.4", "--scenario", PLUGIN_WAKES, *extra)
        assert r.exit_code == 2 and "needs --strategy bfs" in r.output, extra
