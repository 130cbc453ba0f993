"""A design and a scenario together: the initial world and the successor relation.

This is the model in the sense of stateright's `Model`: checkers in `explore/` only call
`initial`, `successors` and `apply`, and never look inside a fiber.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.model.config import Design, Scenario
from turnproof.model.fibers import WAITS, Step, enabled
from turnproof.model.footprint import Footprint, Watched, split, written
from turnproof.model.inbox import step  # the design's engine: legacy steps, or the V2 inbox's
from turnproof.model.session_input import Inbox
from turnproof.model.world import Fiber, World

BOUND = ("bound",)  # pseudo-location: a step past the bound writes it, every step reads it


@dataclass(frozen=True)
class System:
    design: Design
    scenario: Scenario

    # No step, and no choice of which fibers may move, looks at a prompt's name: renaming
    # interchangeable prompts maps the model onto itself (explore/scale/symmetry.py relies on it).
    # A subclass whose `enabled` picks fibers by name or place sets it False.
    name_blind = True

    def initial(self) -> World:
        """Every scenario prompt is a client fiber about to send (or first to mint its messageID,
        `Scenario.mints_apart`); no runner exists yet."""
        sc = self.scenario
        fibers = tuple(
            Fiber(p.name, "client", pc, prompt=p.name, instance=p.instance, route=route, no_reply=p.no_reply)
            for p in sc.prompts
            for route, pc in ((self._route(p.route), "mint" if sc.mints_apart(p) else "send"),)
        )
        return World(
            maps=(None,) * self.scenario.instances, fibers=fibers, inbox=Inbox(on=self.design.engine == "inbox")
        )

    def _route(self, route: str) -> str:
        """On the legacy engine a V2 request is what the web app's V1 adapter sends instead."""
        if self.design.engine == "legacy":
            return {"v2": "prompt_async", "interrupt": "abort"}.get(route, route)
        return route

    def enabled(self, w: World) -> list[Fiber]:
        return [f for f in w.fibers if enabled(self.scenario, w, f)]

    def successors(self, w: World) -> list[tuple[Step, World]]:
        """One successor per enabled fiber: the schedule is the only nondeterminism."""
        # (through self.enabled: a subclass narrows it, as conform's Eager does)
        design, scenario = self.design, self.scenario
        return [step(design, scenario, w, f) for f in self.enabled(w)]

    def apply(self, w: World, fiber: str) -> tuple[Step, World]:
        """Run the named fiber one step (for replaying a schedule); ValueError if it cannot move."""
        for f in self.enabled(w):
            if f.name == fiber:
                return step(self.design, self.scenario, w, f)
        raise ValueError(
            f"fiber {fiber} cannot move here (enabled: {', '.join(f.name for f in self.enabled(w)) or 'none'})"
        )

    def moves(self, w: World) -> list[tuple[Step, World, Footprint]]:
        """Like `successors`, each step with its footprint in `w`: what it read (its fiber's
        enabledness included) and what it changed. A step into a world past the bound also writes
        BOUND, which every step reads: the search does not go on from there, so it commutes with
        nothing."""
        # (through self.enabled, as `successors`: a subclass narrows it)
        out = []
        design, scenario = self.design, self.scenario
        for f in self.enabled(w):
            reads = {("fiber", f.name), BOUND}
            watched = Watched(w, reads)
            if f.pc in WAITS:  # only a wait's enabledness reads the world: again, watched, to note it
                enabled(scenario, watched, f)
            st, after = step(design, scenario, watched, f)
            nxt = after.world
            reads, clears = split(reads)
            writes = written(w, nxt) - clears
            if self.bounded_out(nxt):
                writes |= {BOUND}
            out.append((st, nxt, Footprint(reads, writes, clears)))
        return out

    def quiescent(self, w: World) -> bool:
        return not self.enabled(w)

    # What `bounded_out` reads, as footprint location kinds: a step that writes one is visible to the
    # reduced searches, like a step that writes what a property reads (tested on every world).
    bound_reads = ("messages",)

    def bounded_out(self, w: World) -> bool:
        """Past the scenario's bound: not explored further, and reported as cut."""
        return w.store.size() > self.scenario.max_messages
