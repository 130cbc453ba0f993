"""Non-termination as a lasso: a reachable cycle the prompt loop can go round for ever.

Concrete worlds only grow (ids, write counters, ever more assistants), so no concrete state
repeats. `abstract` forgets exactly what only grows and cannot change what happens next:
ids become ranks (with how far a client id is still ahead of the server clock), write order
becomes ranks, and terminal replies beyond the newest `keep` under one parent are dropped.
A cycle of abstract states that contains a loop iteration, and is fair to every fiber that
stays enabled on it, is a run in which the loop never ends; it is replayed concretely and
reported as prefix + cycle.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import networkx as nx
from turnproof.explore.search.fingerprint import digest
from turnproof.explore.search.result import Finding, Observer
from turnproof.explore.search.trace import Trace, path_to, replay_path
from turnproof.model import steps, values
from turnproof.model.store import ASSISTANT, Message
from turnproof.model.values import field_names
from turnproof.model.world import World
from turnproof.specs.properties import Violation

KEEP = 1  # terminal replies kept per parent by the abstraction (enough for what comes next)


def abstract(w: World, system, keep: int = KEEP) -> tuple:
    """A canonical value equal for two worlds whose futures are the same up to renaming."""
    return Abstraction(system, keep)(w)


class Abstraction:
    """`abstract` for the many worlds of one search, with what they share computed once.

    A search meets tens of thousands of worlds but only a few hundred stores (a step of a fiber
    that does not write leaves the store as it was): the messages' part of the abstraction, with
    the ranks the fibers' part reads, is kept per (store, pinned ids, clock reading, horizon).
    `key` is equal for two worlds exactly when `abstract` is, and cheaper to hash (the messages'
    part is a number here); it names abstract states within one process only. `memo=False` keeps
    no store (a search that keeps no world, only fingerprints, should not keep their stores).
    """

    def __init__(self, system, keep: int = KEEP, memo: bool = True):
        sc = system.scenario
        self.system, self.keep = system, keep
        self.cap = sc.max_messages + len(sc.prompts)  # more ids than the bound lets the server mint
        self.stores: dict | None = {} if memo else None  # (store, pinned, now, horizon) -> _Messages
        self.objects: dict = {}  # id(store) -> (store, {(pinned, now, horizon) -> _Messages})
        self.owns: dict = {}  # fiber -> `_fiber_own` of it
        self.numbers: dict = {}  # messages' part -> its number (for `key`)
        self.clocks: dict = {}  # clock -> (id tick now, ids to mint before a jump)
        self.horizons: dict = {}  # prompts sent -> horizon

    def __call__(self, w: World) -> tuple:
        part, rest = self._parts(w)
        return (part.msgs, *rest)

    def key(self, w: World) -> tuple:
        if self.stores is None:
            raise ValueError("Abstraction.key needs memo=True: its numbers are the memo's")
        part, rest = self._parts(w)
        return (part.number, *rest)

    def _parts(self, w: World) -> tuple:
        clock = self.clocks.get(w.clock)
        if clock is None:
            server = self.system.scenario.server
            clock = self.clocks[w.clock] = (server.id_tick(w.clock), server.jump_ahead(w.clock))
        now, jump = clock
        horizon = self.horizons.get(w.sent)
        if horizon is None:
            horizon = self.horizons[w.sent] = _horizon(w, self.system)
        fibers, store = w.fibers, w.store
        pinned = frozenset([f.msg for f in fibers] + [f.user for f in fibers] + [t.user for t in w.turns])
        if self.stores is None:
            part = self._messages(store.messages, pinned, now, horizon)
            fs = tuple(self._fiber(f, part, now, horizon) for f in fibers)
        else:
            # by the store object first (most worlds share theirs with a neighbour), then by value
            mine = self.objects.get(id(store))
            if mine is None or mine[0] is not store:
                mine = self.objects[id(store)] = (store, {})
            at = (pinned, now, horizon)
            part = mine[1].get(at)
            if part is None:
                part = self.stores.get((store, *at))
                if part is None:
                    part = self.stores[(store, *at)] = self._messages(store.messages, pinned, now, horizon)
                mine[1][at] = part
            fs = tuple(self._fiber(f, part, now, horizon) for f in fibers)
        rank = part.rank
        runs = tuple(values.kept(r, "_abs", lambda r: _fields(r, result=_result(r.result))) for r in w.runs)
        turns = tuple((t.run, rank[t.user], sum(1 for m in part.order if m.seq < t.since)) for t in w.turns)
        # `sent` stays last: abstract_key sorts it
        return part, (w.runners, w.homes, w.maps, runs, fs, turns, jump, w.inbox.abstract(), w.sent)

    def _fiber(self, f, part: _Messages, now, horizon: int) -> tuple:
        """A fiber's part: itself without ids, and its ids by rank among the kept messages."""
        return (
            values.kept(f, "_abs", self._own),
            _place(f.msg, part.rank, part.kept, now, horizon, self.cap),
            part.rank.get(f.user),
            f.created and sum(1 for m in part.made if m.created < f.created),
        )

    def _own(self, f) -> tuple:
        """`_fiber_own`, by value: a step makes a new fiber object, most often equal to one met before."""
        if self.stores is None:
            return _fiber_own(f)
        own = self.owns.get(f)
        if own is None:
            own = self.owns[f] = _fiber_own(f)
        return own

    def _messages(self, msgs: tuple[Message, ...], pinned: frozenset, now, horizon: int) -> _Messages:
        kept = _collapse(msgs, pinned, self.keep)
        rank = {m.id: i for i, m in enumerate(kept)}
        order = sorted(kept, key=lambda m: m.seq)
        seq_rank = {m.seq: i for i, m in enumerate(order)}
        made = sorted(kept, key=lambda m: m.when)
        made_rank = {m.id: i for i, m in enumerate(made)}
        part = tuple(
            (
                rank[m.id],
                seq_rank[m.seq],
                made_rank[m.id],
                _when(m.id, now, horizon, self.cap),
                rank.get(m.parent),
                values.kept(m, "_abs", _kept),
            )
            for m in kept
        )
        number = self.numbers.setdefault(part, len(self.numbers)) if self.stores is not None else None
        return _Messages(part, number, rank, kept, order, made)


@dataclass(frozen=True)
class _Messages:
    """The messages' part of an abstraction, and the ranks the fibers' and turns' parts read."""

    msgs: tuple
    number: int
    rank: dict
    kept: list
    order: list  # by write order
    made: list  # by (time.created, id)


def _kept(m: Message) -> tuple:
    """What the abstraction keeps of a message as it is (an assistant's label is cosmetic)."""
    label = m.label if m.role != ASSISTANT else "A"
    return (m.role, label, m.finish, m.completed, m.error, m.tools, m.asks, m.source, m.synthetic, m.no_reply)


def _fields(value, **changes) -> tuple:
    """The field values of a model value, some replaced: a plain tuple, cheaper than a new value."""
    return tuple([changes[n] if n in changes else getattr(value, n) for n in field_names(value.__class__)])


def _fiber_own(f) -> tuple:
    """A fiber without its ids and creation time (ranked per world by `abstract`), what it last
    sent to the model forgotten, its result by kind."""
    return _fields(f, msg=None, user=None, seen=(), result=_result(f.result), created=None)


def abstract_key(w: World, system, abstraction: Abstraction | None = None) -> int:
    """`abstract` as a fingerprint that every process computes alike (the `sent` set sorted)."""
    a = (abstraction or Abstraction(system))(w)
    return digest(repr(a[:-1] + (tuple(sorted(a[-1])),)))


def lasso_violation(trace: Trace) -> Violation:
    """What a lasso says: which loops go round, and what each round of the cycle writes."""
    start, end = trace.steps[trace.cycle_from - 1][1] if trace.cycle_from else trace.initial, trace.final
    cycle = trace.steps[trace.cycle_from :]
    loops = sorted({s.fiber for s, _ in cycle if steps.is_loop_fiber(s.fiber)})
    before = {n.id for n in start.store.messages}
    made = [m for m in end.store.messages if m.id not in before]
    says = (
        f"loop {', '.join(loops)} can go round for ever: each round of the cycle writes "
        f"{', '.join(m.label for m in made)} and comes back to the same state"
    )
    return Violation(says, tuple(m.id for m in made))


def _collapse(msgs: tuple[Message, ...], pinned: set, keep: int) -> list[Message]:
    """Drop plain terminal replies beyond the newest `keep` under each parent (never a pinned one)."""
    plain: dict = {}
    for m in msgs:
        if m.terminal and m.completed and not m.tools and not m.error and m.id not in pinned:
            plain.setdefault(m.parent, []).append(m.id)
    dropped = {i for group in plain.values() for i in group[:-keep]} if keep else set()
    return [m for m in msgs if m.id not in dropped]


def _horizon(w: World, system) -> int:
    """How far back a client still to send can mint (its most negative clock offset)."""
    unsent = [p for p in system.scenario.prompts if p.name not in w.sent and p.id == "client"]
    return int(max((-p.clock for p in unsent if p.clock < 0), default=0))


def _when(mid, now: float, horizon: int, cap: int):
    """What a future mint can still tell about this id: ahead by n, recent by n, or old. An id
    further ahead than the bound lets the server mint (a client clock far ahead, or an id from
    before the 48-bit wrap) is ahead for ever, as far as the bound can tell."""
    tick = mid[0]
    if tick > now:
        return ("ahead", tick - now if tick - now <= cap else float("inf"))
    age = now - tick
    return ("recent", age) if age <= horizon else "old"


def _place(mid, rank: dict, kept: list[Message], now: float, horizon: int, cap: int):
    """A fiber's id by rank: a message's, or for one minted but not yet written (the gap in
    createUserMessage) its place among the stored ids and how it stands to the clock."""
    if mid is None or mid in rank:
        return rank.get(mid)
    return (sum(1 for m in kept if m.id < mid), _when(mid, now, horizon, cap))


def _result(res: str | None):
    """Request results name assistants (cosmetic); keep only the outcome kind."""
    if res in (None, "", "cancelled", "busy", "idle", "ok", "interrupted", "completed"):
        return res
    return "reply"


@dataclass(frozen=True)
class Edge:
    fiber: str
    progress: bool  # a loop iteration: a run fiber wrote a new assistant


class Lassos(Observer):
    """Collects the abstract transition graph during a search, then looks for a fair cycle.

    Abstract states are numbered as they are first met, so the graph holds small ints. `key` is
    the search's visited key (None: the world itself; else e.g. its fingerprint), under which
    explored worlds are remembered. A partitioned search, whose owner never holds a world, feeds
    the graph with `note` and `link` and identifies abstract states by `abstract_key`.
    """

    def __init__(self, system, key=None, ident=None):
        self.system = system
        self.key = key
        self.ident = ident or Abstraction(system).key
        self.number: dict = {}
        self.edges: dict[int, tuple[Edge, ...]] = {}  # (a << 32 | b) -> the kinds of step from a to b
        self.kinds: dict[tuple[str, bool], Edge] = {}
        self.rep: dict[int, object] = {}  # abstract state -> key of the first explored world with it
        self.names: dict[int, frozenset] = {}  # abstract state -> fibers enabled in that world
        self.memo: dict = {}
        self.interned: dict[frozenset, frozenset] = {}

    def alpha(self, w: World) -> int:
        k = self.key(w) if self.key else w
        a = self.memo.get(k)
        if a is None:
            a = self.memo[k] = self.number.setdefault(self.ident(w), len(self.number))
        return a

    def seen(self, w: World) -> None:
        a = self.alpha(w)
        if a not in self.rep:
            self._remember(a, self.key(w) if self.key else w, (f.name for f in self.system.enabled(w)))

    def edge(self, w: World, step, nxt: World, depths=None) -> None:
        progress = steps.is_progress(step.fiber, (e.ref for e in step.events))
        self._add(self.alpha(w), self.alpha(nxt), step.fiber, progress)

    def note(self, ident, key, enabled) -> int:
        """An explored world, by its abstract identity and its visited key (partitioned search);
        returns the abstract state's number."""
        a = self.number.setdefault(ident, len(self.number))
        if a not in self.rep:
            self._remember(a, key, enabled)
        return a

    def note_numbered(self, a: int, key, enabled) -> None:
        """An explored world whose abstract state is already numbered `a`."""
        if a not in self.rep:
            self._remember(a, key, enabled)

    def numbered(self, ident) -> int:
        return self.number.setdefault(ident, len(self.number))

    def link(self, a: int, b: int, fiber: str, progress: bool) -> None:
        """A transition between numbered abstract states (partitioned search)."""
        self._add(a, b, fiber, progress)

    def _add(self, a: int, b: int, fiber: str, progress: bool) -> None:
        """Record a step from a to b; few bytes each, as there is about one per state."""
        e = self.kinds.get((fiber, progress))
        if e is None:
            e = self.kinds[(fiber, progress)] = Edge(fiber, progress)
        k = a << 32 | b
        known = self.edges.get(k)
        if known is None:
            self.edges[k] = (e,)
        elif e not in known:  # kept in (fiber, progress) order, the order `find` walks them in
            self.edges[k] = tuple(sorted(known + (e,), key=lambda e: (e.fiber, e.progress)))

    def _remember(self, a: int, key, enabled) -> None:
        names = frozenset(enabled)
        self.rep[a] = key
        self.names[a] = self.interned.setdefault(names, names)

    def done(self, result, parents: dict, depth: dict) -> None:
        """Turn a fair abstract cycle into a concrete prefix + cycle, replayed step by step."""
        found = self.find(depth)
        if found is None:
            return
        start, fibers = found
        prefix = path_to(parents, start) if self.key is None else replay_path(result.system, parents, start)
        start = prefix.final
        path, w = list(prefix.steps), start
        for name in fibers:
            step, w = result.system.apply(w, name)
            path.append((step, w))
        if self.ident(w) != self.ident(start):
            raise AssertionError("liveness abstraction is not a simulation: the cycle did not close")
        trace = Trace(prefix.initial, tuple(path), cycle_from=len(prefix.steps))
        for prop in result.properties:
            if prop.when == "liveness":
                result.findings[prop.name] = Finding(prop, lasso_violation(trace), trace)

    def find(self, depth: dict) -> tuple[World, list[str]] | None:
        """A fair cycle with a loop iteration: (a concrete world on it, the fibers to go round).

        Of the cycles found, the one whose start world comes first in `depth`'s (breadth-first)
        order; within a component, edges are taken in the order the search first took them. So
        the answer does not depend on how abstract states are numbered, only on the search."""
        comps = _cyclic_components(self.edges)
        if not comps:
            return None
        inside: dict[int, list] = {}  # component -> its edges (a, b, kind), in the order first taken
        for k, kinds in self.edges.items():
            a, b = k >> 32, k & 0xFFFFFFFF
            c = comps.get(a)
            if c is not None and comps.get(b) == c:
                inside.setdefault(c, []).extend((a, b, e) for e in kinds)
        members: dict[int, set] = {}
        for a, c in comps.items():
            members.setdefault(c, set()).add(a)
        order: dict | None = None
        best = None
        for c, edges in inside.items():
            scc = members[c]
            progress = [e for e in edges if e[2].progress]
            starts = [a for a in scc if a in self.rep and self.rep[a] in depth]
            if not progress or not starts:
                continue
            need = self._unfair(scc, edges)
            if need is None:
                continue
            if order is None:
                order = {k: i for i, k in enumerate(depth)}
            rank = {a: (depth[self.rep[a]], order[self.rep[a]]) for a in starts}
            start = min(starts, key=rank.__getitem__)
            if best is None or rank[start] < best[0]:
                best = (rank[start], start, edges, progress, need)
        if best is None:
            return None
        _, start, edges, progress, need = best
        sub = nx.DiGraph()
        sub.add_edges_from((a, b, {"kinds": self.edges[a << 32 | b]}) for a, b, _ in edges)
        cycle = min((self._cycle(sub, start, [p] + need) for p in progress), key=len)
        return self.rep[start], cycle

    def _unfair(self, scc: set, edges: list) -> list | None:
        """Edges the cycle must take so every fiber enabled all along it also moves (weak fairness)."""
        always = None
        for a in scc:
            if a not in self.rep:
                continue
            names = self.names[a]
            always = names if always is None else always & names
        need = []
        for name in sorted(always or ()):
            own = [e for e in edges if e[2].fiber == name]
            if not own:
                return None  # that fiber is starved on every cycle here: not a fair cycle
            need.append(own[0])
        return need

    @staticmethod
    def _cycle(sub, start, must: list) -> list[str]:
        """Fibers along a closed walk from `start` through the first edge of `must`, then through
        an edge of each later one's fiber unless that fiber already moved on the walk."""
        fibers: list[str] = []
        for i, (a, b, e) in enumerate(must):
            if i and e.fiber in fibers:
                continue
            fibers += _walk(sub, start, a) + [e.fiber] + _walk(sub, b, start)
        return fibers


class Steps:
    """The steps of a breadth-first search by world number, made into `Lassos` only at the end.

    Worlds are numbered as the search first meets them and expanded in that order, so recording
    a step is appending one int. With `ident` (a fingerprinted search, which keeps no world) each
    world's abstract identity, a 64-bit digest (`abstract_key`), is computed as it is met; else
    the search's own worlds are abstracted at the end, and only if a lasso can exist: when
    nothing was cut and the search ran to the end, none can (a fair cycle with a loop iteration
    could be gone round for ever, each round writing an assistant, so the bound would cut a step
    of it), and loop-terminates holds without abstracting a world. When something was cut, only
    the worlds from which a cut step can be reached are abstracted (see `lassos`).
    """

    def __init__(self, system, ident=None):
        self.system, self.ident = system, ident
        self.idents = array("Q")  # world number -> abstract identity, a 64-bit digest (with `ident` only)
        self.kinds: dict[tuple[str, bool], int] = {}
        self.kind_list: list[tuple[str, bool]] = []
        self.codes = array("q")  # (target << 16 | kind) per step; a cut target is -1 - its index in `cut`
        self.starts = array("q")  # expanded world's number -> where its steps begin in `codes`
        self.cut: list = []  # worlds past the bound (their abstract identities, with `ident`)

    def met(self, w: World) -> None:
        """A new world, numbered next."""
        if self.ident is not None:
            self.idents.append(self.ident(w))

    def expanded(self) -> None:
        """The next world by number is expanded: the steps that follow are its."""
        self.starts.append(len(self.codes))

    def step(self, target: int | None, step, nxt: World) -> None:
        """A step into world number `target`, or into `nxt` past the bound (target None)."""
        progress = steps.is_progress(step.fiber, (e.ref for e in step.events))
        kind = self.kinds.get((step.fiber, progress))
        if kind is None:
            kind = self.kinds[(step.fiber, progress)] = len(self.kind_list)
            self.kind_list.append((step.fiber, progress))
        if target is None:
            self.cut.append(self.ident(nxt) if self.ident is not None else nxt)
            target = -len(self.cut)
        self.codes.append(target << 16 | kind)

    def lassos(self, keys: list, abstraction: Abstraction | None = None, key=None) -> Lassos:
        """The abstract graph, built in the order a `Lassos` observer of the search would have:
        each expanded world, then its steps in the order taken. `keys`: the search's visited keys
        by number (the worlds, or with `key` their fingerprints).

        Without `ident`, only the worlds from which a step past the bound can be reached are
        abstracted (`_reaching_cut`): a world whose abstract state lies on an abstract cycle can
        go round that cycle for ever (the abstraction is a simulation), each round a new concrete
        world, so within the finite bounded space some step of that run is cut, and this search,
        which took every step, has that run (or it stopped first: worlds it did not expand count
        as reaching a cut). The other worlds' states are on no cycle."""
        ident = self.ident or (abstraction or Abstraction(self.system)).key
        lassos = Lassos(self.system, key, ident)
        known = self.idents if self.ident is not None else None
        alpha = [-1] * len(keys)
        codes, kinds, ends = self.codes, self.kind_list, self.starts[1:] + array("q", [len(self.codes)])
        live = None if known is not None else self._reaching_cut(len(keys), ends)
        for i, (lo, hi) in enumerate(zip(self.starts, ends, strict=True)):
            if live is not None and not live[i]:
                continue
            a = alpha[i]
            if a < 0:
                a = alpha[i] = lassos.numbered(known[i] if known is not None else ident(keys[i]))
            mine = codes[lo:hi]
            lassos.note_numbered(a, keys[i], (kinds[c & 0xFFFF][0] for c in mine))
            for c in mine:
                b = c >> 16
                if b < 0:
                    cut = self.cut[-1 - b]
                    target = lassos.numbered(cut if self.ident is not None else ident(cut))
                elif live is not None and not live[b]:
                    continue  # into a world whose state is on no cycle: no cycle takes this step
                else:
                    target = alpha[b]
                    if target < 0:
                        target = alpha[b] = lassos.numbered(known[b] if known is not None else ident(keys[b]))
                fiber, progress = kinds[c & 0xFFFF]
                lassos.link(a, target, fiber, progress)
        return lassos

    def _reaching_cut(self, n: int, ends: list) -> bytearray:
        """For each world number, 1 if a step past the bound can be reached from it, or a world
        the search stopped before expanding (`until`: what lies beyond it is not known)."""
        codes, starts = self.codes, self.starts
        preds: list = [None] * n
        hit = bytearray(len(starts)) + bytearray(b"\x01") * (n - len(starts))
        todo = list(range(len(starts), n))
        for i in range(len(starts)):
            for c in codes[starts[i] : ends[i]]:
                b = c >> 16
                if b < 0:
                    if not hit[i]:
                        hit[i] = 1
                        todo.append(i)
                elif preds[b] is None:
                    preds[b] = [i]
                else:
                    preds[b].append(i)
        while todo:
            for p in preds[todo.pop()] or ():
                if not hit[p]:
                    hit[p] = 1
                    todo.append(p)
        return hit


def _cyclic_components(edges: dict) -> dict[int, int]:
    """The abstract states on a cycle (a strongly connected component of two or more, or one
    with a step back to itself), each with its component's number: Tarjan's algorithm on ints,
    without recursion, successors in the order the steps were first taken."""
    succ: dict[int, list[int]] = {}
    loops = set()
    for k in edges:
        a, b = k >> 32, k & 0xFFFFFFFF
        succ.setdefault(a, []).append(b)
        if a == b:
            loops.add(a)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on: set[int] = set()
    comps: dict[int, int] = {}
    count = 0
    for root in succ:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(succ.get(w, ()))))
                    break
                if w in on and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work and low[v] < low[work[-1][0]]:
                    low[work[-1][0]] = low[v]
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in loops:
                        for w in comp:
                            comps[w] = count
                        count += 1
    return comps


def _walk(sub, a, b) -> list[str]:
    path = nx.shortest_path(sub, a, b)
    return [sub.edges[x, y]["kinds"][0].fiber for x, y in zip(path, path[1:], strict=False)]
