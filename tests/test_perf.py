"""What issue 15 added for speed keeps every answer: values that cache their hash stay values,
dpor stopping early gives the verdict of the whole search, `--property` asks one property, and
the SPIN rendering in bench/spin answers as turnproof does (where SPIN is installed)."""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import LARGE_SCENARIOS, SLOW_SCENARIOS, pairs, system
from turnproof.explore.search.dpor import dpor_search
from turnproof.explore.strategy import search
from turnproof.model.store import USER, Message
from turnproof.model.values import field_names, kept, replace
from turnproof.model.world import Fiber
from turnproof.specs.loader import builtin
from turnproof.specs.properties import PROPERTIES
from turnproof.specs.shapes import SHAPES

SAFETY = tuple(p for p in PROPERTIES if p.when == "always")


def test_a_replaced_value_forgets_the_old_hash_and_pickles_without_it():
    f = Fiber("U1", "client", "send", prompt="U1")
    hash(f)
    g = replace(f, pc="end")
    assert g._hash is None and g != f and g == Fiber("U1", "client", "end", prompt="U1")
    assert hash(replace(g, pc="send")) == hash(f) and replace(g, pc="send") == f
    again = pickle.loads(pickle.dumps(f))
    assert again._hash is None and again == f
    m = Message((1, 1), 0, USER, "U1")
    with pytest.raises(TypeError, match="no field"):
        replace(m, colour="red")


def test_a_value_is_frozen_keeps_its_entries_to_itself_and_stays_a_dataclass():
    f = Fiber("U1", "client", "send", prompt="U1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.pc = "end"
    assert kept(f, "_abs", lambda f: (f.pc,)) == ("send",) and kept(f, "_abs", lambda f: 1 / 0) == ("send",)
    g = replace(f, pc="end")
    assert kept(g, "_abs", lambda f: (f.pc,)) == ("end",)
    assert dataclasses.replace(f, pc="end") == g and dataclasses.astuple(g)[:3] == ("U1", "client", "end")
    assert field_names(Fiber)[:3] == ("name", "kind", "pc") and repr(g).startswith("Fiber(name='U1', kind='client'")


# the fast tier: the representatives (conftest.pairs) off the large spaces
CASES = pairs(builtin("design"), ("tool-race", "two-instances", "abort-race"), slow=SLOW_SCENARIOS | LARGE_SCENARIOS)


@pytest.mark.parametrize("design,scenario", [*CASES, *pairs(["v1.15.4"], ["idle-window"])])
def test_dpor_stopping_once_all_are_violated_has_the_whole_searchs_verdict(design, scenario):
    sys_ = system(design, scenario)
    for props in (SAFETY, (SHAPES["four-siblings"],)):
        names = frozenset(p.name for p in props)
        whole, early = dpor_search(sys_, props), dpor_search(sys_, props, until=names)
        assert set(early.findings) == set(whole.findings)
        assert early.search["stopped"] == (set(early.findings) == names)
        assert early.stats.states <= whole.stats.states
        if early.search["stopped"]:  # auto: the same shortest traces as after the whole search
            a, b = search(sys_, props, "auto"), search(sys_, props, "bfs")
            assert {n: len(f.trace) for n, f in a.findings.items()} == {n: len(f.trace) for n, f in b.findings.items()}


def test_check_property_asks_only_that_property(cli):
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--property", "no-terminal-siblings")
    assert r.exit_code == 0 and "✓ no-terminal-siblings" in r.output and "turn-binding" not in r.output
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--property", "turn-binding")
    assert r.exit_code == 1 and "stopped once every property was violated" in r.output
    assert cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--property", "nope").exit_code == 2


MODEL = Path(__file__).parent.parent / "bench" / "spin" / "turn.pml"
DEFINES = {"tool-race": "TOOL_RACE", "two-instances": "TWO_INSTANCES", "idle-window": "IDLE_WINDOW"}


@pytest.mark.skipif(shutil.which("spin") is None or shutil.which("gcc") is None, reason="SPIN not installed")
@pytest.mark.parametrize(
    "scenario", [s if s == "tool-race" else pytest.param(s, marks=pytest.mark.slow) for s in sorted(DEFINES)]
)
@pytest.mark.parametrize(
    "prop,macro", [("turn-binding", "TURN_BINDING"), ("no-terminal-siblings", "TERMINAL_SIBLINGS")]
)
def test_the_promela_rendering_answers_as_turnproof_does(tmp_path, scenario, prop, macro):
    ours = search(system("v1.15.4", scenario), tuple(p for p in PROPERTIES if p.name == prop), "bfs")
    run = lambda *cmd: subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout  # noqa: E731
    run("spin", f"-D{DEFINES[scenario]}", f"-D{macro}", "-a", str(MODEL))
    run("gcc", "-w", "-O2", "-DSAFETY", "-o", "pan", "pan.c")
    out = run("./pan", "-E")
    assert ("errors: 0" in out) == ours.holds, out
