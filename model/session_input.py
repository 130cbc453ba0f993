"""The V2 engine's server state (opencode 1.18.34): the `session_input` inbox and the drain coordinator.

Plain immutable values; what changes them lives in `model/inbox.py`. `seq` is the session's one
durable event sequence (`EventV2.latestSequence`). In the real log admissions, promotions and every
step event take the next value; the model counts only admissions and promotions, since nothing it
decides reads the others (a steer is promoted when its admitted_seq is at most the current seq, which
step events only raise), and counting them would make every step depend on every admission.
"""

from __future__ import annotations

from turnproof.model.values import replace, value


@value
class Row:
    """One `session_input` row: a prompt, its delivery, `admitted_seq` and `promoted_seq` (None: pending)."""

    name: str
    delivery: str  # "steer" | "queue"
    admitted: int
    promoted: int | None = None
    wake: bool = True  # resume !== false: the admission woke the coordinator
    by: int = 0  # the drain (run id) that promoted it, a ghost for the specs

    @property
    def pending(self) -> bool:
        return self.promoted is None


@value
class Entry:
    """`SessionRunCoordinator`'s map entry for the session: the owner drain, `pendingWake`, `stopping`."""

    owner: str  # the drain fiber (r1, r2, …)
    pending_wake: bool = False
    stopping: bool = False


@value
class Inbox:
    """Rows in admission order, the event sequence and the coordinator entry. `on`: the design's
    prompts reach the V2 engine (the specs then read the store by seq, not by parentID)."""

    on: bool = False
    rows: tuple[Row, ...] = ()
    seq: int = 0
    entry: Entry | None = None

    def admit(self, name: str, delivery: str, wake: bool) -> Inbox:
        """`session.next.prompt.admitted`: the next seq is the row's `admitted_seq`."""
        return replace(self, rows=self.rows + (Row(name, delivery, self.seq + 1, wake=wake),), seq=self.seq + 1)

    def pending(self, delivery: str | None = None) -> tuple[Row, ...]:
        """`SessionInput.hasPending(delivery)`: unpromoted rows, in `admitted_seq` order."""
        return tuple(r for r in self.rows if r.pending and (delivery is None or r.delivery == delivery))

    def promote(self, name: str, by: int) -> Inbox:
        """`session.next.prompted`: the next seq is both `promoted_seq` and the user row's seq."""
        rows = tuple(replace(r, promoted=self.seq + 1, by=by) if r.name == name else r for r in self.rows)
        return replace(self, rows=rows, seq=self.seq + 1)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

    def with_entry(self, entry: Entry | None) -> Inbox:
        return replace(self, entry=entry)

    def abstract(self) -> tuple:
        """The inbox up to what only grows (the seq values), for the liveness abstraction."""
        return (self.on, tuple((r.name, r.delivery, r.pending, r.wake) for r in self.rows), self.entry)
