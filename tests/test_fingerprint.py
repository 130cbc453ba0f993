"""Fingerprinted visited set: same verdicts and counts as the plain search, traces rebuilt by
replay, the same fingerprint in every process, and fewer bytes per stored state (measured)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import checked, counts, pairs, system
from turnproof.explore.search import memory
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.fingerprint import collision_bound, encode, fingerprint
from turnproof.explore.search.trace import replay
from turnproof.specs.loader import builtin
from turnproof.specs.properties import PROPERTIES

SMALL = [s for s in builtin("scenario") if s != "idle-window"]  # idle-window: two designs below
PAIRS = pairs(builtin("design"), SMALL) + pairs(["bind-and-serialize", "one-runner"], ["idle-window"])


def reachable(sys_, limit=5000):
    seen, todo = {sys_.initial()}, [sys_.initial()]
    while todo and len(seen) < limit:
        for _, nxt in sys_.successors(todo.pop()):
            if not sys_.bounded_out(nxt) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_fingerprints_agree_with_the_plain_search(design, scenario):
    sys_ = system(design, scenario)
    fp = bfs(sys_, PROPERTIES, fingerprint=True)
    plain = checked(design, scenario)
    assert counts(fp) == counts(plain)
    assert set(fp.findings) == set(plain.findings)
    for name, f in fp.findings.items():
        again = replay(sys_, f.trace.schedule)
        assert again.final == f.trace.final
        if f.trace.lasso is None:  # breadth-first: as short as the plain search's
            assert len(f.trace) == len(plain.findings[name].trace)
            assert f.prop.check(again.final) == f.violation


def test_encoding_tells_worlds_apart_exactly():
    worlds = reachable(system("v1.15.4", "two-instances"))
    assert len({encode(w) for w in worlds}) == len(worlds)
    assert len({fingerprint(w) for w in worlds}) == len(worlds)
    w = next(iter(worlds))
    rebuilt = type(w)(**{f: getattr(w, f) for f in w.__dataclass_fields__})  # equal, not the same object
    assert rebuilt is not w and encode(rebuilt) == encode(w) and fingerprint(rebuilt) == fingerprint(w)


def test_fingerprints_are_the_same_in_another_process():
    """No hash(): a process with another hash seed computes the same fingerprints."""
    worlds = sorted(reachable(system("v1.15.4", "async-overlap"), 300), key=encode)
    here = [fingerprint(w) for w in worlds]
    code = (
        "import json; from test_fingerprint import reachable, system;"
        "from turnproof.explore.search.fingerprint import encode, fingerprint;"
        "ws = sorted(reachable(system('v1.15.4', 'async-overlap'), 300), key=encode);"
        "print(json.dumps([fingerprint(w) for w in ws]))"
    )
    here_dir = os.path.dirname(__file__)
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=os.pathsep.join([os.path.dirname(here_dir), here_dir]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == here


def test_collision_bound_is_the_birthday_bound():
    assert collision_bound(1) == 0
    assert collision_bound(2**32) == pytest.approx(0.5, rel=1e-6)  # 2^32 states of 64 bits: about 1/2
    assert collision_bound(40_000) < 1e-10


@pytest.mark.slow  # tracemalloc slows every allocation
def test_memory_per_state_is_measured_and_smaller_with_fingerprints():
    sys_ = system("v1.15.4", "async-overlap")
    assert bfs(sys_, PROPERTIES).stats.bytes_per_state is None  # only measured when asked
    with memory.traced():
        plain = bfs(sys_, PROPERTIES)
    with memory.traced():
        fp = bfs(sys_, PROPERTIES, fingerprint=True)
    assert plain.stats.bytes_per_state > 0 and fp.stats.peak_bytes > 0
    assert fp.stats.bytes_per_state * 3 < plain.stats.bytes_per_state


def test_cli_fingerprint_json(cli, tmp_path):
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--fingerprint", "--memory", "--json")
    doc = json.loads(r.output)
    plain = json.loads(
        cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--strategy", "bfs", "--json").output
    )
    assert r.exit_code == 1 and doc["verdict"] == plain["verdict"] == "violated"
    assert doc["stats"]["states"] == plain["stats"]["states"]
    assert doc["stats"]["fingerprint"]["bits"] == 64
    assert doc["stats"]["fingerprint"]["collision_probability"] == collision_bound(doc["stats"]["states"])
    assert doc["stats"]["bytes_per_state"] > 0 and "bytes_per_state" not in plain["stats"]
    text = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--fingerprint", "--out", str(tmp_path))
    assert "fingerprints: 64-bit" in text.output


@pytest.mark.parametrize(
    "args",
    [
        ("--fingerprint", "--minimize"),
        ("--symmetry", "--state-graph"),
        ("--fingerprint", "--strategy", "sleep"),
        ("--memory", "--preemptions", "1"),
        ("--scheduler", "tcp://127.0.0.1:8786"),
        ("--workers", "0"),
        ("--workers", "many"),
    ],
)
def test_options_that_do_not_go_together_are_usage_errors(cli, args):
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_the_compact_visited_set_is_a_dict_of_fingerprints():
    """explore/search/compact.py's table against a dict: the same numbers, through growth and
    collisions of the low bits (the slot), the fingerprint 0 included."""
    import random

    from turnproof.explore.search.compact import Visited

    rng = random.Random(7)
    table, ref = Visited(slots=8), {}
    fps = [0, 1, 8, 16, 2**64 - 1] + [rng.getrandbits(64) for _ in range(5000)] + [n << 40 for n in range(300)]
    for n, fp in enumerate(dict.fromkeys(fps)):
        assert table.get(fp) is None
        table.add(fp, n)
        ref[fp] = n
    assert len(table) == len(ref) and all(table.get(fp) == n for fp, n in ref.items())
    assert all(table.get(fp) is None for fp in (rng.getrandbits(64) for _ in range(1000)) if fp not in ref)
    assert table.nbytes <= 4 * 12 * len(ref)  # at most half full, but never less than a quarter


@pytest.mark.slow
def test_a_fingerprinted_state_is_stored_in_under_a_hundred_and_fifty_bytes():
    """The visited set, parent links and liveness steps in arrays (bytes measured, not estimated)."""
    sys_ = system("v1.15.4", "idle-window")
    with memory.traced():
        fp = bfs(sys_, PROPERTIES, fingerprint=True)
    plain = checked("v1.15.4", "idle-window")  # the same space, every world kept
    assert fp.stats.states == plain.stats.states > 40000 and fp.stats.bytes_per_state < 150
