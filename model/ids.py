"""Message ids, ordered as opencode compares them (plain string order of `msg_<12 hex><random>`).

The 12 hex digits are a clock reading times 0x1000 plus a counter (id/id.ts:22, `create`), so
ids sort by the clock that minted them. Here a clock reading is a tick, counted in server ids
minted so far; an id is (tick, origin). Server ids are (t, 1). A client that mints its own id
(the request's `messageID`) reads its own clock: (t + offset, 2), which at the same tick sorts
just after the server's id, as if minted a moment later. AFTER_ALL stands for an id such as
`msg_zzzz…` that sorts after every id the server will mint.
"""

from __future__ import annotations

import math

Id = tuple[float, int]
SERVER, CLIENT = 1, 2
AFTER_ALL = math.inf


def server(tick: int) -> Id:
    return (tick, SERVER)


def client(tick: float) -> Id:
    return (tick, CLIENT)


def show(mid: Id | None) -> str:
    """Short form for traces: `3` a server id, `3c` a client id at tick 3, `max` after all."""
    if mid is None:
        return "-"
    tick, origin = mid
    if tick == AFTER_ALL:
        return "max"
    return f"{int(tick)}" if origin == SERVER else f"{int(tick)}c"
