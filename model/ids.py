"""Message ids and creation times, ordered as opencode 1.15.4 compares them.

An id is `msg_` + 12 hex digits + random characters, compared as a plain string. The 12 hex
digits are the low 48 bits of ms × 0x1000 + counter (`Identifier.create`, id/id.ts:22), so ids
sort by the clock that minted them, until the 48 bits wrap (every 2^36 ms, about 795 days) or
the clock steps back. Here a clock reading is a tick, counted in server ids minted so far; an id
is (tick, counter), the counter standing for the ms and counter below the tick. Server ids are
(t, 1). A client that mints its own id (the request's `messageID`) reads its own clock:
(t + offset, 1 + k) for the k-th client id minted in the run, so it sorts after the server's id
of its tick (as if minted a moment later) and after every client id minted before it in the
same tick: distinct, as the real ids are (ms × 4096 + counter, then a random tail). Which order
two client clocks' readings take inside one tick is the order they were minted in; where the
mint order is free, the schedule explores both (model/fibers.py, `client.mint`). AFTER_ALL
stands for an id such as `msg_zzzz…` that sorts after every id the server will mint.

`time.created` is the server's `Date.now()` when the message object is built, never truncated:
`created` is (reading, 1) for a message whose id the server minted then, and (reading, 2) for
one built with a client's id. The store reads messages in (created, id) order (`MessageV2.page`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Id = tuple[float, int]
Created = tuple[float, int]
SERVER, CLIENT = 1, 2
AFTER_ALL = math.inf
WRAP = float(2**36)  # the ms the 48 bits of an id hold (ms × 4096 + counter); ticks stand for ms here


def server(tick: float) -> Id:
    return (tick, SERVER)


def client(tick: float, counter: int = CLIENT) -> Id:
    """A client-minted id: `counter` (from CLIENT up) is its place among the client ids minted in
    the run; at an equal tick a later one sorts after an earlier one, and all after the server's."""
    return (tick, counter)


def is_client(mid: Id) -> bool:
    return mid[1] >= CLIENT


@dataclass(frozen=True)
class ServerClock:
    """The server's clock as a scenario sets it: ids wrap, or the clock steps back.

    `wrap_after`: the 48-bit wrap falls after the server's n-th id; later ids lose 2^36 and sort
    below every earlier one, while `time.created` (a full number) keeps increasing.
    `back_after`, `back_by`: after the n-th id the clock steps back by that many ids' worth (and
    half an id, so that no reading repeats); ids and `time.created` go back together.
    """

    wrap_after: int | None = None
    back_after: int | None = None
    back_by: int = 0

    def reading(self, n: int) -> float:
        """The clock reading (Date.now()) once the server has minted n ids."""
        if self.back_after is not None and n > self.back_after:
            return n - self.back_by - 0.5
        return n

    def id_tick(self, n: int) -> float:
        """The tick the n-th server id's 48 bits hold: the reading, less 2^36 past the wrap."""
        wrapped = self.wrap_after is not None and n > self.wrap_after
        return self.reading(n) - WRAP if wrapped else self.reading(n)

    def jump_ahead(self, n: int) -> int | None:
        """Ids still to mint before the next wrap or step back (None: no jump ahead)."""
        left = [k - n for k in (self.wrap_after, self.back_after) if k is not None and k >= n]
        return min(left) if left else None


def show(mid: Id | None) -> str:
    """Short form for traces: `3` a server id, `3c` the first client id at tick 3, `4c2` the second
    client id minted in the run (at tick 4), `max` after all, `5w` the 5th server id past the
    48-bit wrap, `2.5` a reading after the clock stepped back."""
    if mid is None:
        return "-"
    tick, origin = mid
    nth = f"{origin - 1}" if origin > CLIENT else ""
    if tick == AFTER_ALL:
        return "max" + (f"c{nth}" if nth else "")
    mark = "c" + nth if origin >= CLIENT else ""
    if tick < -WRAP / 2:
        tick, mark = tick + WRAP, mark + "w"
    text = f"{int(tick)}" if tick == int(tick) else f"{tick:g}"
    return text + mark
