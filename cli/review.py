"""Design review: every design × scenario × property, as a matrix and a Markdown report for a PR."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from turnproof.cli.decide import counts, fixes, fixes_json, fixes_text, matrix_markdown, matrix_text
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.result import Result
from turnproof.explore.views.page import write_page
from turnproof.explore.views.report import result_json, trace_doc, write_graphs
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
    pages: dict[str, str]  # property -> its step-through page (explain --html), relative to the report


def review(designs: list[Design], scenarios: list[Scenario], out: Path) -> list[Cell]:
    """Check every pair; write each violation's graphs and step-through page under
    out/<design>/<scenario>/<property>/."""
    cells = []
    for d in designs:
        for s in scenarios:
            res = bfs(System(d, s), PROPERTIES)
            where = out / d.name / s.name
            written = write_graphs(res, where) if res.findings else []
            files, pages = {}, {}
            for name in res.findings:
                pics = [p for p in written if p.parent.name == name and p.stem == "message-tree"]
                pic = min(pics, key=lambda p: p.suffix != ".svg", default=None)  # the picture, else its .dot
                if pic is not None:
                    files[name] = str(pic.relative_to(out))
                page = where / name / "page.html"
                write_page(json.loads(json.dumps(trace_doc(res, name))), page)  # as explain reads trace.json
                pages[name] = str(page.relative_to(out))
            cells.append(Cell(d, s, res, files, pages))
    return cells


def shortest_pages(cells: list[Cell]) -> dict[tuple[str, str], str]:
    """{(design, property): the page of the design's shortest counterexample of it, over the scenarios}."""
    best: dict[tuple[str, str], tuple[int, str]] = {}
    for c in cells:
        for name, page in c.pages.items():
            n = len(c.result.findings[name].trace)
            key = (c.design.name, name)
            if key not in best or n < best[key][0]:
                best[key] = (n, page)
    return {k: page for k, (_, page) in best.items()}


def _violated(cell: Cell) -> list[str]:
    return [p.name for p in PROPERTIES if p.name in cell.result.findings]


def _mark(cell: Cell, prop: str) -> str:
    """✓ or ✗; in parentheses where the design does not promise the property (steer delivery)."""
    mark = "✗" if prop in cell.result.findings else "✓"
    return mark if promised(cell.design, prop) else f"({mark})"


def terminal(cells: list[Cell]) -> list[str]:
    """What `review` prints: the design × property matrix, one line per design, the change table,
    and what would fix each property still broken (review.md adds scenario by scenario)."""
    lines = [*matrix_text(cells), "", *summary(cells)]
    for part in (changes_text(changes(cells)), fixes_text(fixes(cells), len({c.scenario.name for c in cells}))):
        if part:
            lines += ["", *part]
    return lines


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
    newly_on: tuple[tuple[str, tuple[str, ...], int, int], ...] = ()  # (property, scenarios it newly fails, a, b)


def changes(cells: list[Cell]) -> list[Change]:
    """Each reviewed design whose base was reviewed too, judged against it (design files' `base`)."""
    by = {(c.design.name, c.scenario.name): c for c in cells}
    out = []
    for d in dict.fromkeys(c.design for c in cells):
        scenarios = [c.scenario.name for c in cells if c.design == d and (d.base, c.scenario.name) in by]
        if not d.base or not scenarios:
            continue
        fixed, narrowed, broken, widened, new, newly_on = [], [], [], [], [], []
        for p in PROPERTIES:
            was_on = [s for s in scenarios if p.name in by[(d.base, s)].result.findings]
            now_on = [s for s in scenarios if p.name in by[(d.name, s)].result.findings]
            was, now = len(was_on), len(now_on)
            name = p.name if promised(d, p.name) else f"{p.name} (not promised)"
            gained = tuple(s for s in now_on if s not in was_on)
            if gained:
                newly_on.append((name, gained, was, now))
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
        out.append(Change(d, d.base, *map(tuple, (fixed, narrowed, broken, widened, new)), tuple(newly_on)))
    return out


def newly_broken(c: Change) -> list[str]:
    """Each property this change newly breaks, with the scenarios it now fails and did not before."""
    return [f"{name} on {', '.join(on)} ({a}→{b})" for name, on, a, b in c.newly_on]


def changes_text(found: list[Change]) -> list[str]:
    """The change table: per change, what it fixed, narrowed, left broken, and newly broke where."""
    if not found:
        return []
    lines = ["change by change (against its base design; counts are scenarios violated, base→this):"]
    for c in found:
        lines.append(f"{c.design.name} = {c.base} + {c.design.change}")
        for what, names in (
            ("fixed", c.fixed),
            ("narrowed", c.narrowed),
            ("still broken", c.broken),
        ):
            if names:
                lines.append(f"  {what}: {', '.join(names)}")
        if c.newly_on:
            lines.append(f"  newly broken: {'; '.join(newly_broken(c))}")
    return lines


def markdown(cells: list[Cell]) -> str:
    names = [p.name for p in PROPERTIES]
    scenarios = len({c.scenario.name for c in cells})
    lines = [
        "# turnproof design review",
        "",
        f"opencode {TAG} turn machinery; every fiber schedule of each scenario explored (breadth-first,",
        f"within each scenario's bound). Each cell counts the scenarios (of {scenarios}) that violate the",
        "property; · none. A violated cell links the step-through page of the design's shortest",
        "counterexample; a count in parentheses is a property the design does not promise (steer",
        "delivery folds follow-ups).",
        "",
        *matrix_markdown(cells, shortest_pages(cells)),
        "",
        *[f"- {line}" for line in summary(cells)],
    ]
    found_fixes = fixes(cells)
    if found_fixes:
        lines += ["", "## What would fix each property still broken", ""]
        lines += [f"- {line.strip()}" for line in fixes_text(found_fixes, scenarios)[1:]]
    lines += [
        "",
        "## Scenario by scenario",
        "",
        "✓ holds, ✗ violated; a violated cell links its step-through page (`explain --html`).",
        "",
        "| design | scenario | " + " | ".join(names) + " | states |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for c in cells:
        marks = []
        for n in names:
            mark = _mark(c, n)
            marks.append(f"[{mark}]({c.pages[n]})" if n in c.pages else mark)
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
            "| design | change | fixed | narrowed | still broken | newly broken (on the scenarios named) |",
        ]
        lines.append("|---|---|---|---|---|---|")
        for c in found:
            cols = [", ".join(x) or "—" for x in (c.fixed, c.narrowed, c.broken)] + ["; ".join(newly_broken(c)) or "—"]
            lines.append(f"| {c.design.name} (from {c.base}) | {c.design.change} | " + " | ".join(cols) + " |")
    lines += ["", "## Violations", ""]
    for c in cells:
        for name in _violated(c):
            f = c.result.findings[name]
            how = f"lasso {f.trace.lasso[0]} then {f.trace.lasso[1]} for ever" if f.trace.lasso else f.trace.schedule
            page = f" [step through]({c.pages[name]})" if name in c.pages else ""
            lines.append(
                f"- **{c.design.name} × {c.scenario.name}, {name}**: {f.violation.says}. Schedule `{how}`.{page}"
            )
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
        "matrix": counts(cells),
        "fixes": fixes_json(fixes(cells)),
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
                "newly_broken_on": {name: list(on) for name, on, _, _ in c.newly_on},
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
                "pages": c.pages,
            }
            for c in cells
        ],
    }
