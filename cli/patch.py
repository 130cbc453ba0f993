"""`turnproof patch`: build opencode with a design's knob values (conform/build)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from turnproof.specs.loader import InputError, load_design


@click.command()
@click.option("--design", "design_ref", required=True, help="Built-in design name or path.")
@click.option(
    "--opencode-version", "version", default="1.15.4", show_default=True, help="The opencode release to patch."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Where the build goes (replaced whole): DIR/opencode, one DIR/<knob>.diff per knob, DIR/manifest.json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the build's manifest as JSON instead of text.")
def patch(design_ref: str, version: str, out: Path, as_json: bool) -> None:
    """Build opencode VERSION with the design's knob values applied to the release's own bundle.

    Each edit is found by an anchor that must match the bundle exactly once; when one does not,
    nothing is built (exit 2, naming the knob, the edit and the anchor). Exit 0 when built.
    """
    from turnproof.conform import HarnessError
    from turnproof.conform.build.patch import patch as build

    try:
        manifest = build(load_design(design_ref), version, out)
    except (HarnessError, InputError) as e:
        click.echo(f"turnproof: error: {e}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(manifest | {"opencode": str(out.absolute() / "opencode")}, indent=2))
        return
    knobs = ", ".join(f"{k} = {v}" for k, v in manifest["knobs"].items()) or "no knob changed"
    click.echo(f"opencode {manifest['release']} patched with {manifest['design']} ({knobs})")
    for e in manifest["edits"]:
        click.echo(f"  {e['knob']} = {e['value']}: {e['name']} ({e['stands_for']})")
    click.echo(f"run it: {out / 'opencode'} serve")
    for knob in manifest["knobs"]:
        click.echo(f"diff: {out / (knob + '.diff')}")
