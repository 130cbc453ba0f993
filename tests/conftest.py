"""Shared helpers: build systems from the built-in files, run the CLI in-process."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from model.system import System
from specs.loader import load_design, load_scenario


def system(design: str, scenario: str, **changes) -> System:
    from dataclasses import replace

    sc = load_scenario(scenario)
    return System(load_design(design), replace(sc, **changes) if changes else sc)


@pytest.fixture
def cli():
    from explore.cli import main

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run
