"""Immutable values that hash once and copy cheaply: the parts every world is made of.

A search hashes and compares millions of worlds built from a few thousand distinct messages,
fibers, runs and runners, and makes each successor by replacing one or two fields. The
dataclasses' generated `__hash__` recomputes over every field at each call, and
`dataclasses.replace` goes through `__init__`; here the hash is kept with the value (it never
changes: the value is frozen) and `replace` copies the field dict. Cached entries live in the
instance dict under names that begin with "_", which are never fields, never compared, and
dropped when a value is pickled (`hash()` of a string differs between processes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import dataclass_transform

# Every entry a module caches in a value's dict: `replace` must not copy them to the new value.
CACHED = ("_hash", "_fp", "_enc", "_locations", "_abs")


@cache
def field_names(cls: type) -> tuple[str, ...]:
    """The dataclass fields of `cls`, in definition order (what equality and hashing compare)."""
    return tuple(cls.__dataclass_fields__)


@dataclass_transform(frozen_default=True)  # type checkers (and mypyc) see the fields and constructor
def value(cls: type) -> type:
    """`@dataclass(frozen=True)`, with the hash kept once computed and pickling of fields only."""
    own_hash = "__hash__" in cls.__dict__
    cls = dataclass(frozen=True)(cls)
    if not own_hash:
        cls.__hash__ = _cached_hash
    cls.__getstate__ = _fields_only
    return cls


def kept(obj, key: str, make):
    """`make(obj)`, computed once and kept in the value's dict under `key` (one of CACHED): every
    world that shares the value shares the result."""
    d = obj.__dict__
    found = d.get(key)
    if found is None:
        found = d[key] = make(obj)
    return found


def _cached_hash(self) -> int:
    d = self.__dict__
    h = d.get("_hash")
    if h is None:
        h = d["_hash"] = hash(tuple([d[n] for n in field_names(self.__class__)]))
    return h


def _fields_only(self) -> dict:
    """Pickle the fields only: a cached hash is this process's (`hash()` of a string is salted)."""
    return {k: v for k, v in self.__dict__.items() if k[0] != "_"}


def replace(obj, **changes):
    """`dataclasses.replace` for frozen dataclasses without `__post_init__`, minus the `__init__` call."""
    d = obj.__dict__.copy()
    if len(d) > len(field_names(obj.__class__)):  # something was cached with the old value
        for key in CACHED:
            d.pop(key, None)
    for k in changes:
        if k not in d:
            raise TypeError(f"{obj.__class__.__name__} has no field {k!r}")
    d.update(changes)
    new = object.__new__(obj.__class__)
    object.__setattr__(new, "__dict__", d)
    return new
