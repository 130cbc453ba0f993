"""Which search `turnproof check` runs: bfs (the reference), dpor, sleep, random, or auto.

auto runs dpor, the fastest of the sound searches on the built-ins and the scaling series
(bench/run.py measures it), for the verdict; where it finds violations, a breadth-first search
that stops once it has them all replaces its traces by the shortest ones. bfs runs instead where
it is needed: --minimize, --state-graph and --preemptions work on bfs's whole graph, and when
dpor cannot judge a property (loop-terminates, when the bound cut steps and the reduced graph
holds no lasso) bfs runs instead, so auto never leaves a property unjudged.
"""

from __future__ import annotations

from explore.bfs import Result, bfs
from model.system import System
from specs.properties import Property

STRATEGIES = ("auto", "bfs", "dpor", "sleep", "random")


class NeedsBfs(ValueError):
    """An option that needs bfs was given with another strategy."""


def needs_bfs(minimize: bool, state_graph: bool, preemptions: int | None) -> str:
    """The first option given that only bfs serves, or ""."""
    given = {"--minimize": minimize, "--state-graph": state_graph, "--preemptions": preemptions is not None}
    return next((name for name, on in given.items() if on), "")


def search(
    system: System,
    properties: tuple[Property, ...],
    strategy: str,
    *,
    runs: int = 1000,
    seed: int = 0,
    preemptions: int | None = None,
    minimize: bool = False,
    state_graph=None,
    progress=None,
    scale=None,
) -> Result:
    """Run the chosen search; `state_graph` is a StateGraph observer to fill (bfs only); `scale`
    (explore/scale.py) says how bfs runs: fingerprints, symmetry, workers, engine."""
    option = needs_bfs(minimize, state_graph is not None, preemptions) or (scale.given if scale else "")
    if option and strategy not in ("auto", "bfs"):
        raise NeedsBfs(f"{option} needs --strategy bfs (or auto), not {strategy}")
    if strategy == "auto":
        if option:
            why = f"auto: {option} needs bfs"
            return _plain(system, properties, preemptions, minimize, state_graph, progress, why, scale)
        from explore.dpor import dpor_search

        res = dpor_search(system, properties, progress)
        if not res.unjudged:
            res.chosen_by = "auto"
            return _shortest(res, progress)
        why = f"auto, after dpor could not judge {', '.join(res.unjudged)}"
        return _plain(system, properties, None, False, None, progress, why, scale)
    if strategy == "dpor":
        from explore.dpor import dpor_search

        return dpor_search(system, properties, progress)
    if strategy == "sleep":
        from explore.sleep import sleep_search

        return sleep_search(system, properties)
    if strategy == "random":
        from explore.random_search import random_search

        return random_search(system, properties, runs, seed)
    return _plain(system, properties, preemptions, minimize, state_graph, progress, "", scale)


def _shortest(res: Result, progress=None) -> Result:
    """Replace a reduced search's counterexamples by the shortest ones: breadth-first, stopping
    once each violated property has its shortest violation (lassos are kept as found)."""
    names = frozenset(n for n, f in res.findings.items() if f.trace.lasso is None)
    if not names:
        return res
    props = tuple(p for p in res.properties if p.name in names)
    short = bfs(res.system, props, progress=progress, until=names)
    res.findings |= {n: short.findings[n] for n in names}
    s = short.stats
    res.shortest = {"states": s.states, "transitions": s.transitions, "max_depth": s.max_depth, "seconds": s.seconds}
    return res


def _plain(system, properties, preemptions, minimize, state_graph, progress, chosen_by: str, scale=None) -> Result:
    """bfs, or preemption-bounded bfs; with the minimal-trace and state-graph observers asked for."""
    if preemptions is not None:
        from explore.bounded import bfs_preemptions

        res = bfs_preemptions(system, properties, preemptions)
    else:
        from explore.minimize import ShortestPaths

        observers = ((ShortestPaths(),) if minimize else ()) + ((state_graph,) if state_graph is not None else ())
        if scale is not None:
            from explore import scale as scaling

            res = scaling.run(system, properties, progress, observers, scale)
        else:
            res = bfs(system, properties, progress=progress, observers=observers)
    res.chosen_by = chosen_by
    return res
