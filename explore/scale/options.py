"""How far a breadth-first check reaches: fingerprints, symmetry, worker processes, Dask.

`run` picks the search for the options of `turnproof check` (strategy bfs):
  sequential bfs                    the default, and whatever --minimize/--state-graph need
  + --fingerprint                   visited set of 64-bit fingerprints, traces replayed
  + --symmetry                      one world per orbit of interchangeable prompts
  --workers N (N > 1)               partitioned search over N processes of this machine
  --engine dask [--scheduler ADDR]  the same partitions as Dask actors (embedded LocalCluster
                                    without an address)
  --workers auto                    sequential below AUTO_MIN_CORES cores; else a partitioned
                                    search that starts in this process and moves to every core
                                    once AUTO_STATES states are stored
Every one of them gives the verdicts and state/transition counts of the sequential search.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from turnproof.explore.search import memory
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.result import Result
from turnproof.specs.loader import InputError

# Measured on a 2-core machine (docs/scale.md): two worker processes do not reliably beat one
# process there, so `auto` stays sequential below 4 cores.
AUTO_MIN_CORES = 4
AUTO_STATES = 20_000


@dataclass(frozen=True, kw_only=True)
class Scale:
    """How a breadth-first search runs (by keyword only: a reordered field cannot swap two values);
    which of them go together is judged with the other options (explore/strategy.py, Options.invalid)."""

    fingerprint: bool = False
    symmetry: bool = False
    workers: int | None = 1  # None: auto
    engine: str = "local"
    scheduler: str | None = None
    memory: bool = False

    @property
    def partitioned(self) -> bool:
        return self.engine == "dask" or (self.workers or 0) > 1

    @property
    def given(self) -> str:
        """The first option given that changes how bfs runs (only bfs serves them), or "": its
        field's name ("engine dask" for the Dask engine)."""
        options = {
            "fingerprint": self.fingerprint,
            "symmetry": self.symmetry,
            "workers": (self.workers or 0) > 1,
            "engine dask": self.engine == "dask",
            "memory": self.memory,
        }
        return next((name for name, on in options.items() if on), "")


def run(system, properties, progress, observers: tuple, scale: Scale) -> Result:
    """Run the breadth-first search these options ask for (under tracemalloc with `memory`)."""
    if scale.memory:
        with memory.traced():
            return _run(system, properties, progress, observers, scale)
    return _run(system, properties, progress, observers, scale)


def _run(system, properties, progress, observers: tuple, scale: Scale) -> Result:
    from turnproof.explore.scale.engines import Dask, EngineError, Growing, Local

    engine = None
    if scale.engine == "dask":
        engine = Dask(scale.workers, scale.scheduler)
    elif scale.workers is None and not observers and (os.cpu_count() or 1) >= AUTO_MIN_CORES:
        engine = Growing(os.cpu_count() or 1, AUTO_STATES)
    elif (scale.workers or 1) > 1:
        engine = Local(scale.workers)
    if engine is not None:
        from turnproof.explore.scale.partition import partitioned_bfs

        try:
            return partitioned_bfs(system, properties, engine, progress, scale.symmetry)
        except EngineError as e:
            raise InputError(str(e)) from None
    if scale.symmetry:
        from turnproof.explore.scale.symmetry import symmetric_bfs

        return symmetric_bfs(system, properties, progress, scale.fingerprint)
    return bfs(system, properties, progress, observers, scale.fingerprint)
