"""A design as text edits of its release's bundled JavaScript, and picking the edits a design needs.

An `Edit` makes one knob take one value: a regular expression that must match exactly once in the
whole bundle (every JavaScript module together), and its replacement. `for_design` picks, for a
design and a release, the edits of every knob whose value differs from the release's own design,
in one fixed knob order so that combinations compose; `apply` applies them one after the other,
each anchor matched in the text as the earlier edits left it. A knob value with no edit for the
release is an error naming the knob, never a partly patched build.
"""

from __future__ import annotations

import re
from dataclasses import fields

from turnproof.conform import HarnessError
from turnproof.conform.build.edit import Edit
from turnproof.model.config import Design


class AnchorError(HarnessError):
    """An edit's anchor does not match exactly once: the release is not the code the edit was written for."""


# The design each release is (the model's faithful designs); a build starts from its release's values.
RELEASE_DESIGN = {"1.15.4": "v1.15.4", "1.18.34": "upstream-1.18.34"}

# The order edits are applied in: the loop's knobs first (they edit SessionPrompt.run; binding
# before exit, whose anchor takes the exit test as binding leaves it), then the runner's
# (SessionPrompt.prompt, the runner and the run-state map). Fixed, so combinations compose.
KNOB_ORDER = ("order", "binding", "exit", "guard", "overlap", "cancel", "on_idle", "runner_map", "engine", "delivery")


__all__ = ["Edit", "AnchorError", "for_design", "apply", "changed_knobs", "knobs"]


def knobs(design: Design) -> dict[str, str]:
    """The design's knob values by knob name."""
    return {f.name: getattr(design, f.name) for f in fields(Design) if f.name in KNOB_ORDER}


def all_edits() -> tuple[Edit, ...]:
    from turnproof.conform.build import edits_loop, edits_runner

    return edits_loop.EDITS + edits_runner.EDITS


def changed_knobs(design: Design, release: str) -> list[tuple[str, str]]:
    """(knob, value) of every knob where `design` differs from the release's own design, in KNOB_ORDER."""
    from turnproof.specs.loader import load_design

    if release not in RELEASE_DESIGN:
        known = ", ".join(RELEASE_DESIGN)
        raise HarnessError(
            f"--opencode-version {release}: no design describes it, so nothing can be patched (known: {known})"
        )
    mine, base = knobs(design), knobs(load_design(RELEASE_DESIGN[release]))
    return [(k, mine[k]) for k in KNOB_ORDER if mine[k] != base[k]]


# Knob values built only together with another knob's value (the change they stand for has both).
NEEDS = {("binding", "pinned"): ("exit", "parent")}  # PR #28488 ends the turn on parentID === pinned


def for_design(design: Design, release: str, catalogue: tuple[Edit, ...] | None = None) -> list[Edit]:
    """The edits that make `release` behave as `design`, in application order."""
    catalogue = all_edits() if catalogue is None else catalogue
    values = knobs(design)
    for (knob, value), (other, needed) in NEEDS.items():
        if values[knob] == value and values[other] != needed:
            raise HarnessError(
                f"design {design.name}: {knob} = {value} is built only with {other} = {needed} "
                f"(this one has {other} = {values[other]})"
            )
    out: list[Edit] = []
    for knob, value in changed_knobs(design, release):
        mine = [e for e in catalogue if e.knob == knob and e.value == value and release in e.releases]
        if not mine:
            raise HarnessError(
                f"design {design.name}: no edit makes opencode {release} take {knob} = {value}, so it cannot be built"
            )
        out += mine
    return out


def apply(modules: dict[str, str], edits: list[Edit]) -> dict[str, str]:
    """The JavaScript modules (name -> text) with `edits` applied in order; each anchor must match
    exactly once over all modules, in the text the earlier edits left. Raises AnchorError naming
    the knob, the edit and the anchor otherwise."""
    out = dict(modules)
    for e in edits:
        rx = re.compile(e.find)
        hits = [(name, m) for name, text in out.items() for m in rx.finditer(text)]
        if len(hits) != 1:
            anchor = e.find if len(e.find) <= 120 else e.find[:117] + "..."
            raise AnchorError(
                f"knob {e.knob} = {e.value}, edit {e.name}: anchor matches {len(hits)} times, not once: {anchor}"
            )
        name, m = hits[0]
        text = out[name]
        out[name] = text[: m.start()] + m.expand(e.replace) + text[m.end() :]
    return out
