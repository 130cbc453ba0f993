"""Compact fingerprints of worlds: a 64-bit blake2b digest of a canonical text encoding.

The encoding is the same in every process (no `hash()`, whose seed differs per process; the
`sent` set is sorted), so workers and the owner of a partitioned search agree on keys. As in
SPIN's hash compaction and TLC's fingerprints, two distinct worlds may share a fingerprint; with
n states the chance that any two do is at most n(n-1)/2^65 (`collision_bound`).
"""

from __future__ import annotations

from hashlib import blake2b

from turnproof.model.values import kept
from turnproof.model.world import World

BITS = 64


def _message(m) -> str:
    tools = tuple((p.call, p.status) for p in m.tools)
    return repr(
        (m.id, m.seq, m.role, m.label, m.parent, m.finish, m.completed, m.error, tools, m.asks, m.source)
        + (m.synthetic, m.no_reply, m.created)
    )


def _fiber(f) -> str:
    return repr(
        (f.name, f.kind, f.pc, f.prompt, f.run, f.runner, f.instance, f.msg, f.user, f.seen, f.answer, f.idle)
        + (f.interrupt, f.target, f.result, f.created, f.fails, f.counter)
    )


def _run(r) -> str:
    return repr((r.id, r.runner, r.starter, r.prompt, r.done, r.result))


def _runner(s) -> str:
    return repr((s.tag, s.run, s.shell, s.queue))


def encode(w: World) -> str:
    """Every field of the world as one string; equal worlds, equal strings, and conversely.

    Each part is the repr of a tuple of ints, floats, strings, None and bools, and the head
    says how many parts of each kind follow, so the string parses back to the world's values.
    """
    head = (w.store.writes, w.clock, w.minted, w.labels, w.homes, w.maps, tuple(sorted(w.sent)))
    head += (tuple((t.run, t.user, t.since) for t in w.turns), repr(w.inbox))
    head += (len(w.store.messages), len(w.runners), len(w.runs), len(w.fibers))
    parts = [repr(head)]
    parts += [kept(m, "_enc", _message) for m in w.store.messages]
    parts += [kept(s, "_enc", _runner) for s in w.runners]
    parts += [kept(r, "_enc", _run) for r in w.runs]
    parts += [kept(f, "_enc", _fiber) for f in w.fibers]
    return "".join(parts)


def digest(text: str) -> int:
    return int.from_bytes(blake2b(text.encode(), digest_size=BITS // 8).digest(), "big")


def fingerprint(w: World) -> int:
    """The world's 64-bit fingerprint, computed once per world object."""
    return kept(w, "_fp", lambda world: digest(encode(world)))


def collision_bound(states: int, bits: int = BITS) -> float:
    """Upper bound on the probability that two of `states` distinct worlds share a fingerprint."""
    return states * (states - 1) / 2 ** (bits + 1)
