"""Client-minted message ids on the real server, and the pacing that maps the model's clock to it.

opencode 1.15.4 mints an id as `Identifier.create` does (fidelity notes §3): n = ms × 4096 +
counter, kept to its low 48 bits, written as 12 hex digits, then 14 random characters from
0-9A-Za-z, after the prefix `msg_`. A client `messageID` is only checked to start with "msg".

The model's clock counts server message ids: tick j is the j-th id the server mints, and a
client id at tick x sorts after server id x and before x + 1 (model/ids.py). Real ids carry
milliseconds, so the harness *paces* a drive that has client-minted ids: it holds each step that
makes the server mint tick j until `TICK × j` after the drive began, and mints a client id at
tick x for the moment `TICK × (x + LATE)`. A server id of tick x then sorts below it as long as
the server minted it within `TICK × LATE` of its window opening, and tick x + 1 sorts above it.
The drive checks that afterwards (`Pacer.misses`): a late mint is reported, not hidden.
"""

from __future__ import annotations

import math
import secrets
import time

TICK = 0.6  # seconds of real time per model tick while pacing
LATE = 0.85  # where in its tick's window a client id is minted (fraction of TICK)
AHEAD = 3600.0  # "ahead by more than the scenario lasts" (clock = inf): one hour, in seconds
AFTER_ALL = "msg_" + "z" * 12  # ids from here on sort after every id the server mints ("msg_zzzz…")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def mint(ms: int, counter: int = 1) -> str:
    """A message id as `Identifier.create("message", "ascending")` makes it at `ms`."""
    n = (ms * 4096 + counter) & ((1 << 48) - 1)
    return f"msg_{n:012x}" + "".join(secrets.choice(BASE62) for _ in range(14))


class ClientClock:
    """One client process's mint: like `Identifier.create`, its counter goes up within one ms and
    starts again when the ms changes, so its later ids sort after its earlier ones (model/ids.py:
    a later client id at the same tick sorts after an earlier one)."""

    def __init__(self):
        self.ms, self.counter = -1, 0

    def mint(self, ms: int) -> str:
        if ms != self.ms:
            self.ms, self.counter = ms, 0
        self.counter += 1
        return mint(ms, self.counter)


def after_all() -> str:
    """A fresh id that sorts after every server id: `msg_zzzzzzzzzzzz` and 14 random characters.
    Fresh each time: opencode upserts messages by id, so a reused id would overwrite a message of
    an earlier drive on the same server instead of writing a new one."""
    return AFTER_ALL + "".join(secrets.choice(BASE62) for _ in range(14))


def millis(mid: str) -> int:
    """The low 36 bits of the millisecond an id was minted at (the 48-bit field without its counter)."""
    return int(mid[4:16], 16) >> 12


class Pacer:
    """Holds a drive to the model's clock: tick j's mint happens in [T0 + j·TICK, T0 + (j + LATE)·TICK)."""

    def __init__(self, tick: float = TICK, start: float | None = None):
        self.tick = tick
        self.t0 = time.time() if start is None else start
        self.windows: dict[int, float] = {}  # tick -> when the harness opened its window
        self.client = ClientClock()  # the scenario's client clock (the harness drives one)

    def hold(self, tick: int) -> None:
        """Wait until tick `tick`'s window opens (the step about to run makes the server mint it)."""
        at = self.t0 + tick * self.tick
        left = at - time.time()
        if left > 0:
            time.sleep(left)
        self.windows[tick] = at

    def client_id(self, tick: float) -> str:
        """The id a client mints at model tick `tick` (inf: an hour ahead of the server's clock)."""
        if math.isinf(tick):
            return self.client.mint(int((time.time() + AHEAD) * 1000))
        return self.client.mint(int((self.t0 + (tick + LATE) * self.tick) * 1000))

    def late(self, minted: dict[int, str]) -> list[str]:
        """For each server id (tick -> real id) minted after its tick's client ids would sit: the
        pacing did not hold there (an id minted early, in a chain of mints after one held step, is
        harmless unless a client id lies between them, which the id-order comparison shows)."""
        out = []
        for tick, mid in sorted(minted.items()):
            ms = millis(mid)
            lo = int((self.t0 + tick * self.tick) * 1000) % (1 << 36)
            hi = int((self.t0 + (tick + LATE) * self.tick) * 1000) % (1 << 36)
            if ms >= hi:
                out.append(f"tick {tick}'s id was minted {ms - lo} ms into its window (client ids sit at {hi - lo} ms)")
        return out
