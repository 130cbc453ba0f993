"""What one step reads and writes, as named locations, so that a search can tell which steps commute.

Locations: ("messages",) which messages exist, with what never changes once a message is
written (id, hence order, write order, role, label, parentID, source, time.created, …: `FIXED`); ("msg", id)
what an update may change in one message (finish, completed, error, tool parts); ("writes",)
the store's write counter; ("clock",) the server clock; ("minted",) the client ids minted so
far; ("labels",) the assistant label
counter; ("runner", i) one Runner's ref; ("runners",) how many Runners exist; ("home", i) the
instance that made Runner i; ("map", instance) the session's entry in one runner map; ("run",
rid) one run handle; ("runs",) how many runs exist; ("fiber", name) one fiber's program
counter and locals; ("fibers",) the fiber list's length and order; ("turn", rid) run rid's open
turn and ("turns",) the order in which the open turns were opened (ghosts for the specs);
("sent", prompt) whether the server accepted that prompt; ("inbox",) the V2 engine's
session_input rows and event seq, as one location (every admission and promotion takes the next
seq); ("entry",) its coordinator's map entry for the session (owner, pendingWake, stopping).
Which engine a world runs (`Inbox.on`) never changes: reading it reads nothing.

A step that empties a runner-map entry without reading it (onIdle's delete) clears it: the
location is in its `clears`, not its reads or writes. Two clears of one entry commute (it ends
empty in either order); a clear still conflicts with every read and every other write of it.

Reads are recorded while the step runs, on a `Watched` view of the world: each accessor the
fiber programs use notes what it reads, and what a step overwrites counts as read too (so a
write of an equal value still conflicts with another write). Messages come out of a watched
store as `WatchedMessage`s, which note ("msg", id) only when a field an update may change is
read: the loop's read of the store depends on the messages that exist and on the fields it
looks at, not on every update of every message. Writes are what differs between
the worlds before and after. Both come from the step as it runs in that world: there is no
table of steps to keep in sync with the model by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress, count
from operator import attrgetter, is_not, ne

from turnproof.model.store import ASSISTANT, Message
from turnproof.model.world import World

Loc = tuple


@dataclass(frozen=True)
class Footprint:
    """The locations a step read (or overwrote) and those it changed."""

    reads: frozenset
    writes: frozenset  # what it changed, its clears aside
    clears: frozenset = frozenset()  # what it emptied without reading it first (onIdle's delete)

    def conflicts(self, other: Footprint) -> bool:
        """Dependent: one changes what the other reads or changes; but two clears of one location
        commute (it ends empty in either order), so they alone are no conflict."""
        return dependent(self.reads, self.writes, self.clears, other.reads, other.writes, other.clears)


def dependent(r1, w1, c1, r2, w2, c2) -> bool:
    """The dependency relation on (reads, writes, clears), as sets or as bit masks alike: one
    changes what the other reads or changes, two clears of one location aside."""
    return bool((w1 | c1) & r2 or (w2 | c2) & r1 or w1 & (w2 | c2) or w2 & c1)


CLEARED = "cleared"  # ("cleared", loc) among a step's noted reads: a clear of loc, not a read


def split(reads: set) -> tuple[frozenset, frozenset]:
    """A step's noted reads as (reads, clears)."""
    clears = frozenset(loc[1] for loc in reads if loc[0] == CLEARED)
    if not clears:
        return frozenset(reads), clears
    return frozenset(loc for loc in reads if loc[0] != CLEARED), clears


# Fields of a message that no update changes: reading them reads only which messages exist.
FIXED = frozenset(
    {"id", "seq", "role", "label", "parent", "asks", "source", "synthetic", "no_reply", "created", "when"}
)


def _update(mid, changes: dict) -> list[Loc]:
    """An update rewrites the message's changeable part; a fixed field must never change."""
    fixed = FIXED.intersection(changes)
    if fixed:
        raise ValueError(
            f"update_message changes {sorted(fixed)}, fields footprints take as fixed (model/footprint.py)"
        )
    return [("msg", mid)]


# What each World accessor the fiber programs call reads (or overwrites), from its arguments.
# An accessor missing here cannot be called on a Watched world: it fails rather than go unrecorded.
_NOTES: dict[str, Callable[..., list[Loc]]] = {
    "fiber": lambda w, name: [("fiber", name)],
    "fiber_at": lambda w, pos: [("fiber", w.fibers[pos - 1].name)],
    "position": lambda w, name: [("fiber", name)],  # the list is append-only: a place never changes
    "set_fiber": lambda w, f: [("fiber", f.name)],
    "add_fiber": lambda w, f: [("fibers",), ("fiber", f.name)],
    "run": lambda w, rid: [("run", rid)],
    "set_run": lambda w, r: [("run", r.id)],
    "new_run": lambda w, *args: [("runs",)],
    "set_runner": lambda w, idx, st: [("runner", idx)],
    "new_runner": lambda w, instance: [("runners",), ("map", instance)],
    "set_map": lambda w, instance, runner: [("map", instance) if runner is not None else (CLEARED, ("map", instance))],
    "mint": lambda w, sc: [("clock",)],
    "now": lambda w, sc: [("clock",)],
    "client_counter": lambda w: [("minted",)],
    "write": lambda w, msg: [("messages",), ("msg", msg.id), ("writes",)],
    "update_message": lambda w, mid, **changes: _update(mid, changes),
    "next_label": lambda w: [("labels",)],
    "mark_sent": lambda w, prompt: [("sent", prompt)],
    "open_turn": lambda w, turn: [("turns",), ("turn", turn.run)],
    "close_turn": lambda w, run: [("turn", run)],
    "set_inbox": lambda w, inbox: _inbox_parts(w.inbox, inbox),
}


class Watched:
    """A world that notes every location read through it; updates return a Watched world again.

    Only the accessors in `_NOTES` (and the fields below) exist here: calling any other World
    method on a Watched world fails, rather than going unrecorded.
    """

    __slots__ = ("world", "reads", "_store")

    def __init__(self, world: World, reads: set, store: WatchedStore | None = None):
        self.world, self.reads, self._store = world, reads, store

    def then(self, world: World) -> Watched:
        """The world an update returned, watched by the same reads; its store keeps its wrapper
        (and the messages already wrapped) when the update left the store alone."""
        store = self._store
        return self.__class__(world, self.reads, store if store is not None and store.store is world.store else None)

    def __getattr__(self, name: str):
        raise AttributeError(f"World.{name} is not recorded for footprints: add it to _NOTES in model/footprint.py")

    @property
    def store(self) -> WatchedStore:
        if self._store is None:
            self._store = WatchedStore(self.world.store, self.reads)
        return self._store

    @property
    def runners(self) -> Slots:
        return Slots(self.world.runners, "runner", self.reads)

    @property
    def homes(self) -> Slots:
        return Slots(self.world.homes, "home", self.reads)

    @property
    def maps(self) -> Slots:
        return Slots(self.world.maps, "map", self.reads)

    @property
    def sent(self) -> Sent:
        return Sent(self.world.sent, self.reads)

    @property
    def clock(self) -> int:
        self.reads.add(("clock",))
        return self.world.clock

    @property
    def labels(self) -> int:
        self.reads.add(("labels",))
        return self.world.labels

    @property
    def turns(self) -> tuple:
        self.reads.add(("turns",))
        self.reads.update(("turn", t.run) for t in self.world.turns)
        return self.world.turns

    @property
    def inbox(self) -> WatchedInbox:
        return WatchedInbox(self.world.inbox, self.reads)


class WatchedInbox:
    """The V2 inbox as a step reads it: its rows and seq are one location, the coordinator's entry
    another; which engine runs (`on`) never changes, so reading it notes nothing."""

    __slots__ = ("inbox", "reads")

    def __init__(self, inbox, reads: set):
        self.inbox, self.reads = inbox, reads

    @property
    def on(self) -> bool:
        return self.inbox.on

    @property
    def entry(self):
        self.reads.add(("entry",))
        return self.inbox.entry

    def with_entry(self, entry):
        """Overwrites the entry (which counts as reading it), keeps the rows without reading them."""
        self.reads.add(("entry",))
        return self.inbox.with_entry(entry)

    def __getattr__(self, name: str):  # rows, seq and what reads them (pending, row, admit, promote)
        self.reads.add(("inbox",))
        return getattr(self.inbox, name)


def _inbox_parts(a, b, differ=is_not) -> list[Loc]:
    """The inbox locations an update replaced by another object (an overwrite counts as a read, even
    of an equal value); with differ=ne, those whose value changed (a step's writes)."""
    out: list[Loc] = []
    if differ(a.rows, b.rows) or a.seq != b.seq or a.on != b.on:
        out.append(("inbox",))
    if differ(a.entry, b.entry):
        out.append(("entry",))
    return out


class WatchedStore:
    """The store as a step reads it: which messages exist, and each one's fields as read."""

    __slots__ = ("store", "reads", "_messages")

    def __init__(self, store, reads: set):
        self.store, self.reads, self._messages = store, reads, None

    def _watch(self, msgs) -> tuple:
        self.reads.add(("messages",))
        return tuple([WatchedMessage(m, self.reads) for m in msgs])

    @property
    def messages(self) -> tuple:
        if self._messages is None:
            self._messages = self._watch(self.store.messages)
        else:
            self.reads.add(("messages",))
        return self._messages

    @property
    def writes(self) -> int:
        self.reads.add(("writes",))
        return self.store.writes

    def size(self) -> int:
        self.reads.add(("messages",))
        return self.store.size()

    def get(self, mid):
        """One message by id: its fixed fields never change, so only what an update may change is read."""
        return WatchedMessage(self.store.get(mid), self.reads)

    def latest(self, order: str = "id"):
        """lastUser and lastAssistant follow from which messages exist (ids, write order, roles);
        lastFinished also from every assistant's finish."""
        self.reads.add(("messages",))
        return WatchedLatest(self.store.latest(order), self)

    def _all(self) -> None:
        """Reading every message's changeable fields too."""
        self.reads.add(("messages",))
        self.reads.update(("msg", m.id) for m in self.store.messages)

    def by_created(self):
        """The messages by (time_created, id): an order of fixed fields."""
        return self._watch(self.store.by_created())

    def request(self):
        """What the model request carries depends on every message's parts and finish."""
        self._all()
        return self.store.request()

    def newest_reply(self):
        """The newest non-user message by (time_created, id): fixed fields pick it."""
        self.reads.add(("messages",))
        m = self.store.newest_reply()
        return None if m is None else WatchedMessage(m, self.reads)

    def children(self, parent):
        return self._watch(self.store.children(parent))

    def count(self, role: str) -> int:
        self.reads.add(("messages",))
        return self.store.count(role)


class WatchedMessage:
    """One message as a step reads it: a field an update may change reads ("msg", id); a fixed
    field reads nothing more (the message's existence was read where it was found)."""

    __slots__ = ("msg", "reads")

    def __init__(self, msg, reads: set):
        self.msg, self.reads = msg, reads

    def __getattr__(self, name: str):  # what the properties below do not name: noted, to be safe
        self.reads.add(("msg", self.msg.id))
        return getattr(self.msg, name)


def _watched_field(name: str) -> property:
    get = attrgetter(name)
    if name in FIXED:
        return property(lambda self: get(self.msg))

    def noted(self):
        self.reads.add(("msg", self.msg.id))
        return get(self.msg)

    return property(noted)


for _field in (*Message.__dataclass_fields__, "when", "terminal", "answers", "has_tools"):
    setattr(WatchedMessage, _field, _watched_field(_field))


class WatchedLatest:
    """`Store.latest` as read: `finished` depends on the finish of every assistant."""

    __slots__ = ("latest", "store")

    def __init__(self, latest, store: WatchedStore):
        self.latest, self.store = latest, store

    def _one(self, m):
        return None if m is None else WatchedMessage(m, self.store.reads)

    @property
    def user(self):
        return self._one(self.latest.user)

    @property
    def assistant(self):
        return self._one(self.latest.assistant)

    @property
    def finished(self):
        self.store.reads.update(("msg", m.id) for m in self.store.store.messages if m.role == ASSISTANT)
        return self._one(self.latest.finished)


class Slots:
    """A tuple indexed by runner or instance: reading slot i reads location (kind, i)."""

    __slots__ = ("items", "kind", "reads")

    def __init__(self, items: tuple, kind: str, reads: set):
        self.items, self.kind, self.reads = items, kind, reads

    def __getitem__(self, i: int):
        self.reads.add((self.kind, i))
        return self.items[i]


class Sent:
    """The accepted prompts: asking about one prompt reads only that prompt's location."""

    __slots__ = ("names", "reads")

    def __init__(self, names: frozenset, reads: set):
        self.names, self.reads = names, reads

    def __contains__(self, name: str) -> bool:
        self.reads.add(("sent", name))
        return name in self.names


def _accessor(name: str, notes: Callable[..., list[Loc]]):
    method = getattr(World, name)

    def call(self: Watched, *args, **kwargs):
        world = self.world
        self.reads.update(notes(world, *args, **kwargs))
        out = method(world, *args, **kwargs)
        if out.__class__ is World:
            return self.then(out)
        if out.__class__ is tuple and out and out[0].__class__ is World:
            return (self.then(out[0]), *out[1:])
        return out

    call.__name__ = name
    call.__doc__ = f"World.{name}, noting what it reads or overwrites."
    return call


for _name, _notes in _NOTES.items():
    setattr(Watched, _name, _accessor(_name, _notes))


# The accessors every step calls, written out: the same notes as in _NOTES, without the generic
# call's list and argument packing (tests/test_footprint.py checks they note the same locations).


def _fiber(self: Watched, name: str):
    self.reads.add(("fiber", name))
    return self.world.fiber(name)


def _set_fiber(self: Watched, f):
    self.reads.add(("fiber", f.name))
    return self.then(self.world.set_fiber(f))


def _run(self: Watched, rid: int):
    self.reads.add(("run", rid))
    return self.world.run(rid)


def _set_run(self: Watched, r):
    self.reads.add(("run", r.id))
    return self.then(self.world.set_run(r))


FAST = {"fiber": _fiber, "set_fiber": _set_fiber, "run": _run, "set_run": _set_run}
for _name, _fast in FAST.items():
    _fast.__name__, _fast.__doc__ = _name, f"World.{_name}, noting what it reads or overwrites."
    setattr(Watched, _name, _fast)


def written(a: World, b: World) -> frozenset:
    """The locations whose value differs between world `a` and world `b` (a step's writes).

    Parts a step leaves alone are the very same objects in both worlds, so most checks are `is`;
    runners, runs and turns that are other objects are compared piece by piece only (equal pieces
    add nothing).
    """
    out: set[Loc] = set()
    add = out.add
    sa, sb = a.store, b.store
    if sa is not sb and sa != sb:  # (two messages may share an id: count them only if the stores differ)
        if sa.writes != sb.writes:
            add(("writes",))
        ma, mb = sa.messages, sb.messages
        old = dict(zip(map(_ID, ma), ma, strict=True))
        if len(old) != len(mb):
            add(("messages",))
        # the messages that are not the very object the old store held under their id (in C)
        for m in compress(mb, map(is_not, map(old.get, map(_ID, mb)), mb)):
            if old.get(m.id) != m:
                add(("msg", m.id))
    _grown(add, a.runners, b.runners, "runner", _place, "runners")
    _grown(add, a.homes, b.homes, "home", _place)
    _grown(add, a.maps, b.maps, "map", _place)
    _grown(add, a.runs, b.runs, "run", _id, "runs")
    _grown(add, a.fibers, b.fibers, "fiber", _name, "fibers")
    if a.clock != b.clock:
        add(("clock",))
    if a.labels != b.labels:
        add(("labels",))
    if a.minted != b.minted:
        add(("minted",))
    if a.inbox is not b.inbox and a.inbox != b.inbox:
        out.update(_inbox_parts(a.inbox, b.inbox, ne))
    if a.turns is not b.turns:
        old_turns, new_turns = {t.run: t for t in a.turns}, {t.run: t for t in b.turns}
        out.update(("turn", r) for r in old_turns.keys() | new_turns.keys() if old_turns.get(r) != new_turns.get(r))
        if [t.run for t in b.turns] != [t.run for t in a.turns if t.run in new_turns]:
            add(("turns",))  # a turn was opened: it goes last
    if a.sent is not b.sent:
        out.update(("sent", p) for p in b.sent ^ a.sent)
    return frozenset(out)


_ID = attrgetter("id")


def _grown(add, xs: tuple, ys: tuple, kind: str, key, whole: str = "") -> None:
    """A tuple that only grows at its end (runners, homes, maps, runs, fibers): `(kind, key)` for
    each element this step made or changed, and `(whole,)` when it grew. Element i keeps its key
    (a runner's place, a run's id, a fiber's name), so the old or the new one names it alike."""
    if xs is ys:
        return
    for i in range(len(xs), len(ys)):  # made by this step
        add((kind, key(i, ys[i])))
    for i in compress(count(), map(is_not, xs, ys)):  # (the places of other objects, found in C)
        y = ys[i]
        if hash(xs[i]) != hash(y) or xs[i] != y:  # (a value keeps its hash: the world's hash needs it anyway)
            add((kind, key(i, y)))
    if whole and len(xs) != len(ys):
        add((whole,))


def _place(i: int, _) -> int:
    return i


def _id(_: int, r) -> int:
    return r.id


def _name(_: int, f) -> str:
    return f.name
