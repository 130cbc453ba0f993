"""Partitioned breadth-first search: the same verdicts and the same state/transition counts as
the sequential search, shortest traces that replay, and loop-terminates still judged."""

from __future__ import annotations

import json

import pytest
from conftest import checked, counts, pairs, system
from turnproof.explore.scale import partition
from turnproof.explore.scale.engines import EngineError, Growing, Local
from turnproof.explore.scale.partition import partitioned_bfs
from turnproof.explore.scale.symmetry import symmetric_bfs
from turnproof.explore.search.minimize import ShortestPaths
from turnproof.explore.search.trace import replay
from turnproof.specs.loader import builtin
from turnproof.specs.properties import PROPERTIES, Property

SMALL = [s for s in builtin("scenario") if s != "idle-window"]


def agrees(res, plain, sys_):
    assert counts(res) == counts(plain)
    assert set(res.findings) == set(plain.findings)
    for name, f in res.findings.items():
        again = replay(sys_, f.trace.schedule)
        assert again.final == f.trace.final
        if f.trace.lasso is None:
            assert len(f.trace) == len(plain.findings[name].trace)  # BFS levels: still shortest
            assert f.prop.check(again.final) == f.violation
        else:
            assert f.trace.cycle_from is not None and len(f.trace) > f.trace.cycle_from


@pytest.mark.parametrize("design,scenario", pairs(builtin("design"), SMALL))
def test_three_partitions_in_one_process_agree_with_bfs(design, scenario):
    """The partitioned algorithm itself (owner dedup, balancing, liveness fed by identities)."""
    sys_ = system(design, scenario)
    agrees(partitioned_bfs(sys_, PROPERTIES, Local(3, processes=False)), checked(design, scenario), sys_)


@pytest.mark.slow
def test_balancing_moves_worlds_and_changes_nothing(monkeypatch):
    monkeypatch.setattr(partition, "MIN_MOVE", 2)
    moved = []
    real = partition._balance

    def spy(engine, keeps):
        before = [len(k) for k in keeps]
        real(engine, keeps)
        moved.append(before != [len(k) for k in keeps])

    monkeypatch.setattr(partition, "_balance", spy)
    sys_ = system("bind-and-serialize", "idle-window")
    res = partitioned_bfs(sys_, PROPERTIES, Local(3, processes=False))
    assert any(moved)
    agrees(res, checked("bind-and-serialize", "idle-window"), sys_)


@pytest.mark.parametrize(
    "design,scenario",
    [("v1.15.4", "two-instances"), ("serialize-turn", "clock-skew"), *pairs(["bind-and-serialize"], ["idle-window"])],
)
def test_two_worker_processes_agree_with_bfs(design, scenario):
    """Real processes; two-instances and clock-skew have lassos (loop-terminates), idle-window holds."""
    sys_ = system(design, scenario)
    res = partitioned_bfs(sys_, PROPERTIES, Local(2))
    assert res.stats.workers == 2 and res.stats.engine == "local"
    agrees(res, checked(design, scenario), sys_)


def test_workers_with_symmetry_agree_with_the_sequential_quotient():
    sys_ = system("v1.15.4", "async-overlap")
    seq = symmetric_bfs(sys_, PROPERTIES)
    par = partitioned_bfs(sys_, PROPERTIES, Local(2), symmetry=True)
    agrees(par, seq, sys_)
    assert par.stats.symmetry == seq.stats.symmetry
    assert par.stats.symmetry["represented_states"] == checked("v1.15.4", "async-overlap").stats.states


@pytest.mark.slow
def test_growing_engine_moves_to_processes_past_its_threshold():
    sys_ = system("one-runner", "idle-window")
    engine = Growing(2, threshold=500)
    res = partitioned_bfs(sys_, PROPERTIES, engine)
    assert res.stats.workers == 2  # it did start the processes mid-search
    agrees(res, checked("one-runner", "idle-window"), sys_)
    small = partitioned_bfs(system("v1.15.4", "tool-race"), PROPERTIES, Growing(2, threshold=500))
    assert small.stats.workers == 1  # a small space stays in this process


def test_progress_per_level():
    seen = []
    partitioned_bfs(
        system("v1.15.4", "async-overlap"),
        PROPERTIES,
        Local(2, processes=False),
        progress=lambda st, d: seen.append((st.states, d)),
    )
    assert [d for _, d in seen] == sorted(d for _, d in seen) and seen[-1][1] == 18
    assert all(a <= b for (a, _), (b, _) in zip(seen, seen[1:], strict=False)) and seen[-1][0] == 1331


def _boom(w):
    raise ValueError("boom")


def test_a_failing_worker_is_one_error():
    broken = Property("broken", "always", "raises", _boom)
    with pytest.raises(EngineError, match="worker process 0 failed: .*boom"):
        partitioned_bfs(system("v1.15.4", "tool-race"), (broken,), Local(2))


@pytest.mark.slow  # starts worker processes
def test_cli_workers(cli, tmp_path):
    args = ("check", "--design", "v1.15.4", "--scenario", "two-instances", "--json", "--out", str(tmp_path))
    par = json.loads(cli(*args, "--workers", "2").output)
    seq = json.loads(cli(*args, "--workers", "1", "--strategy", "bfs").output)
    assert par["verdict"] == seq["verdict"] == "violated"
    assert {k: par["stats"][k] for k in ("states", "transitions", "max_depth", "quiescent")} == {
        k: seq["stats"][k] for k in ("states", "transitions", "max_depth", "quiescent")
    }
    assert [p["holds"] for p in par["properties"]] == [p["holds"] for p in seq["properties"]]
    assert par["stats"]["workers"] == 2 and par["stats"]["engine"] == "local" and "workers" not in seq["stats"]
    lasso = next(p for p in par["properties"] if p["name"] == "loop-terminates")["trace"]["lasso"]
    assert lasso["prefix"] and lasso["cycle"]


@pytest.mark.slow  # starts worker processes
def test_auto_stays_sequential_below_four_cores_and_grows_above(monkeypatch):
    from turnproof.explore.scale import options as scale

    sys_ = system("v1.15.4", "async-overlap")
    monkeypatch.setattr(scale.os, "cpu_count", lambda: 2)
    small_machine = scale.run(sys_, PROPERTIES, None, (), scale.Scale(workers=None))
    assert small_machine.stats.engine is None and small_machine.stats.workers == 1
    monkeypatch.setattr(scale.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(scale, "AUTO_STATES", 300)
    big_machine = scale.run(sys_, PROPERTIES, None, (), scale.Scale(workers=None))
    assert big_machine.stats.workers == 4 and big_machine.stats.engine == "local"
    agrees(big_machine, checked("v1.15.4", "async-overlap"), sys_)
    small = system("v1.15.4", "tool-race")
    with_observers = scale.run(small, PROPERTIES, None, (ShortestPaths(),), scale.Scale(workers=None))
    assert with_observers.stats.engine is None  # --minimize needs the plain search
