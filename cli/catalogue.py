"""`turnproof catalogue`: upstream's reports, each searched where it was seen, on the newest release,
and on every built-in design (those on which its symptom cannot happen fix it).

Every figure comes from a breadth-first search of the report's scenario for its symptom property
(specs/catalogue.py), so each schedule printed is a shortest one.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import click
from turnproof.explore.search.bfs import bfs
from turnproof.model.system import System
from turnproof.specs.catalogue import NEWEST_RELEASE, REPORTS, Report
from turnproof.specs.loader import builtin, load_design, load_scenario


@dataclass(frozen=True)
class Seen:
    """One search: the symptom reached or not, by which shortest schedule, and whether it was complete."""

    design: str
    reachable: bool
    schedule: str
    says: str
    states: int
    complete: bool

    def to_json(self) -> dict:
        return {
            "design": self.design,
            "reachable": self.reachable,
            "schedule": self.schedule or None,
            "violation": self.says or None,
            "states": self.states,
            "complete": self.complete,
        }


def seen(report: Report, design: str) -> Seen:
    """Search the report's scenario under `design` for its symptom."""
    res = bfs(System(load_design(design), load_scenario(report.scenario)), (report.prop,))
    f = res.findings.get(report.prop.name)
    sched, says = (f.trace.schedule, f.violation.says) if f else ("", "")
    return Seen(design, f is not None, sched, says, res.stats.states, res.stats.cut == 0)


def row(report: Report) -> dict:
    """The report on its release's design, the newest, and which built-in designs are free of it."""
    every = {d: seen(report, d) for d in builtin("design")}
    for d in (report.reported, report.newest):
        every.setdefault(d, seen(report, d))
    return {
        "report": report.number,
        "url": report.url,
        "scenario": report.scenario,
        "release": report.release,
        "symptom": report.symptom,
        "property": report.prop.name,
        "reported": every[report.reported].to_json(),
        "newest": every[report.newest].to_json(),
        "fixed_by": [d for d, s in every.items() if not s.reachable and s.complete],
    }


def _mark(s: dict) -> str:
    return f"yes ({s['schedule']})" if s["reachable"] else "no" + ("" if s["complete"] else " (within the bound)")


def table(rows: list[dict]) -> str:
    """The catalogue as a Markdown table."""
    out = [
        f"| report | symptom | reachable where reported | reachable on {NEWEST_RELEASE} | fixed by |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        rep, new = r["reported"], r["newest"]
        out.append(
            f"| #{r['report']} ({r['release']}) | {r['symptom']} | {rep['design']}: {_mark(rep)} "
            f"| {new['design']}: {_mark(new)} | {', '.join(r['fixed_by']) or 'none'} |"
        )
    return "\n".join(out)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def catalogue(as_json: bool) -> None:
    """Upstream's reports as built-in scenarios (issue-N): reachable where reported, on the newest release,
    and which designs fix them (docs/upstream-reports.md).

    Exit 1 when a report's symptom is reachable on the newest release, else 0.
    """
    rows = [row(r) for r in REPORTS]
    newest = any(r["newest"]["reachable"] for r in rows)
    if as_json:
        click.echo(json.dumps({"newest_release": NEWEST_RELEASE, "reports": rows}, indent=2))
    else:
        click.echo(table(rows))
    sys.exit(1 if newest else 0)
