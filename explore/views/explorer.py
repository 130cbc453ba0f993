"""The explorer page: a scenario's state space in one offline HTML file, driven by a learner.

As stateright's Explorer and the TLA+ Toolbox let a person browse states and choose the next
action, the page holds every reachable world of a design × scenario (or the first `max_states` of
them, breadth-first, and says so), each with its enabled fibers and the world each step leads to,
the step's narration (the words and opencode anchors `explain` uses), the message tree, the guard
and each property's status in that world. The shortest counterexample of every property and seed
shape comes from the real breadth-first search (explore/search/bfs.py); its worlds are embedded
even past the cap. A second design can be held beside the first (`compare`): the page replays the
learner's schedule on it. The page's script and style live in explorer.html (package data).
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.budget import Budget, OutOfBudget, default_max_bytes
from turnproof.explore.search.trace import Trace, guard, messages
from turnproof.explore.views.glossary import GLOSS, STEPS
from turnproof.explore.views.report import opencode_of
from turnproof.model.source import ref
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.properties import PROPERTIES, Property
from turnproof.specs.shapes import SHAPES

DEFAULT_MAX_STATES = 5000  # the page stays a few MB at most; every built-in scenario but idle-window fits
SEARCH_STATES = 500_000  # the bfs behind the counterexample jumps stops, saying so, past this many states
HOLDS, PENDING, ON_CYCLES = -1, -2, -3  # a world's status of a property; a number >= 0 is a violation's index
TEMPLATE = Path(__file__).with_name("explorer.html")


def checks() -> list[tuple[str, str, Property]]:
    """What the page judges: (name the page and the URL use, kind, property); shapes by their --shape name."""
    return [(p.name, "property", p) for p in PROPERTIES] + [(n, "shape", p) for n, p in SHAPES.items()]


@dataclass
class Space:
    """The embedded part of a state space: worlds numbered breadth-first as bfs numbers them."""

    system: System
    max_states: int
    worlds: list[World] = field(default_factory=list)
    index: dict[World, int] = field(default_factory=dict)
    truncated: bool = False  # a step led to a world past the cap that is not embedded

    def add(self, w: World) -> int:
        n = self.index.get(w)
        if n is None:
            n = self.index[w] = len(self.worlds)
            self.worlds.append(w)
        return n


def explore_space(system: System, max_states: int) -> Space:
    """Breadth-first from the initial world, numbering at most `max_states` worlds; a world past
    the scenario's bound is not explored (as in every search), and is not numbered."""
    space = Space(system, max_states)
    space.add(system.initial())
    frontier = deque([system.initial()])
    while frontier:
        for _, nxt in system.successors(frontier.popleft()):
            if system.bounded_out(nxt) or nxt in space.index:
                continue
            if len(space.worlds) >= max_states:
                space.truncated = True
                continue
            space.add(nxt)
            frontier.append(nxt)
    return space


def shortest(system: System) -> tuple[dict[str, Trace], dict]:
    """The shortest counterexample of every property and shape, by the real bfs, and what it searched."""
    named = checks()
    budget = Budget(SEARCH_STATES, None, default_max_bytes())
    try:
        res = bfs(system, tuple(p for _, _, p in named), progress=budget)
    except OutOfBudget as e:
        return {}, {"states": e.stats.states, "stopped": e.why}
    traces = {name: res.findings[p.name].trace for name, _, p in named if p.name in res.findings}
    says = {name: res.findings[p.name].violation.says for name, _, p in named if p.name in res.findings}
    s = res.stats
    return traces, {"states": s.states, "transitions": s.transitions, "cut": s.cut, "says": says}


class Tables:
    """Each distinct message, guard, fiber list, step narration and violation stored once."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {"msgs": [], "guards": [], "fibers": [], "events": [], "violations": []}
        self.seen: dict[str, dict] = {k: {} for k in self.rows}

    def put(self, table: str, value) -> int:
        key = json.dumps(value, sort_keys=True)
        n = self.seen[table].get(key)
        if n is None:
            n = self.seen[table][key] = len(self.rows[table])
            self.rows[table].append(value)
        return n


def world_json(space: Space, w: World, tables: Tables) -> dict:
    """One world: its steps (fiber, next world or why none, narration), messages, guard, fibers, statuses."""
    system = space.system
    succ = system.successors(w)
    steps = []
    for step, nxt in succ:
        target, why = space.index.get(nxt), ""
        if system.bounded_out(nxt):
            why = "bound"
        elif target is None:
            why = "cap"
        said = [tables.put("events", [e.says, str(ref(e.ref)), e.ref]) for e in step.events]
        steps.append([step.fiber, target, why, said])
    enabled = {f for f, *_ in steps}
    fibers = [[f.name, "can move" if f.name in enabled else "done" if f.ended else f"waits ({f.pc})"] for f in w.fibers]
    return {
        "e": steps,
        "m": [tables.put("msgs", m) for m in messages(w)],
        "g": tables.put("guards", guard(w)),
        "f": tables.put("fibers", fibers),
        "p": [status(p, w, not succ, tables) for _, _, p in checks()],
    }


def status(p: Property, w: World, quiescent: bool, tables: Tables) -> int:
    """HOLDS, PENDING (judged at rest, and a fiber can still move), ON_CYCLES (liveness), or the
    index of the violation: what it says and the labels of the messages it names."""
    if p.when == "liveness":
        return ON_CYCLES
    if p.when == "at_rest" and not quiescent:
        return PENDING
    v = p.check(w)
    if v is None:
        return HOLDS
    labels = [w.store.get(i).label for i in v.nodes if _has(w, i)]
    return tables.put("violations", [v.says, labels])


def _has(w: World, mid) -> bool:
    return any(m.id == mid for m in w.store.messages)


def space_json(space: Space, traces: dict[str, Trace]) -> dict:
    """The embedded space as data; the worlds of each counterexample are embedded even past the cap."""
    within = len(space.worlds)
    for t in traces.values():
        for w in [t.initial] + [w for _, w in t.steps]:
            space.add(w)
    tables = Tables()
    worlds = [world_json(space, w, tables) for w in space.worlds]
    d, sc = space.system.design, space.system.scenario
    return {
        "design": d.name,
        "scenario": sc.name,
        "opencode": opencode_of(d),
        "granularity": sc.granularity,
        "steps_are": STEPS.get(sc.granularity, STEPS["await"]),
        "max_messages": sc.max_messages,
        "max_states": space.max_states,
        "complete": not space.truncated,
        "explored": within,
        "worlds": worlds,
    } | tables.rows


def build(system: System, compare: System | None = None, max_states: int = DEFAULT_MAX_STATES) -> dict:
    """Everything the page embeds: the checks, their shortest counterexamples, and one or two spaces."""
    traces, searched = shortest(system)
    says = searched.pop("says", {})
    props = []
    for name, kind, p in checks():
        entry = {"name": name, "kind": kind, "when": p.when, "statement": " ".join(p.statement.split())}
        t = traces.get(name)
        if t is not None:
            entry["cx"] = {"schedule": [s.fiber for s, _ in t.steps], "violation": says[name]}
            if t.cycle_from is not None:
                entry["cx"]["cycle_from"] = t.cycle_from + 1
        props.append(entry)
    spaces = [space_json(explore_space(system, max_states), traces)]
    if compare is not None:
        spaces.append(space_json(explore_space(compare, max_states), {}))
    start = next((p["name"] for p in props if "cx" in p), None)
    return {"props": props, "search": searched, "spaces": spaces, "gloss": GLOSS, "start": start}


def write_explorer(doc: dict, path: Path) -> None:
    """Write the page whole: a temporary file beside `path`, then renamed over it."""
    a = doc["spaces"][0]
    title = f"explore {a['design']} × {a['scenario']}"
    if len(doc["spaces"]) > 1:
        title += f" (beside {doc['spaces'][1]['design']})"
    page = TEMPLATE.read_text(encoding="utf-8").replace("__TITLE__", html.escape(title))
    page = page.replace("__DATA__", json.dumps(doc, separators=(",", ":")).replace("<", "\\u003c"))  # inert in <script>
    path.parent.mkdir(parents=True, exist_ok=True)  # (an OSError is the caller's to word: cli/explore.py)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary new file (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
