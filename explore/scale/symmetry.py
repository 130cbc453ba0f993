"""Symmetry reduction: prompts that differ only in their names make fibers whose permutations
give equivalent worlds, so the search keeps one world per orbit.

Two prompts are interchangeable when every field but the name is equal and no prompt waits for
either by name (`after`). Renaming them consistently (fibers, user messages, runs' starter and
prompt, `sent`, shell handles, abort targets, request results) maps every reachable world to a
reachable world with the same future up to the renaming, and every property is stated without
naming a prompt, so a property fails in a world iff it fails in the renamed one.

The search runs on the quotient (`Quotient`): each successor is replaced by the least member of
its orbit. A quotient trace is lifted back to a schedule of the plain model (`lift`).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from dataclasses import replace as with_fields

from turnproof.explore.search.fingerprint import encode
from turnproof.explore.search.trace import Trace
from turnproof.model.config import Scenario
from turnproof.model.store import ASSISTANT, USER
from turnproof.model.system import System
from turnproof.model.values import replace
from turnproof.model.world import World

# A name could be mistaken for a value that is not a prompt's name in these fields (an assistant
# label, a request result): such prompts are left out of every group.
NOT_A_NAME = re.compile(r"^(A[0-9]+|busy|cancelled|idle|ok|interrupted|completed)$")

Renaming = dict[str, str]

MEMO = 1 << 16  # entries a Symmetry's memos hold before they are cleared
NO_TWO = "(), ()"  # two empty tuples, rendered
# The parts of a world that name members, besides fibers and `sent`, by memo number: the field,
# what names whom in it (for signatures), and how it is renamed.
PARTS = (
    ("store", "_messages_naming", "_store"),
    ("runs", "_runs_naming", "_runs"),
    ("runners", "_runners_naming", "_runners"),
    ("inbox", "_rows_naming", "_inbox"),
)


def groups(scenario: Scenario) -> tuple[tuple[str, ...], ...]:
    """The sets of interchangeable prompts (two or more each), in scenario order."""
    waited = {a for p in scenario.prompts for a in p.after}
    by: dict = {}
    for p in scenario.prompts:
        if p.name not in waited and not NOT_A_NAME.match(p.name):
            by.setdefault(with_fields(p, name=""), []).append(p.name)
    return tuple(tuple(names) for names in by.values() if len(names) > 1)


class Symmetry:
    """The renamings of one scenario's interchangeable prompts, and the least world of an orbit.

    Canonicalizing is most of a quotient search's cost, so it keeps memos, each cleared when it
    grows past MEMO: per store, runs, runners and inbox object, which members it names and where
    (worlds share these objects); per fiber, its head of a signature; and per part and renaming,
    the renamed part, so that renamed worlds share their parts as the plain model's worlds do
    (cheap to hash and compare). They are caches only: the results do not depend on them.
    """

    def __init__(self, scenario: Scenario):
        self.groups = groups(scenario)
        self.clients = len(scenario.prompts)  # fibers[:clients] are the prompts' fibers, in order
        self.pos = {p.name: i for i, p in enumerate(scenario.prompts)}
        self.members = frozenset(n for g in self.groups for n in g)
        self.size = math.prod(math.factorial(len(g)) for g in self.groups)  # the group's order
        self.handle = {self.pos[n] + 1: n for n in self.members}  # a shell handle names its client's place
        self._named_in: tuple[dict, ...] = tuple({} for _ in PARTS)  # per part of PARTS, by identity
        self._heads: dict = {}  # per fiber, by identity
        self._renamed: dict = {}  # (field, part, renaming) -> the renamed part; (message, name) -> ...
        self._namings = tuple(getattr(self, naming) for _, naming, _ in PARTS)

    def __getstate__(self) -> dict:
        """Pickled without the memos (a worker builds its own)."""
        state = {**self.__dict__, "_named_in": tuple({} for _ in PARTS), "_heads": {}, "_renamed": {}}
        del state["_namings"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._namings = tuple(getattr(self, naming) for _, naming, _ in PARTS)

    # --- renaming ---------------------------------------------------------------------------

    def rename(self, w: World, m: Renaming, key: tuple | None = None) -> World:
        """The world with every prompt name n replaced by m.get(n, n), fibers kept in place by name.

        Only the parts that name a renamed prompt are rebuilt, each once per part and renaming
        (`key` stands for m in the memo; by default its sorted pairs): renamed worlds share their
        parts, as the plain model's worlds do, which keeps them cheap to hash and compare."""
        if not m:
            return w
        memo = self._renamed
        if len(memo) > MEMO:
            memo.clear()
        if key is None:
            key = tuple(sorted(m.items()))
        fibers = list(w.fibers)
        pos = self.pos
        for i in range(self.clients):
            f = w.fibers[i]
            if f.name in m or f.prompt in m or f.target in m or f.result in m:
                k = (f, key)
                g = memo.get(k)
                if g is None:
                    g = memo[k] = self._fiber(f, m, True)
                fibers[pos[g.name]] = g
        for i in range(self.clients, len(fibers)):
            f = w.fibers[i]
            if f.prompt in m or f.target in m:
                k = (f, key)
                g = memo.get(k)
                if g is None:
                    g = memo[k] = self._fiber(f, m, False)
                fibers[i] = g
        changes: dict = {"fibers": tuple(fibers)}
        if not w.sent.isdisjoint(m):
            changes["sent"] = frozenset(m.get(n, n) for n in w.sent)
        for kind, (field, _, renamed) in enumerate(PARTS):  # only the parts that name a moved member
            part = getattr(w, field)
            if self._named(kind, part).keys().isdisjoint(m):
                continue
            k = (field, part, key)
            new = memo.get(k)
            if new is None:
                new = memo[k] = getattr(self, renamed)(part, m)
            changes[field] = new
        return replace(w, **changes)

    @staticmethod
    def _fiber(f, m: Renaming, client: bool):
        """A client's fiber: its name, prompt, abort target and result renamed; another fiber (a
        run, a tool): its prompt and target."""
        if client:
            return replace(
                f,
                name=m.get(f.name, f.name),
                prompt=m.get(f.prompt, f.prompt),
                target=m.get(f.target, f.target),
                result=m.get(f.result, f.result),
            )
        return replace(f, prompt=m.get(f.prompt, f.prompt), target=m.get(f.target, f.target))

    def _store(self, store, m: Renaming):
        """The store with its members' user messages relabelled and their assistants' sources
        renamed; a message met again with the same new name is the same object."""
        memo = self._renamed
        msgs = list(store.messages)
        changed = False
        for i, x in enumerate(msgs):
            n = x.label if x.role == USER else x.source if x.role == ASSISTANT else None
            if n in m:
                k = (x, m[n])
                y = memo.get(k)
                if y is None:
                    y = memo[k] = replace(x, label=m[n]) if x.role == USER else replace(x, source=m[n])
                msgs[i] = y
                changed = True
        return replace(store, messages=tuple(msgs)) if changed else store

    def _runs(self, runs, m: Renaming):
        if not any(r.starter in m or r.prompt in m for r in runs):
            return runs
        return tuple(
            replace(r, starter=m.get(r.starter, r.starter), prompt=r.prompt and m.get(r.prompt, r.prompt))
            if r.starter in m or r.prompt in m
            else r
            for r in runs
        )

    def _runners(self, runners, m: Renaming):
        shell = {self.pos[old] + 1: self.pos[new] + 1 for old, new in m.items()}  # a handle: its client's place
        if not any(s.shell in shell for s in runners):
            return runners
        return tuple(replace(s, shell=shell[s.shell]) if s.shell in shell else s for s in runners)

    def _inbox(self, inbox, m: Renaming):
        if not any(r.name in m for r in inbox.rows):
            return inbox
        return replace(inbox, rows=tuple(replace(r, name=m[r.name]) if r.name in m else r for r in inbox.rows))

    # --- the least member of an orbit ---------------------------------------------------------

    def _signatures(self, w: World) -> dict[str, str]:
        """What world w says about each member n, with every member's name blanked out: equal for n
        in w and for m(n) in the renamed world, whatever the renaming m.

        The places that name a member are read once per store, runs, runners and inbox object
        (worlds share them) and a fiber's own part once per fiber."""
        members, clients, pos, sent = self.members, self.clients, self.pos, w.sent
        # per part of PARTS: member -> the places in it that name the member, rendered
        by_message, by_run, by_shell, by_row = (self._named(k, getattr(w, part[0])) for k, part in enumerate(PARTS))
        own_of = self._heads
        fibers = w.fibers
        targets: dict = {}
        for n in [g.target for g in fibers if g.target in members]:
            targets[n] = targets.get(n, 0) + 1
        forks: dict = {}
        for i, n in [(i, g.prompt) for i, g in enumerate(fibers[clients:], clients) if g.prompt in members]:
            forks[n] = forks.get(n, ()) + (i,)
        sigs = {}
        for n in members:
            f = fibers[pos[n]]
            own = own_of.get(id(f))
            if own is None or own[0] is not f:
                own = self._keep(own_of, f, self._own(f))
            mine = forks.get(n)
            # the repr of (sent, user messages, assistants, runs started, runs prompted, forks,
            # shells, targets, rows), each part rendered once per part object
            sigs[n] = (
                f"{own[1]}, {n in sent}, {by_message.get(n, NO_TWO)}, {by_run.get(n, NO_TWO)}, "
                f"{repr(mine) if mine else '()'}, {by_shell.get(n, '()')}, {targets.get(n, 0)}, "
                f"{by_row.get(n, '()')})"
            )
        return sigs

    @staticmethod
    def _keep(memo: dict, obj, made) -> tuple:
        """Keep what was made of obj under obj's identity, obj with it (so that its id is not
        reused while the entry lives), until the memo grows past MEMO."""
        if len(memo) > MEMO:
            memo.clear()
        found = memo[id(obj)] = (obj, made)
        return found

    def _untouched(self, w: World, n: str) -> bool:
        """Not sent yet, nor its messageID minted: nothing in w refers to n, so two untouched members
        swap to the same world."""
        f = w.fibers[self.pos[n]]
        return n not in w.sent and (f.pc == "mint" or (f.pc == "send" and not f.counter))

    def _named(self, kind: int, part) -> dict:
        """member -> the places in this part (PARTS[kind]) that name it, rendered; kept per part."""
        memo = self._named_in[kind]
        found = memo.get(id(part))
        if found is None or found[0] is not part:
            found = self._keep(memo, part, self._namings[kind](part))
        return found[1]

    def _messages_naming(self, store) -> dict:
        """member -> (places of its user messages, places of the assistants it wrote)."""
        user: dict = {}
        wrote: dict = {}
        for i, x in enumerate(store.messages):
            if x.role == USER:
                if x.label in self.members:
                    user[x.label] = user.get(x.label, ()) + (i,)
            elif x.role == ASSISTANT and x.source in self.members:
                wrote[x.source] = wrote.get(x.source, ()) + (i,)
        return {n: f"{user.get(n, ())!r}, {wrote.get(n, ())!r}" for n in user.keys() | wrote.keys()}

    def _runs_naming(self, runs) -> dict:
        """member -> (runs it started, runs whose guarded work writes it)."""
        started: dict = {}
        prompted: dict = {}
        for r in runs:
            if r.starter in self.members:
                started[r.starter] = started.get(r.starter, ()) + (r.id,)
            if r.prompt in self.members:
                prompted[r.prompt] = prompted.get(r.prompt, ()) + (r.id,)
        return {n: f"{started.get(n, ())!r}, {prompted.get(n, ())!r}" for n in started.keys() | prompted.keys()}

    def _runners_naming(self, runners) -> dict:
        """member -> the Runners whose shell handle is its client's place."""
        out: dict = {}
        for i, s in enumerate(runners):
            n = self.handle.get(s.shell)
            if n is not None:
                out[n] = out.get(n, ()) + (i,)
        return {n: repr(t) for n, t in out.items()}

    def _rows_naming(self, inbox) -> dict:
        """member -> its session_input rows, with their places."""
        out: dict = {}
        for i, r in enumerate(inbox.rows):
            if r.name in self.members:
                out[r.name] = out.get(r.name, ()) + ((i, r.delivery, r.admitted, r.promoted, r.wake, r.by),)
        return {n: repr(t) for n, t in out.items()}

    def _own(self, f) -> str:
        """What a member's fiber says of it (names of members blanked): the head of its signature."""
        target = "*" if f.target in self.members else f.target
        result = "*" if f.result in self.members else f.result
        mine = (f.pc, f.run, f.runner, f.instance, f.msg, f.user, f.seen, f.answer, f.idle, f.interrupt)
        return repr(mine + (target, result))[:-1]

    def _blocks(self, w: World, sigs: dict | None = None):
        """Per group: its members sorted by signature (`sigs`, if already taken), cut into blocks
        of equal signature. A block's members are all untouched or all touched (being sent is in
        the signature), so `_untouched(w, block[0])` tells for the whole block."""
        sigs = self._signatures(w) if sigs is None else sigs
        return [
            (g, [list(b) for _, b in itertools.groupby(sorted(g, key=sigs.__getitem__), key=sigs.__getitem__)])
            for g in self.groups
        ]

    def canonical(self, w: World) -> tuple[World, Renaming]:
        """The least world of w's orbit and a renaming that maps w to it.

        Members are ordered by signature, which no renaming changes, and take the group's names
        in that order; members with equal signatures that were already sent are tried in every
        order and the least encoding wins, so the result is the same for every world of the orbit.
        """
        if not self.groups:
            return w, {}
        sigs = self._signatures(w)
        m = {}
        orders = []
        for g in self.groups:
            ordered = sorted(g, key=sigs.__getitem__)
            for a, b in itertools.pairwise(ordered):
                if sigs[a] == sigs[b] and not self._untouched(w, a):  # a tie among sent members: try them all
                    return self._least(w, self._blocks(w, sigs))
            orders.append(tuple(ordered))
            for old, new in zip(ordered, g, strict=True):
                if old != new:
                    m[old] = new
        return self.rename(w, m, ("in order", *orders)), m

    def _least(self, w: World, blocks) -> tuple[World, Renaming]:
        """The least encoding among the renamings that put the blocks in order, every order of
        the blocks of sent members tried."""
        choices = []  # per group: the candidate orders of its members
        for g, bs in blocks:
            options = [[b] if self._untouched(w, b[0]) else [list(p) for p in itertools.permutations(b)] for b in bs]
            choices.append([(g, [n for part in combo for n in part]) for combo in itertools.product(*options)])
        candidates = []
        for combo in itertools.product(*choices):
            m = {old: new for g, order in combo for old, new in zip(order, g, strict=True) if old != new}
            candidates.append((self.rename(w, m), m))
        return min(candidates, key=lambda c: encode(c[0]))

    def orbit(self, w: World) -> int:
        """How many distinct worlds w's orbit holds: the group's order over w's stabilizer's.

        A renaming that fixes w keeps every signature, so it permutes blocks within themselves:
        any permutation of untouched members, and those of touched ones that give w back."""
        stab = 1
        touched = []
        for _, blocks in self._blocks(w):
            for b in blocks:
                if len(b) == 1:
                    continue
                if self._untouched(w, b[0]):
                    stab *= math.factorial(len(b))
                else:
                    touched.append(b)
        if touched:
            fixing = 0
            for perms in itertools.product(*(itertools.permutations(b) for b in touched)):
                m = {old: new for b, p in zip(touched, perms, strict=True) for old, new in zip(b, p, strict=True)}
                fixing += self.rename(w, {a: b for a, b in m.items() if a != b}) == w
            stab *= fixing
        return self.size // stab

    def renamings(self):
        """Every renaming of the group (the identity first)."""
        per_group = [[dict(zip(g, p, strict=True)) for p in itertools.permutations(g)] for g in self.groups]
        for combo in itertools.product(*per_group):
            yield {a: b for part in combo for a, b in part.items() if a != b}


@dataclass(frozen=True)
class Quotient:
    """The model seen one orbit at a time: every world it hands out is the least of its orbit.

    It answers what the checkers ask of a `System` (initial, successors, apply, ...); a step's
    fiber is named as in the world it leaves.
    """

    system: System
    symmetry: Symmetry

    @staticmethod
    def of(system: System) -> Quotient:
        """The quotient of a model whose steps never look at a prompt's name (ValueError if not)."""
        if not system.name_blind:
            raise ValueError(f"{type(system).__name__} picks fibers by name or place: no symmetry reduction")
        return Quotient(system, Symmetry(system.scenario))

    @property
    def design(self):
        return self.system.design

    @property
    def scenario(self):
        return self.system.scenario

    def canon(self, w: World) -> World:
        return self.symmetry.canonical(w)[0]

    def initial(self) -> World:
        return self.canon(self.system.initial())

    def enabled(self, w: World):
        return self.system.enabled(w)

    def successors(self, w: World):
        return [(step, self.canon(nxt)) for step, nxt in self.system.successors(w)]

    def apply(self, w: World, fiber: str):
        step, nxt = self.system.apply(w, fiber)
        return step, self.canon(nxt)

    def quiescent(self, w: World) -> bool:
        return self.system.quiescent(w)

    def bounded_out(self, w: World) -> bool:
        return self.system.bounded_out(w)


def lift(q: Quotient, trace: Trace) -> Trace:
    """The quotient trace as a trace of the plain model: the same steps, each fiber renamed back.

    At each step the real world r and the quotient world agree up to the renaming m that makes r
    canonical, so the quotient's fiber f is fiber m⁻¹(f) of r. A lasso's cycle is then repeated,
    renamed by the permutation it induced, until the real world comes back to the same
    liveness abstraction (at most the group's order times).
    """
    system, sym = q.system, q.symmetry
    r = system.initial()
    steps = []
    for i, (qstep, qw) in enumerate(trace.steps):
        if trace.cycle_from is not None and i == trace.cycle_from:
            break
        r = _step(system, sym, r, qstep.fiber, steps)
        if sym.canonical(r)[0] != qw:
            raise AssertionError("symmetry: the lifted trace left the quotient trace")
    if trace.cycle_from is None:
        return Trace(system.initial(), tuple(steps))
    return _lift_cycle(q, trace, r, steps)


def _step(system: System, sym: Symmetry, r: World, qfiber: str, steps: list) -> World:
    m = sym.canonical(r)[1]
    back = {new: old for old, new in m.items()}
    step, r = system.apply(r, back.get(qfiber, qfiber))
    steps.append((step, r))
    return r


def _lift_cycle(q: Quotient, trace: Trace, start: World, steps: list) -> Trace:
    from turnproof.explore.search.liveness import abstract  # liveness builds on the search modules

    system, sym = q.system, q.symmetry
    head = len(steps)
    r = start
    for qstep, _ in trace.steps[trace.cycle_from :]:
        r = _step(system, sym, r, qstep.fiber, steps)
    once = [s.fiber for s, _ in steps[head:]]
    goal = abstract(start, system)
    tau = next((m for m in sym.renamings() if abstract(sym.rename(start, m), system) == abstract(r, system)), None)
    if tau is None:
        raise AssertionError("symmetry: the lifted cycle does not end in a renaming of its start")
    names = once
    for _ in range(sym.size):
        if abstract(r, system) == goal:
            return Trace(system.initial(), tuple(steps), cycle_from=head)
        names = [tau.get(n, n) for n in names]
        for n in names:
            step, r = system.apply(r, n)
            steps.append((step, r))
    raise AssertionError("symmetry: the lifted cycle never closes")


class Orbits:
    """Observer of a quotient search: how many plain-model states and steps its orbits stand for.

    A world is quiescent when no step follows its `seen` before the next `seen` (or `done`): the
    search takes every step of a world right after it (bfs), so enabled() is not asked again."""

    def __init__(self, q: Quotient):
        self.q = q
        self.states = self.transitions = self.quiescent = self.cut = 0
        self.current = 1
        self.steps: int | None = None  # steps taken from the current world (None: no world yet)

    def seen(self, w: World) -> None:
        self._close()
        self.current = self.q.symmetry.orbit(w)
        self.states += self.current
        self.steps = 0

    def edge(self, w: World, step, nxt: World, depths) -> None:
        self.steps += 1
        self.transitions += self.current
        if depths[1] is None:
            self.cut += self.current

    def done(self, result, parents, depth) -> None:
        self._close()
        self.steps = None

    def _close(self) -> None:
        if self.steps == 0:
            self.quiescent += self.current

    def represented(self) -> dict:
        return {"states": self.states, "transitions": self.transitions, "quiescent": self.quiescent}


def symmetric_bfs(
    system: System, properties, progress=None, fingerprint: bool = False, until=frozenset(), quotient=None, count=True
):
    """Breadth-first search of the quotient; findings lifted to traces of the plain model.
    `until`: stop once each property named there has its shortest violation, as bfs does.
    `quotient`: one already made (its memos warm); `count=False`: no stats.symmetry (a search
    run only for its traces need not count what its orbits stand for)."""
    from turnproof.explore.search.bfs import bfs

    q = quotient or Quotient.of(system)
    orbits = Orbits(q) if count else None
    res = bfs(q, properties, progress, (orbits,) if orbits else (), fingerprint, until=until)
    lift_findings(q, res, orbits and orbits.represented())
    return res


def symmetric_dpor(system: System, properties, progress=None, until=frozenset(), quotient=None):
    """dpor over the quotient (explore/search/dpor.py, "Over orbits"); findings lifted to traces
    of the plain model. Its traces are the shortest within what it explored, as dpor's are."""
    from turnproof.explore.search.dpor import dpor_search
    from turnproof.explore.search.renaming import OrbitRenaming

    q = quotient or Quotient.of(system)
    orbits = Orbits(q)
    res = dpor_search(q, properties, progress, until=until, observers=(orbits,), renaming=OrbitRenaming(q))
    lift_findings(q, res, orbits and orbits.represented())
    return res


def lift_findings(q: Quotient, res, represented: dict | None) -> None:
    """Make a quotient search's result one of the plain model: lifted traces, and what the
    orbits explored stand for in stats.symmetry (if counted)."""
    from turnproof.explore.search.liveness import lasso_violation
    from turnproof.explore.search.result import Finding

    res.system = q.system
    for name, f in list(res.findings.items()):
        trace = lift(q, f.trace)
        v = lasso_violation(trace) if trace.cycle_from is not None else f.prop.check(trace.final)
        if v is None:
            raise AssertionError(f"symmetry: {name} does not hold in the lifted trace's last world")
        res.findings[name] = Finding(f.prop, v, trace)
    if represented is not None:
        res.stats.symmetry = {
            "groups": [list(g) for g in q.symmetry.groups],
            "represented_states": represented["states"],
            "represented_transitions": represented["transitions"],
            "represented_quiescent": represented["quiescent"],
            "reduction": round(represented["states"] / max(res.stats.states, 1), 2),
        }
