"""turnproof repair: the least change, checked against the plain search (every candidate on every
scenario, each a whole bfs) on reduced spaces; its design files, explanations and exit codes."""

from __future__ import annotations

import json

import pytest
from turnproof.explore.repair import LEGACY, Space, plain, repair
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.trace import replay
from turnproof.model.system import System
from turnproof.specs.loader import builtin, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES

# Reduced spaces (few knobs, few scenarios) on which the plain search is cheap.
REDUCED = [
    (("binding", "guard", "overlap", "exit"), ("tool-race", "id-wrap", "double-async", "client-messageid")),
    (("guard", "exit", "order"), ("id-wrap", "clock-skew-zero", "client-clock-ahead")),
    (("guard", "overlap", "cancel", "on_idle"), ("shell-abort", "abort-queued", "tool-race")),
]


def in_reach(table, scenarios):
    """From the plain search's table: the (scenario, property) pairs every candidate violates,
    and per size the candidates violating nothing else (the plain answer over the other pairs)."""
    every = [bad for t in table.values() for bad in t.values()]
    pairs = {(s.name, p.name) for s in scenarios for p in PROPERTIES}
    never = {(s, p) for s, p in pairs if all(p in bad.get(s, set()) for bad in every)}
    rest = {
        size: {c: {(s, p) for s, ps in bad.items() for p in ps} - never for c, bad in t.items()}
        for size, t in table.items()
    }
    return never, rest


@pytest.mark.parametrize(("knobs", "scenarios"), REDUCED)
def test_repair_agrees_with_the_plain_search(knobs, scenarios):
    """The plain search over every size, the pairs no candidate holds set aside: the same pairs
    out of reach, least size, minimal designs and refuted candidates per size."""
    space = Space(load_design("v1.15.4"), knobs)
    scs = tuple(load_scenario(s) for s in scenarios)
    answer = repair(space, scs, PROPERTIES, len(knobs))
    _, _, table = plain(space, scs, PROPERTIES, len(knobs))
    never, rest = in_reach(table, scs)
    assert {(o.scenario, o.prop) for o in answer.out_of_reach} == never
    least = next((size for size in sorted(rest) if not all(rest[size].values())), None)
    assert answer.size == least
    assert sorted(m.changes for m in answer.minimal) == sorted(c for c, bad in rest[least].items() if not bad)
    for size in range(least + 1):
        assert answer.candidates[size] == len(table[size])
        # every refutation shown is a violation in reach the plain search finds there; no holder is refuted
        for r in answer.refuted[size]:
            assert (r.scenario.name, r.prop) in rest[size][r.changes]
        assert {r.changes for r in answer.refuted[size]} == {c for c, bad in rest[size].items() if bad}
    for m in answer.minimal:
        assert [n.knob for n in m.needed] == [k for k, _ in m.changes]  # one entry per changed knob
        for n in m.needed:
            undone = tuple(kv for kv in m.changes if kv[0] != n.knob)
            assert (n.scenario, n.prop) in rest[least - 1][undone]
            assert n.value == getattr(space.base, n.knob)


def test_each_needed_schedule_is_the_shortest_refutation():
    space = Space(load_design("v1.15.4"), REDUCED[0][0])
    scs = tuple(load_scenario(s) for s in REDUCED[0][1])
    answer = repair(space, scs, PROPERTIES, 4)
    assert answer.minimal
    for m in answer.minimal:
        for n in m.needed:
            undone = space.design(tuple(kv for kv in m.changes if kv[0] != n.knob))
            system = System(undone, load_scenario(n.scenario))
            prop = next(p for p in PROPERTIES if p.name == n.prop)
            full = bfs(system, (prop,)).findings[n.prop].trace
            if n.cycle is None:
                trace = replay(system, n.schedule)
                assert prop.check(trace.final) is not None and len(trace) == len(full)
            else:
                assert prop.when == "liveness"


def test_bfs_first_stops_at_a_shortest_violation():
    """bfs(first=True): the verdict of the whole bfs, and the violation it stops at is as short as
    the whole bfs's trace of that property; where nothing is violated it is the whole bfs."""
    for design, scenario in [
        ("v1.15.4", "idle-window"),
        ("v1.15.4", "client-messageid"),
        ("bind-and-serialize", "client-clock-ahead"),
        ("bind-and-serialize", "tool-race"),
        ("change-40990", "id-wrap"),
        ("one-runner", "two-instances"),
    ]:
        system = System(load_design(design), load_scenario(scenario))
        ref = bfs(system, PROPERTIES)
        first = bfs(system, PROPERTIES, first=True)
        assert bool(first.findings) == bool(ref.findings) and first.findings.keys() <= ref.findings.keys()
        for name, f in first.findings.items():
            assert len(f.trace) == len(ref.findings[name].trace)
            if f.trace.lasso is None:
                assert f.prop.check(replay(system, f.trace.schedule).final) is not None
        if not ref.findings:
            assert first.stats.states == ref.stats.states
        elif first.findings.keys() != ref.findings.keys():
            assert first.stats.states < ref.stats.states


def test_repair_cli_writes_designs_that_check_as_holding(cli, tmp_path):
    knobs, scenarios = REDUCED[0]
    r = cli(
        "repair", "--base", "v1.15.4", "--scenarios", *scenarios, "--knobs", *knobs, "--out", str(tmp_path), "--json"
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["verdict"] == "found" and doc["designs"] and doc["space"] == 3 * 2 * 3 * 2
    sizes = {row["size"]: row for row in doc["refuted"]}
    assert all(sizes[s]["refuted"] == sizes[s]["candidates"] for s in range(doc["size"]))
    assert all(sum(b["designs"] for b in row["by"]) == row["refuted"] for row in doc["refuted"])
    for d in doc["designs"]:
        assert len(d["changes"]) == doc["size"]
        assert [n["knob"] for n in d["needed"]] == list(d["changes"])
        assert all({"knob", "scenario", "property", "schedule"} <= n.keys() for n in d["needed"])
        loaded = load_design(d["file"])
        assert loaded.base == "v1.15.4" and all(getattr(loaded, k) == v for k, v in d["changes"].items())
        for s in scenarios:
            c = cli("check", "--design", d["file"], "--scenario", s, "--json", "--out", str(tmp_path / "c"))
            assert c.exit_code == 0, (d["file"], s, c.output)


def test_repair_text_explains_both_ways(cli, tmp_path):
    knobs, scenarios = REDUCED[1]
    r = cli("repair", "--base", "v1.15.4", "--scenarios", *scenarios, "--knobs", *knobs, "--out", str(tmp_path))
    assert r.exit_code in (0, 1)
    if r.exit_code == 0:
        assert "each part is needed" in r.output and "nothing smaller holds:" in r.output
    else:
        assert "no design within 3 changes holds" in r.output and "every candidate refuted:" in r.output


def test_repair_exit_codes(cli, tmp_path):
    none = cli("repair", "--base", "v1.15.4", "--scenarios", "tool-race", "--max-changes", "0", "--out", str(tmp_path))
    assert none.exit_code == 1 and "no design within 0 changes holds" in none.output
    assert "0 changes: 1 of 1 refuted: tool-race ×" in none.output
    holds = cli("repair", "--base", "bind-and-serialize", "--scenarios", "tool-race", "--out", str(tmp_path), "--json")
    doc = json.loads(holds.output)
    assert holds.exit_code == 0 and doc["size"] == 0 and doc["designs"][0]["changes"] == {}
    for args, says in [
        (("--properties", "no-such"), "--properties no-such: no such property"),
        (("--knobs", "colour"), "--knobs colour: no such knob"),
        (("--scenarios", "nowhere"), "nowhere: no such scenario"),
    ]:
        bad = cli("repair", "--base", "v1.15.4", *args, "--out", str(tmp_path))
        assert bad.exit_code == 2 and says in bad.output
    inbox = cli("repair", "--base", "upstream-1.18.34-queue", "--out", str(tmp_path))
    assert inbox.exit_code == 2 and "the legacy space is for legacy designs" in inbox.output
    spent = cli("repair", "--base", "v1.15.4", "--max-seconds", "0.001", "--out", str(tmp_path))
    assert spent.exit_code == 3 and "repair undecided: stopped" in spent.output


def test_properties_narrow_what_must_hold(cli, tmp_path):
    r = cli("repair", "--base", "v1.15.4", "--scenarios", "id-wrap", "--properties", "no-terminal-siblings",
            "--knobs", "exit", "--out", str(tmp_path), "--json")  # fmt: skip
    doc = json.loads(r.output)
    assert r.exit_code == 0 and doc["properties"] == ["no-terminal-siblings"]
    assert [d["changes"] for d in doc["designs"]] == [{"exit": "parent"}]
    assert doc["designs"][0]["needed"][0]["property"] == "no-terminal-siblings"


def test_space_counts_the_legacy_designs():
    space = Space(load_design("v1.15.4"))
    assert space.knobs == LEGACY and space.size == 576
    assert sum(len(space.candidates(k)) for k in range(len(LEGACY) + 1)) == 576


def test_out_of_reach_pairs_agree_with_the_plain_search():
    """A pair every candidate of the space violates (issue-46135 × no-silent-drop here) is set
    aside; the least size and the minimal designs are the plain search's over the other pairs,
    and the base's schedule for the pair replays to a shortest violation."""
    space = Space(load_design("v1.15.4"), ("guard", "exit", "order"))
    scs = tuple(load_scenario(s) for s in ("issue-46135", "id-wrap", "clock-skew-zero"))
    answer = repair(space, scs, PROPERTIES, 3)
    least, holding, table = plain(space, scs, PROPERTIES, 3)
    never, rest = in_reach(table, scs)
    assert least is None and not holding  # the plain search over every pair: nothing holds
    assert ("issue-46135", "no-silent-drop") in never
    assert {(o.scenario, o.prop) for o in answer.out_of_reach} == never
    fixed = next(size for size in sorted(rest) if not all(rest[size].values()))
    assert answer.size == fixed
    assert sorted(m.changes for m in answer.minimal) == sorted(c for c, bad in rest[fixed].items() if not bad)
    for o in answer.out_of_reach:
        system = System(space.base, load_scenario(o.scenario))
        prop = next(p for p in PROPERTIES if p.name == o.prop)
        full = bfs(system, (prop,)).findings[o.prop].trace
        if o.cycle is None:
            trace = replay(system, o.schedule)
            assert prop.check(trace.final) is not None and len(trace) == len(full)


def test_repair_cli_reports_out_of_reach_first(cli, tmp_path):
    args = ("--scenarios", "issue-46135", "id-wrap", "--knobs", "exit", "--out", str(tmp_path))
    r = cli("repair", "--base", "v1.15.4", *args, "--json")
    doc = json.loads(r.output)
    assert r.exit_code == 0 and doc["verdict"] == "found", r.output
    out = [(o["scenario"], o["property"]) for o in doc["out_of_reach"]]
    assert ("issue-46135", "no-silent-drop") in out and {s for s, _ in out} == {"issue-46135"}
    assert all(o["schedule"] for o in doc["out_of_reach"]) and doc["designs"][0]["review"]["holds"] == ["id-wrap"]
    text = cli("repair", "--base", "v1.15.4", *args)
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[1].startswith(f"out of reach: no value of these knobs fixes {len(out)} pair(s)")
    assert "it needs another mechanism" in lines[1]
    assert [tuple(line.split()[:2]) for line in lines[3 : 3 + len(out)]] == out


@pytest.mark.slow
def test_repair_from_v1_15_4_over_the_builtin_scenarios(cli, tmp_path):
    """Every built-in scenario: issue-46135 × no-silent-drop is out of reach, and the minimal
    designs over the rest, bind-and-serialize with order = created and either binding, re-check
    as holding on every scenario, on every property in reach there."""
    r = cli("repair", "--base", "v1.15.4", "--out", str(tmp_path), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["scenarios"] == list(builtin("scenario"))
    out = {(o["scenario"], o["property"]) for o in doc["out_of_reach"]}
    assert ("issue-46135", "no-silent-drop") in out
    assert all(row["refuted"] == row["candidates"] for row in doc["refuted"] if row["size"] < doc["size"])
    bas = load_design("bind-and-serialize")
    found = sorted(d["changes"]["binding"] for d in doc["designs"])
    assert found == ["pinned", "turn"]
    for d in doc["designs"]:
        loaded = load_design(d["file"])
        assert all(getattr(loaded, k) == getattr(bas, k) for k in LEGACY if k not in ("binding", "order"))
        assert loaded.order == "created"
        for s in doc["scenarios"]:
            only = [p.name for p in PROPERTIES if (s, p.name) not in out]
            flags = [f for p in only for f in ("--property", p)] if len(only) < len(PROPERTIES) else []
            c = cli("check", "--design", d["file"], "--scenario", s, *flags, "--json", "--out", str(tmp_path / "c"))
            assert c.exit_code == 0, (d["file"], s)
