"""`turnproof repair`: the least change from a base design that holds everywhere asked, and why.

Writes each minimal design to --out as a design file (its base and its changes, loadable by
`check --design`), prints its review row, the table of why each of its changes is needed, and
why nothing smaller holds (refuted candidates counted per size, by scenario and property).
First it names the (scenario, property) pairs no design of the space holds: out of the knobs'
reach, left out of the search (the rest is over the other pairs).
The search is explore/repair.py's; its method and soundness are in docs/repair.md.
Exit 0 a minimal design found, 1 none within --max-changes, 2 an input error, 3 a budget spent.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from turnproof.cli.guard import writable_dir
from turnproof.cli.review import Change, changes_text
from turnproof.cli.words import Words, WordsCommand
from turnproof.explore.repair import LEGACY, Answer, Minimal, Space, repair
from turnproof.explore.search.budget import Budget, OutOfBudget, default_max_bytes
from turnproof.model.config import KNOBS, Design
from turnproof.specs.loader import InputError, builtin, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES


@click.command(cls=WordsCommand)
@click.option("--base", "base_ref", required=True, help="The design to change: a built-in name or a design .toml.")
@click.option(
    "--scenarios",
    cls=Words,
    metavar="SCENARIO …",
    help="Built-in scenario names or scenario .toml paths [default: every built-in scenario].",
)
@click.option(
    "--properties", cls=Words, metavar="PROPERTY …", help="Properties to hold [default: every one that applies]."
)
@click.option(
    "--knobs",
    cls=Words,
    metavar="KNOB …",
    help=f"Knobs a candidate may change [default: the legacy space, {' '.join(LEGACY)}].",
)
@click.option("--max-changes", type=click.IntRange(0), help="Look no further than this many knobs changed.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where to write each minimal design, DIR/repair-N.toml.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option(
    "--max-seconds", type=click.FloatRange(0, min_open=True), help="Stop, undecided (exit 3), after this long."
)
@click.option(
    "--max-memory",
    type=click.IntRange(1),
    metavar="MB",
    help="Stop, undecided (exit 3), past this much memory [default: a quarter of what is available].",
)
def repair_command(
    base_ref: str,
    scenarios: tuple[str, ...],
    properties: tuple[str, ...],
    knobs: tuple[str, ...],
    max_changes: int | None,
    out_dir: Path,
    as_json: bool,
    max_seconds: float | None,
    max_memory: int | None,
) -> None:
    """The least change to BASE that holds: turnproof repair --base D [--scenarios …] [--properties …]
    [--max-changes K] --out DIR [--json]

    Finds every design that differs from D in the fewest knob values and holds every asked
    property on every asked scenario; writes each to DIR, shows why each of its changes is
    needed and why nothing smaller holds. Exit 0 found, 1 none within --max-changes, 3 a budget spent.
    """
    base = load_design(base_ref)
    chosen = tuple(load_scenario(s) for s in scenarios or builtin("scenario"))
    props = _properties(properties)
    space = Space(base, _knobs(knobs, base))
    writable_dir(out_dir, "--out")
    budget = Budget(None, max_seconds, max_memory << 20 if max_memory else default_max_bytes())
    started = time.process_time(), time.perf_counter()
    try:
        with budget.watch():
            answer = repair(space, chosen, props, len(space.knobs) if max_changes is None else max_changes, budget)
    except OutOfBudget as e:
        click.echo(f"turnproof: repair undecided: stopped: {e.why}; nothing is judged from a partial search", err=True)
        sys.exit(3)
    seconds = time.perf_counter() - started[1]
    cpu = time.process_time() - started[0]
    files = _write(answer, out_dir)
    if as_json:
        click.echo(
            json.dumps(answer_json(answer, files) | {"seconds": round(seconds, 2), "cpu": round(cpu, 2)}, indent=2)
        )
    else:
        click.echo("\n".join(answer_text(answer, files)))
        click.echo(f"{answer.searches:,} searches, {answer.states:,} states, in {seconds:.1f}s ({cpu:.1f}s of CPU)")
    sys.exit(0 if answer.minimal else 1)


def _properties(names: tuple[str, ...]):
    known = {p.name: p for p in PROPERTIES}
    for n in names:
        if n not in known:
            raise InputError(f"--properties {n}: no such property (known: {', '.join(known)})")
    return tuple(p for p in PROPERTIES if p.name in names) or PROPERTIES


def _knobs(names: tuple[str, ...], base: Design) -> tuple[str, ...]:
    for n in names:
        if n not in KNOBS:
            raise InputError(f"--knobs {n}: no such knob (known: {', '.join(KNOBS)})")
    if not names and base.engine != "legacy":
        raise InputError(
            f"--base {base.name}: engine = {base.engine}; the legacy space is for legacy designs (--knobs)"
        )
    return tuple(k for k in KNOBS if k in names) or LEGACY


def _said(changes) -> str:
    return ", ".join(f"{k}={v}" for k, v in changes)


def design_toml(space: Space, m: Minimal, scenarios: int, properties: int) -> str:
    """A design file: the base, the change, the changed knobs, and any other knob where the base
    differs from the loader's defaults (so the file loads as exactly this design)."""
    base, said = space.base, _said(m.changes)
    lines = [
        f'description = "{base.name} with {said}: a least change turnproof repair found that holds on '
        f'{scenarios} scenarios x {properties} properties"',
        f'base = "{base.name}"',
        f'change = "repair: {said}"',
        "# changed from the base:",
        *[f'{k} = "{v}"' for k, v in m.changes],
    ]
    changed = dict(m.changes)
    kept = [k for k in KNOBS if k not in changed and getattr(base, k) != getattr(Design(""), k)]
    if kept:
        lines += ["# as in the base:", *[f'{k} = "{getattr(base, k)}"' for k in kept]]
    return "\n".join(lines) + "\n"


def _write(answer: Answer, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i, m in enumerate(answer.minimal, 1):
        path = out / f"repair-{i}.toml"
        path.write_text(design_toml(answer.space, m, len(answer.scenarios), len(answer.properties)), encoding="utf-8")
        files.append(path)
    return files


def _review(answer: Answer, m: Minimal, name: str) -> list[str]:
    """The row `turnproof review` gives this design: it holds on every scenario; against its base."""
    design = answer.space.design(m.changes, name)
    fixed = Change(design, answer.space.base.name, answer.base_violates, (), (), (), ())
    but = " but the pairs out of reach" if answer.out_of_reach else ""
    return [f"{name}: holds on every scenario reviewed{but}", *changes_text([fixed])[1:]]


def _schedule(schedule: str, cycle: str | None) -> str:
    return schedule + (f" then ({cycle}) for ever" if cycle else "")


def _reach_text(answer: Answer) -> list[str]:
    """The pairs no design of the space holds, each with the base's shortest violation."""
    if not answer.out_of_reach:
        return []
    lines = [f"out of reach: no value of these knobs fixes {len(answer.out_of_reach)} pair(s), every design of "
             "the space violates them: it needs another mechanism (left out of the search below)"]  # fmt: skip
    rows = [("scenario", "property", f"{answer.space.base.name}'s shortest schedule")]
    rows += [(o.scenario, o.prop, _schedule(o.schedule, o.cycle)) for o in answer.out_of_reach]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths + [0], strict=True)).rstrip() for r in rows]
    return [*lines, ""]


def answer_text(answer: Answer, files: list[Path]) -> list[str]:
    space = answer.space
    head = (
        f"repair {space.base.name}: the least change that holds on {len(answer.scenarios)} scenarios × "
        f"{len(answer.properties)} properties ({space.size} designs: {', '.join(space.knobs)})"
    )
    lines = [head, *_reach_text(answer)]
    if answer.minimal:
        n = len(answer.minimal)
        lines.append(f"{n} minimal design{'s' * (n > 1)}, each changing {answer.size} knob{'s' * (answer.size != 1)}")
    else:
        lines.append(f"no design within {answer.max_changes} changes holds")
    for m, path in zip(answer.minimal, files, strict=True):
        lines += ["", f"{path.stem}: {_said(m.changes) or 'no change'} (written to {path})"]
        lines += [f"  {line}" for line in _review(answer, m, path.stem)]
        if m.needed:
            lines.append(f"  each part is needed: with that knob back at {space.base.name}'s value,")
            rows = [("knob", "back to", "scenario", "property", "shortest schedule")]
            rows += [(n.knob, n.value, n.scenario, n.prop, _schedule(n.schedule, n.cycle)) for n in m.needed]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            lines += [
                "    " + "  ".join(c.ljust(w) for c, w in zip(r, widths + [0], strict=True)).rstrip() for r in rows
            ]
    sizes = [s for s in sorted(answer.refuted) if s != answer.size]
    if sizes:
        lines += ["", "nothing smaller holds:" if answer.minimal else "every candidate refuted:"]
    for s in sizes:
        by = answer.by_reason(s)
        said = ", ".join(f"{sc} × {p} {k}" for (sc, p), k in sorted(by.items(), key=lambda x: (-x[1], x[0])))
        lines.append(
            f"  {s} change{'s' * (s != 1)}: {len(answer.refuted[s])} of {answer.candidates[s]} refuted: {said}"
        )
    return lines


def answer_json(answer: Answer, files: list[Path]) -> dict:
    space = answer.space
    out = {o.scenario for o in answer.out_of_reach}
    return {
        "base": space.base.name,
        "knobs": list(space.knobs),
        "space": space.size,
        "scenarios": [s.name for s in answer.scenarios],
        "properties": [p.name for p in answer.properties],
        "max_changes": answer.max_changes,
        "verdict": "found" if answer.minimal else "none",
        "size": answer.size,
        "designs": [
            {
                "changes": dict(m.changes),
                "file": str(path),
                "review": {
                    "holds": [s.name for s in answer.scenarios if s.name not in out],
                    "fixed": list(answer.base_violates),
                },
                "needed": [
                    {
                        "knob": n.knob,
                        "back_to": n.value,
                        "scenario": n.scenario,
                        "property": n.prop,
                        "schedule": n.schedule,
                        "cycle": n.cycle,
                    }
                    for n in m.needed
                ],
            }
            for m, path in zip(answer.minimal, files, strict=True)
        ],
        "refuted": [
            {
                "size": s,
                "candidates": answer.candidates[s],
                "refuted": len(answer.refuted[s]),
                "by": [
                    {"scenario": sc, "property": p, "designs": k}
                    for (sc, p), k in sorted(answer.by_reason(s).items(), key=lambda x: (-x[1], x[0]))
                ],
            }
            for s in sorted(answer.refuted)
        ],
        "out_of_reach": [
            {"scenario": o.scenario, "property": o.prop, "schedule": o.schedule, "cycle": o.cycle}
            for o in answer.out_of_reach
        ],
        "searches": answer.searches,
        "states": answer.states,
    }
