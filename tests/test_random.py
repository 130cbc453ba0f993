"""Random schedules past the bound: found, shrunk, reproducible from the seed, and replayable."""

from __future__ import annotations

import json

import pytest
from conftest import checked, system
from turnproof.explore.search.random_search import random_search
from turnproof.explore.search.trace import replay
from turnproof.specs.loader import load_scenario
from turnproof.specs.properties import PROPERTIES


@pytest.mark.slow  # hypothesis draws and shrinks hundreds of schedules
def test_random_search_finds_shrinks_and_replays_beyond_the_bound():
    sc = load_scenario("large/crowd")
    assert sc.granularity == "effect" and len(sc.prompts) >= 6  # far past what bfs exhausts here
    sys_ = system("v1.15.4", "large/crowd")
    res = random_search(sys_, PROPERTIES, runs=200, seed=1)
    f = res.findings["turn-binding"]
    again = replay(sys_, f.trace.schedule)
    assert again.final == f.trace.final and f.prop.check(again.final) == f.violation
    assert len(f.trace) < 40  # shrunk: a first hit is typically much longer
    assert res.random["runs"] >= 200 and 0 < res.random["schedules"] <= res.random["runs"]
    assert res.stats.states > 100 and not res.complete


@pytest.mark.slow  # hypothesis draws and shrinks hundreds of schedules
def test_the_same_seed_gives_the_same_schedules():
    sys_ = system("v1.15.4", "large/crowd")
    a = random_search(sys_, PROPERTIES, runs=50, seed=7)
    b = random_search(sys_, PROPERTIES, runs=50, seed=7)
    assert {k: f.trace.schedule for k, f in a.findings.items()} == {k: f.trace.schedule for k, f in b.findings.items()}
    assert a.random == b.random and a.stats.states == b.stats.states


def test_random_agrees_with_bfs_on_a_small_scenario():
    res = random_search(system("v1.15.4", "tool-race"), PROPERTIES, runs=300, seed=0)
    exhaustive = checked("v1.15.4", "tool-race")
    assert set(res.findings) == set(exhaustive.findings) - {"loop-terminates"}


@pytest.mark.slow  # hypothesis draws and shrinks hundreds of schedules
def test_cli_random_json(cli, tmp_path):
    r = cli(
        "check", "--design", "v1.15.4", "--scenario", "large/crowd", "--strategy", "random",
        "--runs", "100", "--seed", "3", "--json", "--out", str(tmp_path),
    )  # fmt: skip
    doc = json.loads(r.output)
    assert doc["strategy"] == "random" and doc["random"]["seed"] == 3 and not doc["bound"]["complete"]
    assert r.exit_code == 1 and doc["verdict"] == "violated"
