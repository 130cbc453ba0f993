"""Shared helpers: build systems from the built-in files, run the CLI in-process."""

from __future__ import annotations

import functools

import pytest
from click.testing import CliRunner

from explore.bfs import Result, bfs
from model.system import System
from specs.loader import load_design, load_scenario
from specs.properties import PROPERTIES


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
    """One partial-order reduced check (what the default, auto, runs) per built-in pair."""
    from explore.dpor import dpor_search

    return dpor_search(system(design, scenario), PROPERTIES)


@pytest.fixture
def cli():
    from explore.cli import main

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run
