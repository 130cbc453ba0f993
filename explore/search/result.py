"""What every search returns: its statistics, its findings, and the observer hook.

Shared by all strategies (bfs, dpor, sleep, random, the partitioned and symmetric searches) so
that none of them imports another to name its result, and liveness can observe bfs without a
circle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from turnproof.explore.search.trace import Trace
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.properties import Property, Violation


@dataclass
class Stats:
    states: int = 0  # distinct worlds reached (the initial one included)
    transitions: int = 0  # steps taken, counting those into already-visited worlds
    max_depth: int = 0
    quiescent: int = 0  # distinct worlds where no fiber can move
    cut: int = 0  # steps into worlds past the scenario's bound, not explored
    seconds: float = 0.0
    bytes_per_state: float | None = None  # traced memory kept by the search per state (when measured)
    peak_bytes: int | None = None  # traced peak during the search (when measured)
    fingerprint_bits: int | None = None  # the visited set held fingerprints of this many bits
    symmetry: dict | None = None  # groups, and the plain-model states the orbits stand for
    workers: int = 1  # processes that expanded states
    engine: str | None = None  # "local" (processes on this machine) or "dask", for partitioned search


@dataclass(frozen=True)
class Finding:
    prop: Property
    violation: Violation
    trace: Trace


@dataclass
class Result:
    system: System
    properties: tuple[Property, ...]
    findings: dict[str, Finding] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    minimal: dict = field(default_factory=dict)  # property -> explore.minimize.Minimal, with --minimize
    strategy: str = "bfs"
    preemption_bound: int | None = None  # set when only schedules with at most this many were explored
    random: dict = field(default_factory=dict)  # runs, schedules, seed, budget (strategy "random")
    unjudged: dict = field(default_factory=dict)  # property -> why this search could not judge it
    search: dict = field(default_factory=dict)  # what a reduced search pruned and why (JSON stats.reduction)
    chosen_by: str = ""  # set when --strategy auto picked this strategy: how it chose
    shortest: dict = field(default_factory=dict)  # auto: the bfs that shortened the traces (its stats)

    @property
    def holds(self) -> bool:
        """Every property judged and none violated (a property not judged never counts as holding)."""
        return not self.findings and not self.unjudged

    @property
    def verdict(self) -> str:
        return "violated" if self.findings else "undecided" if self.unjudged else "holds"

    @property
    def complete(self) -> bool:
        """True when the bound cut nothing: "holds" is then a proof for the scenario as a whole."""
        return self.strategy in ("bfs", "sleep", "dpor") and self.preemption_bound is None and self.stats.cut == 0


Progress = Callable[[Stats, int], Exception | None]  # None: go on; else the search raises it (a spent budget)


class Observer:
    """Sees the search as it runs (explored worlds, every transition), then the finished result.

    The liveness check, the minimal-trace search and the state-graph export are observers, so
    the breadth-first search itself stays one small loop.
    """

    def seen(self, w: World) -> None:
        """An explored world (not cut by the bound)."""

    def edge(self, w: World, step, nxt: World, depths: tuple[int, int | None]) -> None:
        """A transition; depths are (depth of w, depth of nxt or None when nxt was cut)."""

    def done(self, result: Result, parents: dict, depth: dict) -> None:
        """The search is over. With fingerprints, parents and depth are keyed by fingerprint."""
