"""The whole system at one instant: store, runners, runs and fibers, as one immutable value.

`World` is what the explorer hashes. Fibers are explicit program counters; what each one does
next lives in `model/fibers.py`.
"""

from __future__ import annotations

from dataclasses import field

from turnproof.model import ids
from turnproof.model.ids import Created, Id, ServerClock
from turnproof.model.runner import RunnerState
from turnproof.model.session_input import Inbox
from turnproof.model.store import Message, Store
from turnproof.model.values import replace, value


@value
class Run:
    """A run handle: the forked prompt loop and its `done` Deferred.

    `prompt` is set only when the guarded work itself writes the user message (guard="turn").
    """

    id: int
    runner: int
    starter: str  # the prompt whose ensureRunning made this run (kept for binding="turn")
    prompt: str | None = None
    done: str | None = None  # None until completed: "ok" or "cancelled"
    result: str | None = None  # label of what its waiters get: the newest non-user message


@value
class Turn:
    """Ghost record of an open turn, for the specs: run `run` answering `user` since write `since`."""

    run: int
    user: Id
    since: int


@value
class Fiber:
    """A fiber: its name (the schedule's letter), kind, program counter and the locals it keeps."""

    name: str
    kind: str  # "client" (a route handler), "run" (the prompt loop), "tool" (an aborted tool call)
    pc: str
    prompt: str = ""  # client: the scenario prompt it serves
    route: str = ""  # client: the route its request takes (prompt, prompt_async, shell, abort)
    no_reply: bool = False  # client: a noReply prompt (context only; it awaits no reply)
    run: int = 0  # run fiber: its run; client: the run it awaits or interrupts
    runner: int = -1  # client: the Runner it looked up in the map (effect granularity)
    instance: int = 0  # which server instance (runner map) it lives in
    msg: Id | None = None  # run: the assistant it is streaming into; shell: its assistant;
    # client: the id its user message was given, while the message is not written yet
    created: tuple | None = None  # client: that message's time.created, until it is written
    counter: int = 0  # client minting apart: its messageID's counter, once minted (model/ids.py)
    user: Id | None = None  # run: the user message its current assistant answers
    seen: tuple[Id, ...] = ()  # run: ids of the messages sent to the model in this step
    answer: str = ""  # run: what the scripted model replies to that request ("tool" | "stop")
    idle: bool = False  # run: finishRun found it current, so onIdle is still owed (effect split)
    interrupt: bool = False  # Fiber.interrupt was requested by a cancel
    target: str = ""  # abort client: the fiber it interrupted and now waits for
    fails: tuple[int, ...] = ()  # abort client: runs whose `done` it fails once the stop is over
    result: str = ""  # client: what the request returned

    @property
    def ended(self) -> bool:
        return self.pc == "end"


@value
class World:
    store: Store = field(default_factory=Store)
    runners: tuple[RunnerState, ...] = ()  # every Runner ever made; index is its identity
    homes: tuple[int, ...] = ()  # for each Runner, the instance whose map created it
    maps: tuple[int | None, ...] = (None,)  # per instance: the session's entry in `runners` map
    runs: tuple[Run, ...] = ()
    fibers: tuple[Fiber, ...] = ()
    clock: int = 0  # the server clock: ticks, one per id the server has minted
    minted: int = 0  # client-minted ids so far: the next one's counter below its tick (model/ids.py)
    turns: tuple[Turn, ...] = ()
    sent: frozenset[str] = frozenset()  # prompts the server has accepted
    labels: int = 0  # assistants written so far, for labels A1, A2, …
    inbox: Inbox = field(default_factory=Inbox)  # the V2 engine's session_input and coordinator

    # --- small pure updates, used by the fiber programs -----------------------------------

    def fiber(self, name: str) -> Fiber:
        for f in self.fibers:
            if f.name == name:
                return f
        raise KeyError(name)

    def set_fiber(self, f: Fiber) -> World:
        """The fiber of that name replaced by `f`; the other fibers are the same objects."""
        fibers = self.fibers
        for i, g in enumerate(fibers):
            if g.name == f.name:
                if g is f:
                    return self
                return replace(self, fibers=fibers[:i] + (f,) + fibers[i + 1 :])
        return self

    def add_fiber(self, f: Fiber) -> World:
        return replace(self, fibers=self.fibers + (f,))

    def run(self, rid: int) -> Run:
        return self.runs[rid - 1]

    def set_run(self, r: Run) -> World:
        runs = list(self.runs)
        runs[r.id - 1] = r
        return replace(self, runs=tuple(runs))

    def new_run(self, runner: int, starter: str, prompt: str | None) -> tuple[World, int]:
        rid = len(self.runs) + 1
        return replace(self, runs=self.runs + (Run(rid, runner, starter, prompt),)), rid

    def set_runner(self, idx: int, st: RunnerState) -> World:
        rs = list(self.runners)
        rs[idx] = st
        return replace(self, runners=tuple(rs))

    def new_runner(self, instance: int) -> tuple[World, int]:
        """`Runner.make` for the session in `instance`'s map (SessionRunState.runner)."""
        idx = len(self.runners)
        w = replace(self, runners=self.runners + (RunnerState(),), homes=self.homes + (instance,))
        return w.set_map(instance, idx), idx

    def set_map(self, instance: int, runner: int | None) -> World:
        if self.maps[instance] == runner:
            return self
        maps = list(self.maps)
        maps[instance] = runner
        return replace(self, maps=tuple(maps))

    def mint(self, sc: ServerClock) -> tuple[World, Id, Created]:
        """A fresh server-side MessageID.ascending() and the Date.now() built with it: later than
        every server id before it, unless the scenario's clock wraps or steps back in between."""
        n = self.clock + 1
        return replace(self, clock=n), ids.server(sc.id_tick(n)), (sc.reading(n), ids.SERVER)

    def now(self, sc: ServerClock) -> tuple[Created, float]:
        """Date.now() for a message built without a server id, and the tick a client's clock
        starts from (the server's latest id reading)."""
        return (sc.reading(self.clock), ids.CLIENT), sc.id_tick(self.clock)

    def client_counter(self) -> tuple[World, int]:
        """The counter of the next client-minted id: it sorts after every client id minted before
        it at the same tick (one clock's later reading, or its counter within one ms)."""
        return replace(self, minted=self.minted + 1), ids.CLIENT + self.minted

    def write(self, msg: Message) -> World:
        return replace(self, store=self.store.add(msg))

    def update_message(self, mid: Id, **changes) -> World:
        """Session.updateMessage / updatePart on one message already in the store."""
        return replace(self, store=self.store.update(mid, **changes))

    def next_label(self) -> tuple[World, str]:
        """The label of the next assistant written: A1, A2, … in write order (cosmetic)."""
        return replace(self, labels=self.labels + 1), f"A{self.labels + 1}"

    def mark_sent(self, prompt: str) -> World:
        """The server accepted this prompt's request (what `after` waits for)."""
        return replace(self, sent=self.sent | {prompt})

    def open_turn(self, turn: Turn) -> World:
        return replace(self, turns=self.turns + (turn,))

    def close_turn(self, run: int) -> World:
        turns = tuple(t for t in self.turns if t.run != run)
        return self if len(turns) == len(self.turns) else replace(self, turns=turns)

    def set_inbox(self, inbox: Inbox) -> World:
        return replace(self, inbox=inbox)

    def fiber_at(self, position: int) -> Fiber:
        """The fiber at a place in the fiber list, from 1 (a shell's handle id names its client)."""
        return self.fibers[position - 1]

    def position(self, name: str) -> int:
        """A fiber's place in the (append-only) fiber list, from 1."""
        return [f.name for f in self.fibers].index(name) + 1
