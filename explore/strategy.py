"""Which search `turnproof check` runs: bfs (the reference), dpor, sleep, random, or auto.

Every strategy has one shape, `(system, properties, options) -> Result`, and `STRATEGIES` names
them; `Options` carries what a user asked beside the name, so no caller threads a dozen values.

auto runs dpor, the fastest of the sound searches on the built-ins and the scaling series
(bench/run.py measures it), for the verdict; where it finds violations, a breadth-first search
that stops once it has them all replaces its traces by the shortest ones. bfs runs instead where
it is needed: --minimize, --state-graph and --preemptions work on bfs's whole graph, and when
dpor cannot judge a property (loop-terminates, when the bound cut steps and the reduced graph
holds no lasso) bfs runs instead, so auto never leaves a property unjudged.

Where the scenario has enough interchangeable prompts (a renaming group of order at least
AUTO_SYMMETRY, explore/scale/symmetry.py), auto runs the same two searches over their orbits:
dpor over the orbits for the verdict, then bfs over the orbits for the shortest traces; where
that dpor cannot judge loop-terminates, one bfs over the orbits judges everything. The
statistics say how many plain-model states the explored orbits stand for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

from turnproof.explore.scale.options import Scale
from turnproof.explore.scale.options import run as scaled_bfs
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.result import Observer, Progress, Result
from turnproof.model.system import System
from turnproof.specs.properties import Property

# Measured (docs/scale.md, bench/run.py's reach): with two interchangeable prompts the orbits and
# `reduced` are within milliseconds of each other on the built-ins, so auto keeps `reduced` there
# (and the built-in pairs' outputs); from three (order 3! = 6) the orbits win (4 prompt sources:
# one bfs over the orbits 0.55 s against 1.32 s when violated; dpor over them, then bfs for the
# traces, 0.35 s), and the gap grows with every source.
AUTO_SYMMETRY = 6


class InvalidOptions(ValueError):
    """Options that do not go together, or an option that needs bfs given with another strategy."""


@dataclass(frozen=True, kw_only=True)
class Options:
    """What the user asked of the search, beside the strategy's name (by keyword only: a reordered
    field cannot swap two values)."""

    runs: int = 1000  # random: schedules per property
    seed: int = 0  # random: hypothesis's seed
    preemptions: int | None = None  # bfs: only schedules with at most this many preemptions
    minimize: bool = False  # bfs: the minimal trace per property (explore/search/minimize.py)
    state_graph: Observer | None = None  # bfs: a StateGraph observer to fill
    progress: Progress | None = None  # called now and then with (stats, depth); see explore/search/budget.py
    scale: Scale | None = None  # bfs: fingerprints, symmetry, workers, engine
    # How the caller names each option (field name -> words; a command line says its flags), in
    # the reasons given for a refusal and in `chosen_by`; an option not named is said by its field.
    names: Mapping[str, str] = field(default_factory=dict, compare=False)

    def said(self, option: str) -> str:
        """How the caller names an option: "engine dask" is the engine option given as dask."""
        name, _, value = option.partition(" ")
        return f"{self.names.get(name, name)} {value}".strip()

    def needs_bfs(self) -> str:
        """The first option given that only bfs serves, as `said` names it, or ""."""
        given = {"minimize": self.minimize, "state_graph": self.state_graph is not None}
        given["preemptions"] = self.preemptions is not None
        first = next((name for name, on in given.items() if on), "") or (self.scale.given if self.scale else "")
        return self.said(first) if first else ""

    def invalid(self, strategy: str) -> str:
        """Why these options cannot run with this strategy, or "": the one place options are
        judged together (`search` refuses what it names; a command line asks first)."""
        n, scale = self.said, self.scale or Scale()
        scaling = ", ".join(n(f) for f in ("fingerprint", "symmetry", "workers", "engine"))
        if scale.scheduler and scale.engine != "dask":
            return f"{n('scheduler')} needs {n('engine dask')}"
        if scale.given and self.preemptions is not None:
            return f"{scaling} and {n('memory')} do not combine with {n('preemptions')}"
        observed = self.minimize or self.state_graph is not None
        if scale.given and observed and (scale.fingerprint or scale.symmetry or scale.partitioned):
            return f"{n('minimize')} and {n('state_graph')} need the plain search (no {scaling})"
        option = self.needs_bfs()
        if option == n("symmetry") and strategy == "dpor" and not replace(scale, symmetry=False).given:
            option = ""  # --symmetry alone serves dpor too: dpor over the orbits
        if option and strategy not in ("auto", "bfs"):
            return f"{option} needs {n('strategy bfs')} (or auto), not {strategy}"
        return ""


Strategy = Callable[[System, tuple[Property, ...], Options], Result]


def search(system: System, properties: tuple[Property, ...], strategy: str = "auto", options: Options = Options()):
    """Run the named strategy; options that `Options.invalid` refuses are InvalidOptions."""
    why = options.invalid(strategy)
    if why:
        raise InvalidOptions(why)
    return STRATEGIES[strategy](system, properties, options)


def auto(system: System, properties: tuple[Property, ...], options: Options) -> Result:
    """`reduced` over the orbits where prompts are interchangeable enough, else `reduced`; plain
    bfs where an option needs it."""
    option = options.needs_bfs()
    if option:
        return plain(system, properties, options, chosen_by=f"auto: {option} needs bfs")
    return _orbits(system, properties, options) or reduced(system, properties, options)


def reduced(system: System, properties: tuple[Property, ...], options: Options) -> Result:
    """dpor for the verdict, then bfs for the shortest traces; plain bfs where dpor cannot judge."""
    res = dpor(system, properties, options, _until(properties))  # (then bfs finds the shortest traces)
    if not res.unjudged:
        res.chosen_by = "auto"
        return _shortest(res, options.progress)
    why = f"auto, after dpor could not judge {', '.join(res.unjudged)}"
    rest = Options(progress=options.progress, scale=options.scale, names=options.names)
    return plain(system, properties, rest, chosen_by=why)


def searches_orbits(system: System, options: Options) -> bool:
    """Whether auto, given these inputs, searches the orbits of interchangeable prompts."""
    from turnproof.explore.scale.symmetry import Symmetry

    return not options.needs_bfs() and system.name_blind and Symmetry(system.scenario).size >= AUTO_SYMMETRY


def _orbits(system: System, properties: tuple[Property, ...], options: Options) -> Result | None:
    """`reduced`, over the orbits of interchangeable prompts, where the group is large enough to pay."""
    from turnproof.explore.scale.symmetry import Quotient, symmetric_bfs, symmetric_dpor

    if not searches_orbits(system, options):
        return None
    until = _until(properties)
    q = Quotient.of(system)  # one for both searches: the second starts with the first's memos
    res = symmetric_dpor(system, properties, options.progress, until=until, quotient=q)
    groups = "; ".join(", ".join(g) for g in res.stats.symmetry["groups"])
    alike = f"auto: prompts {groups} are interchangeable"
    if res.unjudged:
        why = ", ".join(res.unjudged)
        res = symmetric_bfs(system, properties, options.progress, until=until, quotient=q)
        res.chosen_by = f"{alike}; dpor over their orbits could not judge {why}, so bfs over them"
        return res
    stops = ", which stops once every property asked is violated" if until else ""
    res.chosen_by = f"{alike}: dpor over their orbits{stops}, then bfs over them for the shortest traces"
    return _shortest(res, options.progress, partial(symmetric_bfs, quotient=q, count=False))


def _until(properties: tuple[Property, ...]) -> frozenset:
    """Safety properties only: a search may stop once all are violated (the verdict is then known)."""
    return frozenset(p.name for p in properties) if all(p.when != "liveness" for p in properties) else frozenset()


def dpor(system: System, properties: tuple[Property, ...], options: Options, until: frozenset = frozenset()) -> Result:
    """dpor; over the orbits of interchangeable prompts with --symmetry."""
    if options.scale is not None and options.scale.symmetry:
        from turnproof.explore.scale.symmetry import symmetric_dpor

        return symmetric_dpor(system, properties, options.progress, until=until)
    from turnproof.explore.search.dpor import dpor_search

    return dpor_search(system, properties, options.progress, until=until)


def sleep(system: System, properties: tuple[Property, ...], options: Options) -> Result:
    from turnproof.explore.search.sleep import sleep_search

    return sleep_search(system, properties, options.progress)


def random(system: System, properties: tuple[Property, ...], options: Options) -> Result:
    from turnproof.explore.search.random_search import random_search

    return random_search(system, properties, options.runs, options.seed)


def plain(system: System, properties: tuple[Property, ...], options: Options, chosen_by: str = "") -> Result:
    """bfs, or preemption-bounded bfs; with the minimal-trace and state-graph observers asked for."""
    if options.preemptions is not None:
        from turnproof.explore.search.bounded import bfs_preemptions

        res = bfs_preemptions(system, properties, options.preemptions, options.progress)
    else:
        from turnproof.explore.search.minimize import ShortestPaths

        observers = (ShortestPaths(),) if options.minimize else ()
        observers += (options.state_graph,) if options.state_graph is not None else ()
        if options.scale is not None:
            res = scaled_bfs(system, properties, options.progress, observers, options.scale)
        else:
            res = bfs(system, properties, progress=options.progress, observers=observers)
    res.chosen_by = chosen_by
    return res


def _shortest(res: Result, progress=None, breadth_first=bfs) -> Result:
    """Replace a reduced search's counterexamples by the shortest ones: breadth-first (over the
    orbits, given symmetric_bfs), stopping once each violated property has its shortest violation
    (lassos are kept as found)."""
    names = frozenset(n for n, f in res.findings.items() if f.trace.lasso is None)
    if not names:
        return res
    props = tuple(p for p in res.properties if p.name in names)
    short = breadth_first(res.system, props, progress=progress, until=names)
    res.findings |= {n: short.findings[n] for n in names}
    s = short.stats
    res.shortest = {"states": s.states, "transitions": s.transitions, "max_depth": s.max_depth, "seconds": s.seconds}
    return res


STRATEGIES: dict[str, Strategy] = {"auto": auto, "bfs": plain, "dpor": dpor, "sleep": sleep, "random": random}
