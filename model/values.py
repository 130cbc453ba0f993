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
from operator import itemgetter
from typing import dataclass_transform

# Every entry a module caches in a value's dict: `replace` must not copy them to the new value.
CACHED = ("_hash", "_fp", "_enc", "_locations", "_abs", "_by_created", "_newest", "_latest_id", "_latest_created")


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
    cls.__eq__ = _equal
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
        h = d["_hash"] = hash(_fields_of(self.__class__)(d))
    return h


def _equal(self, other) -> bool:
    """Field by field, as the dataclass compares, with shortcuts: the same object; two hashes
    already kept that differ; or the two dicts equal as a whole (a compare in C, cached entries
    included: they are functions of the fields, so equal fields keep equal entries)."""
    if self is other:
        return True
    if other.__class__ is not self.__class__:
        return NotImplemented
    a, b = self.__dict__, other.__dict__
    ha, hb = a.get("_hash"), b.get("_hash")
    if ha is not None and hb is not None and ha != hb:
        return False
    if len(a) == len(b) and a == b:
        return True
    get = _fields_of(self.__class__)
    return get(a) == get(b)


@cache
def _fields_of(cls: type) -> itemgetter:
    """Reads a value's fields out of its dict, in C (one field: the field itself, not a tuple)."""
    return itemgetter(*field_names(cls))


def _fields_only(self) -> dict:
    """Pickle the fields only: a cached hash is this process's (`hash()` of a string is salted)."""
    return {k: v for k, v in self.__dict__.items() if k[0] != "_"}


def replace(obj, **changes):
    """`dataclasses.replace` for frozen dataclasses without `__post_init__`, minus the `__init__` call."""
    cls = obj.__class__
    d = obj.__dict__.copy()
    n = len(cls.__dataclass_fields__)
    if len(d) > n:  # something was cached with the old value: most often the hash alone
        d.pop("_hash", None)
        if len(d) > n:
            for key in CACHED:
                d.pop(key, None)
    d.update(changes)
    if len(d) > n:  # a change names no field
        unknown = sorted(changes.keys() - cls.__dataclass_fields__.keys())[0]
        raise TypeError(f"{cls.__name__} has no field {unknown!r}")
    new = object.__new__(cls)
    object.__setattr__(new, "__dict__", d)
    return new
