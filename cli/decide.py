"""What a review decides: the design × property matrix, and the knob values that would fix each
property still broken, read from the designs reviewed.

The matrix counts, per design and property, the scenarios that violate it: the first thing a
reviewer reads. A fix is read from the matrix alone: the knob values every design that holds a
property shares, and which of them every design that breaks it lacks. It is evidence over the
designs reviewed, not a proof: a value no reviewed design varies cannot show up.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.model.config import KNOBS, Design
from turnproof.specs.inbox import promised
from turnproof.specs.properties import PROPERTIES


def counts(cells) -> dict[str, dict[str, int]]:
    """{design: {property: scenarios that violate it}}, in the order reviewed."""
    out: dict[str, dict[str, int]] = {}
    for c in cells:
        row = out.setdefault(c.design.name, {p.name: 0 for p in PROPERTIES})
        for name in c.result.findings:
            if name in row:
                row[name] += 1
    return out


def _wrapped(name: str, width: int) -> list[str]:
    """A property name in lines of at most `width`, cut after its hyphens (so every part is seen)."""
    lines = [""]
    for part in name.replace("-", "- ").split(" "):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return lines


def matrix_text(cells) -> list[str]:
    """The compact matrix for a terminal: full property names, wrapped at their hyphens."""
    table = counts(cells)
    designs = {c.design.name: c.design for c in cells}
    scenarios = len({c.scenario.name for c in cells})
    names = [p.name for p in PROPERTIES]
    width = 13  # the longest part of a property name ("serialization")
    heads = [_wrapped(n, width) for n in names]
    depth = max(len(h) for h in heads)
    first = max(len("design"), *(len(d) for d in table))
    lines = [f"scenarios violated, of {scenarios} reviewed (· none; (n) a property the design does not promise):"]
    for row in range(depth):
        label = "design" if row == depth - 1 else ""
        cols = [(h[row] if row < len(h) else "").ljust(width) for h in heads]
        lines.append(f"{label.ljust(first)}  " + " ".join(cols).rstrip())
    for d, row in table.items():
        cols = [_cell(designs[d], n, row[n]).ljust(width) for n in names]
        lines.append(f"{d.ljust(first)}  " + " ".join(cols).rstrip())
    return lines


def _cell(design: Design, prop: str, n: int) -> str:
    text = str(n) if n else "·"
    return text if promised(design, prop) else f"({text})"


def matrix_markdown(cells, page: dict[tuple[str, str], str]) -> list[str]:
    """The compact matrix as a Markdown table; a violated cell links the step-through page of the
    design's shortest counterexample of that property (`page[(design, property)]`)."""
    table = counts(cells)
    designs = {c.design.name: c.design for c in cells}
    names = [p.name for p in PROPERTIES]
    lines = ["| design | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for d, row in table.items():
        marks = []
        for n in names:
            mark = _cell(designs[d], n, row[n])
            marks.append(f"[{mark}]({page[(d, n)]})" if (d, n) in page else mark)
        lines.append(f"| {d} | " + " | ".join(marks) + " |")
    return lines


@dataclass(frozen=True)
class Fix:
    """For one property some reviewed design breaks: what the designs that hold it share."""

    prop: str
    fewest: tuple[tuple[str, int], ...]  # with no holder: the designs violating it on the fewest scenarios
    holders: tuple[str, ...]  # designs that hold it on every scenario reviewed
    breakers: tuple[str, ...]  # designs that violate it on at least one
    shared: tuple[str, ...]  # knob=value every holder has and some breaker lacks
    decisive: tuple[str, ...]  # of those, the ones every breaker lacks
    covered: bool  # every breaker lacks at least one shared value (the shared set separates them)


def fixes(cells) -> list[Fix]:
    """Per property still broken by a design reviewed, the knob values the matrix says would fix it."""
    table = counts(cells)
    designs = {c.design.name: c.design for c in cells}
    out = []
    for p in PROPERTIES:
        judged = [d for d in table if promised(designs[d], p.name)]  # (steer does not promise two)
        breakers = tuple(d for d in judged if table[d][p.name])
        if not breakers:
            continue
        holders = tuple(d for d in judged if not table[d][p.name])
        values = [_values(designs[d]) for d in holders]
        shared = tuple(v for v in _ordered(values[0]) if all(v in other for other in values[1:])) if values else ()
        lacking = [set(shared) - _values(designs[d]) for d in breakers]
        decisive = tuple(v for v in shared if all(v in lack for lack in lacking))
        telling = tuple(v for v in shared if any(v in lack for lack in lacking))  # some breaker lacks it
        least = min(table[d][p.name] for d in breakers)
        fewest = tuple((d, least) for d in breakers if table[d][p.name] == least) if not holders else ()
        out.append(Fix(p.name, fewest, holders, breakers, telling, decisive, bool(shared) and all(lacking)))
    return out


def _values(d: Design) -> set[str]:
    return {f"{k}={getattr(d, k)}" for k in KNOBS}


def _ordered(values: set[str]) -> list[str]:
    """knob=value strings in the order of KNOBS (model/config.py)."""
    order = {k: i for i, k in enumerate(KNOBS)}
    return sorted(values, key=lambda v: order[v.split("=")[0]])


def fixes_text(found: list[Fix], scenarios: int) -> list[str]:
    """Each fix in a sentence or two (`scenarios`: how many were reviewed)."""
    if not found:
        return []
    lines = ["what would fix each property still broken (read from the designs reviewed):"]
    for f in found:
        if not f.holders:
            closest = ", ".join(d for d, _ in f.fewest)
            lines.append(
                f"  {f.prop}: no design reviewed holds it on every scenario, so none shows a fix; the closest: "
                f"{closest} ({f.fewest[0][1]} of {scenarios})"
            )
            continue
        held = f"held by {', '.join(f.holders)}"
        if len(f.decisive) == 1:
            value = f.decisive[0]
            has = "they all have" if len(f.holders) > 1 else "it has"
            lines.append(f"  {f.prop}: {held}; {has} {value}, and every design that breaks it lacks {value}")
        elif f.decisive:
            lines.append(
                f"  {f.prop}: {held}; {'they all have' if len(f.holders) > 1 else 'it has'} "
                f"{', '.join(f.decisive)}, and every design that breaks it "
                "lacks each of these: the designs reviewed do not tell which one fixes it (review a design "
                "that changes one of them)"
            )
        elif f.covered:
            lines.append(
                f"  {f.prop}: {held}, {'which share' if len(f.holders) > 1 else 'with'} {', '.join(f.shared)}; "
                "every design that breaks it lacks at "
                "least one of these, no single value alone"
            )
        else:
            lines.append(
                f"  {f.prop}: {held}; a design that breaks it has every knob value they share: "
                "the knobs reviewed do not explain it"
            )
    return lines


def fixes_json(found: list[Fix]) -> list[dict]:
    return [
        {
            "property": f.prop,
            "held_by": list(f.holders),
            "broken_by": list(f.breakers),
            "shared": list(f.shared),
            "decisive": list(f.decisive),
            "closest": [d for d, _ in f.fewest],
        }
        for f in found
    ]
