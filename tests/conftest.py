"""Shared helpers: build systems from the built-in files, run the CLI in-process."""

from __future__ import annotations

import functools

import pytest
from click.testing import CliRunner
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.result import Result
from turnproof.model.system import System
from turnproof.specs.loader import load_design, load_scenario
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


@functools.cache
def checked(design: str, scenario: str) -> Result:
    """One exhaustive check per built-in pair for the whole test session."""
    return bfs(system(design, scenario), PROPERTIES)


@functools.cache
def reduced(design: str, scenario: str) -> Result:
    """One partial-order reduced check per built-in pair (dpor alone)."""
    from turnproof.explore.search.dpor import dpor_search

    return dpor_search(system(design, scenario), PROPERTIES)


def auto(design: str, scenario: str) -> Result:
    """What the default, auto, runs per built-in pair: dpor, then bfs to the shortest traces."""
    from turnproof.explore.strategy import search

    return search(system(design, scenario), PROPERTIES, "auto")


def counts(res: Result) -> tuple:
    """What a faster search must reproduce exactly: states, transitions, quiescent, cut, depth."""
    s = res.stats
    return (s.states, s.transitions, s.quiescent, s.cut, s.max_depth)


@pytest.fixture
def cli():
    from turnproof.cli.main import main

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run
