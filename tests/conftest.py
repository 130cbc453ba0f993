"""Shared helpers: build systems from the built-in files, run the CLI in-process, and compute each
exhaustive result once per test session, shared by every xdist worker through a session directory."""

from __future__ import annotations

import fcntl
import functools
import gc
import hashlib
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.result import Result
from turnproof.model.system import System
from turnproof.specs.loader import builtin, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES

# The seed's evidence (opencode #28202): the user message and its four terminal assistants, with
# their (created, completed) times; the audit fixtures are built from these.
SEED_SESSION = "ses_1c52c37ddffezrIcFQ9H63Cd7K"
SEED_USER = "msg_e3b47bdbe0016eiqJcvSD3F2QI"
SEED_SIBLINGS = {
    "msg_e3b47cbfc001wtgzIu0Foguq0x": (1779111021564, 1779111032041),
    "msg_e3b47d0a7001Q29TDT1pRlS953": (1779111022759, 1779111032201),
    "msg_e3b47f4f3001r0BTyrS1GzX1Rs": (1779111032051, 1779111037500),
    "msg_e3b47f593001VINaxS1e9CQJRH": (1779111032211, 1779111036746),
}


def system(design: str, scenario: str, **changes) -> System:
    from dataclasses import replace

    sc = load_scenario(scenario)
    return System(load_design(design), replace(sc, **changes) if changes else sc)


# --- one result per pair for the whole session, across xdist workers ------------------------------
#
# The controller (or a run without xdist) makes one fresh directory per session and hands it to its
# workers; the first worker to need a pair computes it under a lock, the others wait and read it.
# Nothing outlives the session, so every run computes every result it uses afresh.

SHARED: Path | None = None  # this session's directory of results


# The tests walk whole state spaces themselves (footprints, the abstraction, the source anchors):
# millions of short-lived immutable values that form no cycles. At CPython's default threshold
# (700) the collector walks every world such a walk keeps, over and over, for nothing: half the
# time of the footprint test. The searches pause it themselves (explore/search/memory.py); here
# it runs less often, for the tests' own loops too. It changes no result, only when garbage in
# cycles is freed.
GC_THRESHOLD = (50_000, 50, 1_000)


def pytest_configure(config):
    global SHARED
    gc.set_threshold(*GC_THRESHOLD)
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        SHARED = Path(worker["turnproof_shared"])
    else:
        SHARED = Path(tempfile.mkdtemp(prefix="turnproof-tests-"))
        config.turnproof_shared = SHARED


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist, on the controller: each worker shares the controller's directory."""
    node.workerinput["turnproof_shared"] = str(node.config.turnproof_shared)


def pytest_unconfigure(config):
    if getattr(config, "workerinput", None) is None and SHARED is not None:
        shutil.rmtree(SHARED, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Slow tests first, the longest of them (idle-window's, the README's) before the rest;
    otherwise in their order: xdist's workers start the long ones early and fill in with the short
    ones, rather than one worker finishing a long test alone at the end."""

    def later(item) -> tuple[bool, bool]:
        slow = item.get_closest_marker("slow") is not None
        return not slow, not ("idle-window" in item.nodeid or "test_readme" in item.nodeid)

    items.sort(key=later)


@functools.cache
def _source_hash() -> str:
    """What a result depends on: every module and built-in spec of the installed turnproof."""
    import turnproof.model

    root = Path(turnproof.model.__file__).resolve().parents[1]  # model/'s parent: the project's folders
    h = hashlib.sha256()
    for folder in ("model", "specs", "explore"):
        for f in sorted((root / folder).rglob("*")):
            if f.suffix in (".py", ".toml"):
                h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def shared(kind: str, compute, *key: str):
    """`compute()` once per session for every worker: the first computes under a lock, the rest read.
    `key` names what was computed (a design and a scenario, a case's name): equal keys, one result."""
    if SHARED is None:  # (imported without pytest's configure: compute here)
        return compute()
    name = hashlib.sha256("\0".join((kind, *key, _source_hash())).encode()).hexdigest()[:24]
    path = SHARED / f"{name}.pickle"
    with open(SHARED / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return pickle.loads(path.read_bytes())
        res = compute()
        tmp = path.with_suffix(f".{os.getpid()}")
        tmp.write_bytes(pickle.dumps(res, pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
        return res


@functools.cache
def checked(design: str, scenario: str) -> Result:
    """One exhaustive check per built-in pair for the whole test session."""
    return shared("bfs", lambda: bfs(system(design, scenario), PROPERTIES), design, scenario)


@functools.cache
def reduced(design: str, scenario: str) -> Result:
    """One partial-order reduced check per built-in pair (dpor alone)."""
    from turnproof.explore.search.dpor import dpor_search

    return shared("dpor", lambda: dpor_search(system(design, scenario), PROPERTIES), design, scenario)


def exhaustive(sys_: System, properties) -> Result:
    """`bfs` as the CLI calls it, answered from `checked` when the system is a built-in pair as
    shipped and the properties are all of them (tests that run `review` over many pairs)."""
    d, s = sys_.design.name, sys_.scenario.name
    if properties == PROPERTIES and d in builtin("design") and s in builtin("scenario") and sys_ == system(d, s):
        return checked(d, s)
    return bfs(sys_, properties)


# the scenarios whose exhaustive search takes seconds per design, not milliseconds: the fast tier
# (`-m "not slow"`) leaves their parametrizations to the full suite
SLOW_SCENARIOS = frozenset({"idle-window"})
# the two largest await-granularity spaces: a second per design through the whole CLI (graphs drawn)
LARGE_SCENARIOS = frozenset({"async-overlap", "two-instances"})
# A per-pair check's representatives in the fast tier: every design on tool-race, v1.15.4 on every
# scenario, and each V2 inbox mode on the scenario written for it; so every kind of check meets every
# design and every scenario there. The full suite runs every pair.
FAST_DESIGN, FAST_SCENARIO = "v1.15.4", "tool-race"
FAST_PAIRS = frozenset({("upstream-1.18.34-steer", "steer-during-tool"), ("upstream-1.18.34-queue", "abort-queued")})


def representative(design: str, scenario: str) -> bool:
    """Whether the fast tier runs this pair (see FAST_DESIGN)."""
    return design == FAST_DESIGN or scenario == FAST_SCENARIO or (design, scenario) in FAST_PAIRS


def pairs(designs, scenarios, slow=SLOW_SCENARIOS) -> list:
    """design × scenario parameters; those on a `slow` scenario, or not a fast-tier representative,
    marked slow (the full suite runs them all)."""
    return [
        (d, s) if s not in slow and representative(d, s) else pytest.param(d, s, marks=pytest.mark.slow)
        for d in designs
        for s in scenarios
    ]


@functools.cache
def auto(design: str, scenario: str) -> Result:
    """What the default, auto, runs per built-in pair (dpor, then bfs to the shortest traces): once
    per session, as `checked`."""
    from turnproof.explore.strategy import search

    return shared("auto", lambda: search(system(design, scenario), PROPERTIES, "auto"), design, scenario)


def searched(sys_: System, properties, strategy: str = "auto", options=None) -> Result:
    """`strategy.search` as the CLI calls it, answered from `checked` or `auto` when the inputs are
    exactly theirs: a built-in pair as shipped, every property, no option that changes the search
    (a progress hook or budget aside). Anything else is searched afresh, so a CLI that asked for
    something else still gets, and shows, what it asked for."""
    from turnproof.explore.strategy import Options, search

    options = options or Options()
    d, s = sys_.design.name, sys_.scenario.name
    plain = (options.preemptions, options.minimize, options.state_graph) == (None, False, None)
    plain = plain and _sequential(options.scale)
    if (
        plain
        and strategy in ("auto", "bfs")
        and properties == PROPERTIES
        and d in builtin("design")
        and s in builtin("scenario")
        and sys_ == system(d, s)
    ):
        return checked(d, s) if strategy == "bfs" else auto(d, s)
    return search(sys_, properties, strategy, options)


def _sequential(scale) -> bool:
    """No scale option, or only `--workers` left at auto on a machine where auto stays sequential."""
    from turnproof.explore.scale import options as scaling

    if scale is None or scale == scaling.Scale():
        return True
    auto_workers = scale == scaling.Scale(workers=None)
    return auto_workers and (os.cpu_count() or 1) < scaling.AUTO_MIN_CORES


@functools.cache
def _svg(source: str, fmt: str) -> bytes:
    """graphviz's rendering of one DOT source, once per session (dot is a pure function of it)."""
    import graphviz

    return shared("dot", lambda: graphviz.Source(source).pipe(format=fmt), fmt, source)


@pytest.fixture
def drawn_once(monkeypatch):
    """Pictures whose DOT source was already drawn in this session are not drawn again: the CLI's
    per-pair runs (bfs and auto give the same traces, so the same pictures) share the renderings."""
    import graphviz

    monkeypatch.setattr(graphviz.Digraph, "pipe", lambda d, format="pdf", **kw: _svg(d.source, format))


def counts(res: Result) -> tuple:
    """What a faster search must reproduce exactly: states, transitions, quiescent, cut, depth."""
    s = res.stats
    return (s.states, s.transitions, s.quiescent, s.cut, s.max_depth)


@pytest.fixture
def cli(tmp_path_factory, monkeypatch):
    """Run the CLI in-process, in a folder of the test's own: a check without --out writes its
    default out/DESIGN/SCENARIO there, never into the checkout."""
    from turnproof.cli.main import main

    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run
