"""DPOR's footprints as bit masks, and the renamings of prompt names it applies to them.

Plain DPOR names every fiber and location as the world it is in names them: its renaming is
`IDENTITY`, and every renaming it meets is None. DPOR over orbits (a Quotient of
explore/scale/symmetry.py) keeps every world the least of its orbit, so a step's successor is
renamed; it passes an `OrbitRenaming`, which interns those renamings (`Perm`), composes and
inverts them. The search (explore/search/dpor.py) calls both the same way, so its race routines
read alike for the two; `Masks` renames footprints by whatever renaming it is handed.
"""

from __future__ import annotations

from turnproof.model.system import BOUND
from turnproof.model.world import World

NAMED = ("fiber", "sent")  # the location kinds that name a prompt (model/footprint.py)


class Perm:
    """A renaming of prompt names (the names it moves), interned per search so that footprints
    renamed by it can be remembered under its key."""

    __slots__ = ("map", "key", "inverse")

    def __init__(self, m: dict[str, str], key: tuple):
        self.map, self.key = m, key
        self.inverse: Perm | None = None


def named(name: str, p: Perm | None) -> str:
    """A fiber's (or prompt's) name after renaming p (None: the identity)."""
    return name if p is None else p.map.get(name, name)


class Renaming:
    """The identity, which plain DPOR uses: every world stands for itself, nothing is renamed,
    and every renaming handed out is None. `OrbitRenaming` overrides each method."""

    def model(self, system):
        """The model whose steps the search takes (and whose footprints it reads)."""
        return system

    def canonical(self, w: World) -> tuple[World, Perm | None]:
        """The world kept for w, and the renaming that made it from w."""
        return w, None

    def names(self, loc: tuple) -> bool:
        """Whether a renaming may move this location (it names an interchangeable prompt)."""
        return False

    def then(self, a: Perm | None, b: Perm | None) -> Perm | None:
        """Renaming a, then b."""
        return None

    def back(self, p: Perm | None) -> Perm | None:
        """The inverse of p."""
        return None


IDENTITY = Renaming()


class OrbitRenaming(Renaming):
    """DPOR over orbits: the renamings of a Quotient's interchangeable prompts (its `symmetry`),
    its steps taken in the plain model (its `system`). One per search: it interns renamings."""

    def __init__(self, quotient):
        self.plain, self.symmetry = quotient.system, quotient.symmetry
        self.members = self.symmetry.members
        self.perms: dict[tuple, Perm] = {}

    def model(self, system):
        return self.plain

    def canonical(self, w: World) -> tuple[World, Perm | None]:
        least, m = self.symmetry.canonical(w)
        return least, self.perm(m)

    def names(self, loc: tuple) -> bool:
        return loc[0] in NAMED and loc[1] in self.members

    def perm(self, m: dict) -> Perm | None:
        """The interned renaming moving what m moves (None: the identity)."""
        if not m:
            return None
        key = tuple(sorted(m.items()))
        p = self.perms.get(key)
        if p is None:
            p = self.perms[key] = Perm(dict(m), key)
        return p

    def then(self, a: Perm | None, b: Perm | None) -> Perm | None:
        if b is None:
            return a
        if a is None:
            return b
        out = {}
        for n in self.members:
            x = a.map.get(n, n)
            y = b.map.get(x, x)
            if y != n:
                out[n] = y
        return self.perm(out)

    def back(self, p: Perm | None) -> Perm | None:
        if p is None:
            return None
        if p.inverse is None:
            p.inverse = self.perm({new: old for old, new in p.map.items()})
        return p.inverse


class Masks:
    """Footprints as bit masks: one bit per location met, given out as they come (per search).
    The bits of locations that deciding visibility reads (`kinds`) make up `visible`; those a
    renaming may move are remembered, so that a mask can be renamed."""

    def __init__(self, kinds: set, renaming: Renaming):
        self.kinds, self.names = kinds, renaming.names
        self.bit: dict = {BOUND: 0}  # BOUND is handled by making steps past the bound visible
        self.memo: dict[frozenset, int] = {}  # a footprint's set of locations -> its mask (they recur)
        self.visible = 0
        self.named = 0  # the bits of locations that name a prompt a renaming moves
        self.named_loc: dict[int, tuple] = {}  # such a bit -> its location
        self.renamings: dict[tuple, int] = {}  # (mask, perm key) -> the mask renamed

    def __call__(self, locs: frozenset) -> int:
        m = self.memo.get(locs)
        if m is None:
            m = self.memo[locs] = self.of(locs)
        return m

    def of(self, locs) -> int:
        """The mask of these locations, giving new ones their bits."""
        m = 0
        for loc in locs:
            b = self.bit.get(loc)
            if b is None:
                b = self.bit[loc] = 1 << (len(self.bit) - 1)
                if loc[0] in self.kinds:
                    self.visible |= b
                if self.names(loc):
                    self.named |= b
                    self.named_loc[b] = loc
            m |= b
        return m

    def rename(self, mask: int, p: Perm | None) -> int:
        """A footprint mask with the prompt names in its locations renamed by p."""
        if p is None or not mask & self.named:
            return mask
        k = (mask, p.key)
        out = self.renamings.get(k)
        if out is None:
            out = mask & ~self.named
            rest = mask & self.named
            while rest:
                b = rest & -rest
                rest ^= b
                kind, name = self.named_loc[b]
                out |= self.of(((kind, p.map.get(name, name)),))
            self.renamings[k] = out
        return out

    def renamed(self, fp: tuple[int, int, int], p: Perm | None) -> tuple[int, int, int]:
        """A footprint's (reads, writes, clears) masks, renamed by p."""
        if p is None:
            return fp
        r = self.rename
        return r(fp[0], p), r(fp[1], p), r(fp[2], p)

    def renamed_below(self, below: dict, p: Perm | None) -> dict:
        """A summary (fiber -> footprint masks) with its fibers and locations renamed by p."""
        if p is None:
            return below
        return {p.map.get(g, g): self.renamed(fp, p) for g, fp in below.items()}
