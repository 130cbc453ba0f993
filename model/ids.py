"""Message ids and creation times, ordered as opencode 1.15.4 compares them.

An id is `msg_` + 12 hex digits + random characters, compared as a plain string. The 12 hex
digits are the low 48 bits of ms × 0x1000 + counter (`Identifier.create`, id/id.ts:22), so ids
sort by the clock that minted them, until the 48 bits wrap (every 2^36 ms, about 795 days) or
the clock steps back. Here a clock reading is a tick, counted in server ids minted so far; an id
is (tick, origin). Server ids are (t, 1). A client that mints its own id (the request's
`messageID`) reads its own clock: (t + offset, 2), which at the same tick sorts just after the
server's id, as if minted a moment later. AFTER_ALL stands for an id such as `msg_zzzz…` that
sorts after every id the server will mint.

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


def client(tick: float) -> Id:
    return (tick, CLIENT)


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
    """Short form for traces: `3` a server id, `3c` a client id at tick 3, `max` after all,
    `5w` the 5th server id past the 48-bit wrap, `2.5` a reading after the clock stepped back."""
    if mid is None:
        return "-"
    tick, origin = mid
    if tick == AFTER_ALL:
        return "max"
    mark = "c" if origin == CLIENT else ""
    if tick < -WRAP / 2:
        tick, mark = tick + WRAP, mark + "w"
    text = f"{int(tick)}" if tick == int(tick) else f"{tick:g}"
    return text + mark
