"""Design review: every design × scenario × property, as a matrix and a Markdown report for a PR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.result import Result
from turnproof.explore.views.report import result_json, write_graphs
from turnproof.model.config import Design, Scenario
from turnproof.model.source import TAG
from turnproof.model.system import System
from turnproof.specs.inbox import NOT_PROMISED_BY_STEER, promised
from turnproof.specs.properties import PROPERTIES


@dataclass
class Cell:
    design: Design
    scenario: Scenario
    result: Result
    files: dict[str, str]  # property -> its message-tree picture, relative to the report


def review(designs: list[Design], scenarios: list[Scenario], out: Path) -> list[Cell]:
    """Check every pair; write each violation's graphs under out/<design>/<scenario>/."""
    cells = []
    for d in designs:
        for s in scenarios:
            res = bfs(System(d, s), PROPERTIES)
            where = out / d.name / s.name
            written = write_graphs(res, where) if res.findings else []
            files = {}
            for name in res.findings:
                pics = [p for p in written if p.parent.name == name and p.stem == "message-tree"]
                pic = min(pics, key=lambda p: p.suffix != ".svg", default=None)  # the picture, else its .dot
                if pic is not None:
                    files[name] = str(pic.relative_to(out))
            cells.append(Cell(d, s, res, files))
    return cells


def _violated(cell: Cell) -> list[str]:
    return [p.name for p in PROPERTIES if p.name in cell.result.findings]


def _mark(cell: Cell, prop: str) -> str:
    """✓ or ✗; in parentheses where the design does not promise the property (steer delivery)."""
    mark = "✗" if prop in cell.result.findings else "✓"
    return mark if promised(cell.design, prop) else f"({mark})"


def matrix_text(cells: list[Cell]) -> str:
    names = [p.name for p in PROPERTIES]
    width = max(len(f"{c.design.name} × {c.scenario.name}") for c in cells)
    head = " ".join(n[:12].ljust(12) for n in names)
    lines = [f"{'design × scenario'.ljust(width)}  {head}  states"]
    for c in cells:
        marks = " ".join(_mark(c, n).ljust(12) for n in names)
        cut = "" if c.result.complete else f" (cut {c.result.stats.cut})"
        lines.append(f"{(c.design.name + ' × ' + c.scenario.name).ljust(width)}  {marks}  {c.result.stats.states}{cut}")
    return "\n".join(lines)


def summary(cells: list[Cell]) -> list[str]:
    """One line per design: holds everywhere, or what it violates where."""
    out = []
    for d in dict.fromkeys(c.design.name for c in cells):
        mine = [c for c in cells if c.design.name == d]
        bad = [c for c in mine if any(promised(c.design, n) for n in _violated(c))]
        given_up = {
            n: sum(n in c.result.findings for c in mine)
            for n in NOT_PROMISED_BY_STEER
            if not promised(mine[0].design, n)
        }
        if not bad:
            line = (
                f"{d}: holds on every scenario reviewed"
                if not given_up
                else f"{d}: keeps every promise on every scenario reviewed"
            )
        else:
            where = "; ".join(
                f"{c.scenario.name} ({', '.join(n for n in _violated(c) if promised(c.design, n))})" for c in bad
            )
            line = f"{d}: {'breaks a promise' if given_up else 'violated'} on {where}"
        if given_up:
            line += "; gives up, as steer does: " + ", ".join(
                f"{n} ({k} of {len(mine)} scenarios)" for n, k in given_up.items()
            )
        out.append(line)
    return out


@dataclass(frozen=True)
class Change:
    """What one design changed against its base, property by property, over the scenarios both ran."""

    design: Design
    base: str
    fixed: tuple[str, ...]  # violated by the base somewhere, by this design nowhere
    narrowed: tuple[str, ...]  # violated by both, on fewer scenarios here ("name (a→b)")
    broken: tuple[str, ...]  # still violated, on as many scenarios
    widened: tuple[str, ...]  # violated by both, on more scenarios here ("name (a→b)")
    new: tuple[str, ...]  # violated here, by the base nowhere


def changes(cells: list[Cell]) -> list[Change]:
    """Each reviewed design whose base was reviewed too, judged against it (design files' `base`)."""
    by = {(c.design.name, c.scenario.name): c for c in cells}
    out = []
    for d in dict.fromkeys(c.design for c in cells):
        scenarios = [c.scenario.name for c in cells if c.design == d and (d.base, c.scenario.name) in by]
        if not d.base or not scenarios:
            continue
        fixed, narrowed, broken, widened, new = [], [], [], [], []
        for p in PROPERTIES:
            was = sum(p.name in by[(d.base, s)].result.findings for s in scenarios)
            now = sum(p.name in by[(d.name, s)].result.findings for s in scenarios)
            name = p.name if promised(d, p.name) else f"{p.name} (not promised)"
            if was and not now:
                fixed.append(name)
            elif now and not was:
                new.append(f"{name} ({now})")
            elif now and now < was:
                narrowed.append(f"{name} ({was}→{now})")
            elif now and now > was:
                widened.append(f"{name} ({was}→{now})")
            elif now:
                broken.append(f"{name} ({now})")
        out.append(Change(d, d.base, *map(tuple, (fixed, narrowed, broken, widened, new))))
    return out


def changes_text(found: list[Change]) -> list[str]:
    """The change table: per change, what it fixed, narrowed, left broken and broke (scenario counts)."""
    if not found:
        return []
    lines = ["change by change (against its base design; counts are scenarios violated):"]
    for c in found:
        lines.append(f"{c.design.name} = {c.base} + {c.design.change}")
        for what, names in (
            ("fixed", c.fixed),
            ("narrowed", c.narrowed),
            ("still broken", c.broken),
            ("widened", c.widened),
            ("newly broken", c.new),
        ):
            if names:
                lines.append(f"  {what}: {', '.join(names)}")
    return lines


def markdown(cells: list[Cell]) -> str:
    names = [p.name for p in PROPERTIES]
    lines = [
        "# turnproof design review",
        "",
        f"opencode {TAG} turn machinery; every fiber schedule of each scenario explored (breadth-first,",
        "within each scenario's bound). ✓ holds, ✗ violated; a violated cell links its message tree;",
        "a mark in parentheses is a property the design does not promise (steer delivery folds follow-ups).",
        "",
        *[f"- {line}" for line in summary(cells)],
        "",
        "| design | scenario | " + " | ".join(names) + " | states |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for c in cells:
        marks = []
        for n in names:
            mark = _mark(c, n)
            marks.append(f"[{mark}]({c.files[n]})" if n in c.files else mark)
        cut = "" if c.result.complete else f" (cut {c.result.stats.cut})"
        lines.append(
            f"| {c.design.name} | {c.scenario.name} | " + " | ".join(marks) + f" | {c.result.stats.states}{cut} |"
        )
    found = changes(cells)
    if found:
        lines += [
            "",
            "## Change by change",
            "",
            "| design | change | fixed | narrowed | still broken | widened | newly broken |",
        ]
        lines.append("|---|---|---|---|---|---|---|")
        for c in found:
            cols = [", ".join(x) or "—" for x in (c.fixed, c.narrowed, c.broken, c.widened, c.new)]
            lines.append(f"| {c.design.name} (from {c.base}) | {c.design.change} | " + " | ".join(cols) + " |")
    lines += ["", "## Violations", ""]
    for c in cells:
        for name in _violated(c):
            f = c.result.findings[name]
            how = f"lasso {f.trace.lasso[0]} then {f.trace.lasso[1]} for ever" if f.trace.lasso else f.trace.schedule
            lines.append(f"- **{c.design.name} × {c.scenario.name}, {name}**: {f.violation.says}. Schedule `{how}`.")
    lines += ["", "## Designs", ""]
    for d in dict.fromkeys(c.design for c in cells):
        knobs = ", ".join(
            f"{k}={getattr(d, k)}" for k in ("binding", "guard", "overlap", "cancel", "on_idle", "runner_map", "exit")
        )
        if d.engine == "inbox":
            knobs = f"engine=inbox, delivery={d.delivery}"
        lines.append(f"- **{d.name}** ({knobs}): {' '.join(d.description.split())}")
    return "\n".join(lines) + "\n"


def review_json(cells: list[Cell]) -> dict:
    return {
        "verdict": "violated" if any(c.result.findings for c in cells) else "holds",
        "designs": list(dict.fromkeys(c.design.name for c in cells)),
        "scenarios": list(dict.fromkeys(c.scenario.name for c in cells)),
        "changes": [
            {
                "design": c.design.name,
                "base": c.base,
                "change": c.design.change,
                "fixed": list(c.fixed),
                "narrowed": list(c.narrowed),
                "still_broken": list(c.broken),
                "widened": list(c.widened),
                "newly_broken": list(c.new),
            }
            for c in changes(cells)
        ],
        "cells": [
            {
                "design": c.design.name,
                "scenario": c.scenario.name,
                "verdict": "violated" if c.result.findings else "holds",
                "properties": [
                    {"name": p["name"], "holds": p["holds"], "promised": promised(c.design, p["name"])}
                    for p in result_json(c.result)["properties"]
                ],
                "states": c.result.stats.states,
                "cut": c.result.stats.cut,
                "graphs": c.files,
            }
            for c in cells
        ],
    }
