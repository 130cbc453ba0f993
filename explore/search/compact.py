"""A visited set of fingerprints, and the parent links, in flat arrays: a few dozen bytes a state.

With `--fingerprint`, bfs keeps no world once it is expanded, only what TLC keeps: each world's
64-bit fingerprint, the number of the world it was first reached from and the fiber that moved,
its depth; a trace is rebuilt by re-running its fibers from the initial world. Python's dict and
int objects would cost about 150 bytes a state for that (a dict entry, an int object for the
fingerprint and another for the number); these arrays cost 8 + 4 bytes a slot of an
open-addressing table at most half full, and 8 + 8 + 2 + 4 bytes of links a world.
"""

from __future__ import annotations

from array import array

EMPTY = 0  # a free slot; the fingerprint 0 is stored as ZERO (one more collision in 2^64)
ZERO = 0x9E3779B97F4A7C15


class Visited:
    """fingerprint -> world number, by linear probing in two arrays, at most half full.

    The fingerprints are digests (blake2b), so their low bits already spread evenly: the slot is
    the fingerprint's low bits."""

    __slots__ = ("fps", "nums", "mask", "count")

    def __init__(self, slots: int = 1 << 12) -> None:
        self.fps = array("Q", bytes(8 * slots))
        self.nums = array("I", bytes(4 * slots))
        self.mask = slots - 1
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def get(self, fp: int) -> int | None:
        fp = fp or ZERO
        fps, mask = self.fps, self.mask
        i = fp & mask
        while True:
            f = fps[i]
            if f == fp:
                return self.nums[i]
            if f == EMPTY:
                return None
            i = (i + 1) & mask

    def add(self, fp: int, number: int) -> None:
        """Store a fingerprint not yet stored."""
        if 2 * (self.count + 1) > len(self.fps):
            self._grow()
        self._put(fp or ZERO, number)
        self.count += 1

    def _put(self, fp: int, number: int) -> None:
        fps, mask = self.fps, self.mask
        i = fp & mask
        while fps[i] != EMPTY:
            i = (i + 1) & mask
        fps[i] = fp
        self.nums[i] = number

    def _grow(self) -> None:
        old = zip(self.fps, self.nums, strict=True)
        slots = 2 * len(self.fps)
        self.fps, self.nums, self.mask = array("Q", bytes(8 * slots)), array("I", bytes(4 * slots)), slots - 1
        for fp, n in old:
            if fp != EMPTY:
                self._put(fp, n)

    @property
    def nbytes(self) -> int:
        return self.fps.itemsize * len(self.fps) + self.nums.itemsize * len(self.nums)


class Links:
    """Per world number: its fingerprint, its parent's number (-1 for the initial world), the fiber
    that moved from the parent (a code into `fibers`) and its depth."""

    __slots__ = ("keys", "parent", "via", "depths", "fibers", "codes")

    def __init__(self, fp: int) -> None:
        self.keys = array("Q", [fp])
        self.parent = array("q", [-1])
        self.via = array("H", [0])
        self.depths = array("I", [0])
        self.fibers: list[str] = [""]
        self.codes: dict[str, int] = {"": 0}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, fp: int, parent: int, fiber: str, depth: int) -> None:
        code = self.codes.get(fiber)
        if code is None:
            code = self.codes[fiber] = len(self.fibers)
            self.fibers.append(fiber)
        self.keys.append(fp)
        self.parent.append(parent)
        self.via.append(code)
        self.depths.append(depth)

    def path(self, n: int) -> list[str]:
        """The fibers that lead from the initial world to world number `n`."""
        fibers = []
        while self.parent[n] >= 0:
            fibers.append(self.fibers[self.via[n]])
            n = self.parent[n]
        fibers.reverse()
        return fibers

    def fibers_of(self, via) -> list[str]:
        """The fiber names of a run of codes (bfs's parent pointers by fingerprint, at the end)."""
        return [self.fibers[c] for c in via]

    @property
    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.keys, self.parent, self.via, self.depths))
