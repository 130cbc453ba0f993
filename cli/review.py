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
    return "✗" if prop in cell.result.findings else "✓"


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
        bad = [c for c in cells if c.design.name == d and c.result.findings]
        if not bad:
            out.append(f"{d}: holds on every scenario reviewed")
        else:
            where = "; ".join(f"{c.scenario.name} ({', '.join(_violated(c))})" for c in bad)
            out.append(f"{d}: violated on {where}")
    return out


def markdown(cells: list[Cell]) -> str:
    names = [p.name for p in PROPERTIES]
    lines = [
        "# turnproof design review",
        "",
        f"opencode {TAG} turn machinery; every fiber schedule of each scenario explored (breadth-first,",
        "within each scenario's bound). ✓ holds, ✗ violated; a violated cell links its message tree.",
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
        lines.append(f"- **{d.name}** ({knobs}): {' '.join(d.description.split())}")
    return "\n".join(lines) + "\n"


def review_json(cells: list[Cell]) -> dict:
    return {
        "verdict": "violated" if any(c.result.findings for c in cells) else "holds",
        "designs": list(dict.fromkeys(c.design.name for c in cells)),
        "scenarios": list(dict.fromkeys(c.scenario.name for c in cells)),
        "cells": [
            {
                "design": c.design.name,
                "scenario": c.scenario.name,
                "verdict": "violated" if c.result.findings else "holds",
                "properties": [{"name": p["name"], "holds": p["holds"]} for p in result_json(c.result)["properties"]],
                "states": c.result.stats.states,
                "cut": c.result.stats.cut,
                "graphs": c.files,
            }
            for c in cells
        ],
    }
