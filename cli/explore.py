"""`turnproof explore`: write the explorer page, where a learner drives a scenario's state space.

Exit 0 when the page is written; 2 on bad input (an unknown design or scenario, an unwritable
--html path), one line.
"""

from __future__ import annotations

from pathlib import Path

import click
from turnproof.cli.guard import writable_file
from turnproof.cli.outdir import Target
from turnproof.explore.views.explorer import DEFAULT_MAX_STATES, build, write_explorer
from turnproof.model.system import System
from turnproof.specs.loader import InputError, load_design, load_scenario


@click.command()
@click.option("--design", "design_ref", required=True, help="Built-in design name or path to a design .toml.")
@click.option("--scenario", "scenario_ref", required=True, help="Built-in scenario name or path to a scenario .toml.")
@click.option("--html", "html_file", required=True, type=click.Path(path_type=Path), help="The page to write.")
@click.option("--compare", "compare_ref", metavar="DESIGN", help="A second design, shown beside on the same schedule.")
@click.option(
    "--max-states",
    type=click.IntRange(1),
    default=DEFAULT_MAX_STATES,
    show_default=True,
    help="Embed at most this many states (breadth-first); the page says when it holds only part.",
)
def explore(design_ref: str, scenario_ref: str, html_file: Path, compare_ref: str | None, max_states: int) -> None:
    """Write a self-contained page where you choose which fiber moves next, step by step.

    The page holds the scenario's state space (up to --max-states), each step narrated with its
    opencode line; the message tree, the guard and every property update as you go; back and
    forward undo and redo; the shortest counterexample of each property and shape is a jump away.
    Open it at a step with PAGE#schedule=U1,r1,U2 (or #cx=turn-binding, and &step=N).
    """
    scenario = load_scenario(scenario_ref)
    system = System(load_design(design_ref), scenario)
    other = System(load_design(compare_ref), scenario) if compare_ref else None
    writable_file(html_file, "--html")
    with Target(html_file, "--html", folder=False) as target:  # one writer; an interrupt keeps the old page
        doc = build(system, other, max_states)
        try:
            write_explorer(doc, target.stage())
        except OSError as e:
            raise InputError(f"--html {html_file}: cannot write: {e.strerror or e}") from None
        target.commit()
    a = doc["spaces"][0]
    held = "the whole reachable space" if a["complete"] else f"the first {a['explored']:,} reachable states"
    jumps = sum(1 for p in doc["props"] if "cx" in p)
    click.echo(f"explorer page written to {html_file}: {len(a['worlds']):,} states ({held}), {jumps} counterexamples")
