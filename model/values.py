"""Immutable values that hash once and copy cheaply: the parts every world is made of.

A search hashes and compares millions of worlds built from a few thousand distinct messages,
fibers, runs and runners, and makes each successor by replacing one or two fields. `@value` turns
a class written like a frozen dataclass into a class with `__slots__` and generated code for
exactly those operations: build (fields stored straight into the slots), replace some fields
(the others copied slot by slot), hash once (kept in a slot), compare (the same object, two kept
hashes that differ, else the fields as one tuple compare in C, which shortcuts identical fields).

Frozen, and fast to build: an instance is filled in as a private twin class that shares the
layout but allows assignment, then takes its public class, whose `__setattr__` refuses. Besides
its fields a value holds its hash and a dict of entries other modules keep with it (`kept`);
neither is compared, and pickling sends the fields only (`hash()` of a string is salted per
process). The class keeps `__dataclass_fields__`, so `dataclasses.fields` and
`dataclasses.replace` still work on it.
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass
from dataclasses import fields as _dataclass_fields
from functools import cache
from typing import dataclass_transform

_SPARE = ("_hash", "_kept")  # the slots besides the fields: the kept hash, the kept entries


@cache
def field_names(cls: type) -> tuple[str, ...]:
    """The fields of `cls`, in definition order (what equality and hashing compare)."""
    return tuple(cls.__dataclass_fields__)


@dataclass_transform(frozen_default=True)  # type checkers (and mypyc) see the fields and constructor
def value(cls: type) -> type:
    """A frozen value class with slots, from a class written as for `@dataclass(frozen=True)`."""
    dc = dataclass(frozen=True)(cls)  # reads the fields, defaults and factories as a dataclass does
    fields = _dataclass_fields(dc)
    names = tuple(f.name for f in fields)
    body = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
    for k in ("__hash__", "__eq__", "__setattr__", "__delattr__", "__init__", "__getstate__", "__setstate__"):
        body.pop(k, None)
    base = type(f"_{cls.__name__}Slots", (), {"__slots__": names + _SPARE, "__module__": cls.__module__})
    twin = type(f"_{cls.__name__}Building", (base,), {"__slots__": ()})
    new = type(cls.__name__, (base,), {**body, "__slots__": ()})
    new.__qualname__ = cls.__qualname__
    new.__repr__ = dc.__repr__  # the dataclass's own text: abstractions print values in their keys
    for name, method in _methods(names, fields, new, twin).items():
        setattr(new, name, method)
    return new


def _methods(names: tuple[str, ...], fields, cls: type, twin: type) -> dict:
    """The generated methods of one value class (`twin`: its assignable twin)."""
    params, stores, defaults = [], [], {}
    for f in fields:
        n = f.name
        if f.default is not MISSING:
            defaults[f"_d_{n}"] = f.default
            params.append(f"{n}=_d_{n}")
        elif f.default_factory is not MISSING:  # a fresh default per value, as the dataclass makes
            defaults[f"_f_{n}"] = f.default_factory
            params.append(f"{n}=_FACTORY")
            stores.append(f"        new.{n} = {n} if {n} is not _FACTORY else _f_{n}()")
            continue
        else:
            params.append(n)
        stores.append(f"        new.{n} = {n}")
    store = "\n".join(stores)
    copy = "\n".join(f"        new.{n} = self.{n}" for n in names)
    mine = ", ".join(f"self.{n}" for n in names) + ","
    theirs = ", ".join(f"other.{n}" for n in names) + ","
    source = f"""
def make(cls, twin):
    _new = object.__new__
    _set_hash = cls.__base__._hash.__set__

    def __new__(_cls, {", ".join(params)}):
        new = _new(twin)
{store}
        new._hash = None
        new._kept = None
        new.__class__ = cls
        return new

    def _replace(self, changes):
        new = _new(twin)
{copy}
        for name in changes:
            setattr(new, name, changes[name])
        new._hash = None
        new._kept = None
        new.__class__ = cls
        return new

    def __hash__(self):
        h = self._hash
        if h is None:
            h = hash(({mine}))
            _set_hash(self, h)
        return h

    def __eq__(self, other):
        if self is other:
            return True
        if other.__class__ is not cls:
            return NotImplemented
        h, g = self._hash, other._hash
        if h is not None and g is not None and h != g:
            return False
        return ({mine}) == ({theirs})

    def __reduce__(self):
        return (cls, ({mine}))

    return {{"__new__": staticmethod(__new__), "_replace": _replace, "__hash__": __hash__,
             "__eq__": __eq__, "__reduce__": __reduce__, "__setattr__": _frozen, "__delattr__": _frozen_del}}
"""
    scope = {"_FACTORY": _FACTORY, "_frozen": _frozen, "_frozen_del": _frozen_del, **defaults}
    exec(compile(source, f"<value {cls.__name__}>", "exec"), scope)
    return scope["make"](cls, twin)


_FACTORY = object()  # a parameter left to its field's default_factory


def _frozen(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_del(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def kept(obj, key: str, make):
    """`make(obj)`, computed once and kept with the value under `key`: every world that shares the
    value shares the result. (`make` never returns None: None means "not computed".)"""
    d = obj._kept
    if d is None:
        d = {}
        object.__setattr__(obj, "_kept", d)
    found = d.get(key)
    if found is None:
        found = d[key] = make(obj)
    return found


def replace(obj, **changes):
    """A copy of a value with some fields changed; the copy keeps neither hash nor kept entries."""
    try:
        return obj._replace(changes)
    except AttributeError:
        unknown = sorted(set(changes) - set(field_names(obj.__class__)))
        if not unknown:
            raise
        raise TypeError(f"{obj.__class__.__name__} has no field {unknown[0]!r}") from None
