"""A trace.json checked whole before replay, explain or conform use any of it.

Every field `turnproof check` writes and a reader uses is checked for its type, the nesting is
bounded, the schedule must be the steps' fibers and the lasso must lie within them; each problem
is an InputError naming the file and the field (path like `steps[3].events[0].action`).
"""

from __future__ import annotations

import json
from pathlib import Path

from turnproof.explore.search.trace import decode, encode
from turnproof.model.config import GRANULARITIES
from turnproof.specs.loader import InputError, fiber_name

MAX_DEPTH = 32  # a trace.json nests 6 deep (steps, messages, tools); anything far deeper is not one
MAX_BYTES = 256 << 20
FIELDS = ("design", "scenario", "property", "schedule", "steps")


def read(path: Path, properties: set[str]) -> dict:
    """The document at `path`, checked; InputError (one line) on the first problem."""
    try:
        if path.exists() and not path.is_file():  # a folder, a pipe (whose reading would block), a device
            raise InputError(f"{path}: cannot read: not a regular file (a trace.json is a file)")
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: over {MAX_BYTES >> 20} MB: not a trace.json")
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is allowed
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputError(f"{path}: cannot read: {why}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply (a trace.json nests {MAX_DEPTH} levels at most)") from None
    check(doc, path, properties)
    if doc.get("lasso", 0) is None:
        del doc["lasso"]  # null: no lasso, as if absent
    return doc


def check(doc, path, properties: set[str]) -> None:
    """Raise InputError unless `doc` is a trace.json as check writes it."""

    def bad(where: str, what: str):
        raise InputError(f"{path}: {where}: {what}")

    if _depth(doc) > MAX_DEPTH:
        raise InputError(f"{path}: JSON nested too deeply (a trace.json nests {MAX_DEPTH} levels at most)")
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object (a trace.json written by turnproof check)")
    for key in FIELDS:
        if key not in doc:
            bad(key, "missing (is this a trace.json written by turnproof check?)")
    for key in ("design", "scenario"):
        _name(doc[key], key, bad)
    for key in ("design_file", "scenario_file"):
        if doc.get(key) is not None:
            _name(doc[key], key, bad)
    if not isinstance(doc["property"], str):
        bad("property", f"expected a string, got {_type(doc['property'])}")
    if doc["property"] not in properties:
        bad("property", f"{_show(doc['property'])} is not a property turnproof checks")
    if "violation" not in doc:
        bad("violation", "missing (is this a trace.json written by turnproof check?)")
    if not isinstance(doc["violation"], str):
        bad("violation", f"expected a string, got {_type(doc['violation'])}")
    if "granularity" in doc and doc["granularity"] not in GRANULARITIES:
        bad("granularity", f"expected one of {', '.join(GRANULARITIES)}, got {_show(doc['granularity'])}")
    if "highlight" in doc and not _list_of(doc["highlight"], str):
        bad("highlight", "expected a list of message ids (strings)")
    if not isinstance(doc["schedule"], str):
        bad("schedule", f"expected a string, got {_type(doc['schedule'])}")
    steps = doc["steps"]
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        bad("steps", "expected a list of step objects")
    if not steps:
        bad("steps", "empty: a counterexample has at least one step")
    for i, s in enumerate(steps, 1):
        _step(s, f"steps[{i - 1}]", i, bad)
    fibers = [s["fiber"] for s in steps]
    try:
        scheduled = decode(doc["schedule"], limit=len(steps))
    except ValueError as e:
        bad("schedule", str(e))
    if scheduled != fibers:
        bad("schedule", f"{_show(doc['schedule'])} is not the steps' fibers ({encode(fibers)})")
    if "length" in doc and doc["length"] != len(steps):
        bad("length", f"{_show(doc['length'])} is not the number of steps ({len(steps)})")
    lasso = doc.get("lasso")
    if lasso is not None:
        if not isinstance(lasso, dict):
            bad("lasso", f"expected an object {{prefix, cycle, cycle_from}}, got {_type(lasso)}")
        start = lasso.get("cycle_from")
        if not isinstance(start, int) or isinstance(start, bool) or not 1 <= start <= len(steps):
            bad("lasso.cycle_from", f"expected a step number from 1 to {len(steps)}, got {_show(start)}")
        for key, part in (("prefix", fibers[: start - 1]), ("cycle", fibers[start - 1 :])):
            if lasso.get(key) != encode(part):
                bad(f"lasso.{key}", f"expected {encode(part)!r} (the steps' fibers), got {_show(lasso.get(key))}")


def _step(s: dict, at: str, number: int, bad) -> None:
    if s.get("step") != number or isinstance(s.get("step"), bool):
        bad(f"{at}.step", f"expected {number}, got {_show(s.get('step'))}")
    if "fiber" not in s:
        bad(f"{at}.fiber", "missing")
    if not isinstance(s["fiber"], str) or not fiber_name(s["fiber"]):
        bad(f"{at}.fiber", f"{_show(s['fiber'])} is not a fiber name (a prompt name or r<digits>)")
    for key in ("action", "source"):
        if not isinstance(s.get(key), str):
            bad(f"{at}.{key}", f"expected a string, got {_type(s.get(key))}")
    events = s.get("events")
    if not isinstance(events, list) or not events:
        bad(f"{at}.events", "expected a non-empty list of event objects")
    for j, e in enumerate(events):
        if not isinstance(e, dict):
            bad(f"{at}.events[{j}]", f"expected an object, got {_type(e)}")
        for key in ("action", "source", "says"):
            if not isinstance(e.get(key), str):
                bad(f"{at}.events[{j}].{key}", f"expected a string, got {_type(e.get(key))}")
    msgs = s.get("messages")
    if not isinstance(msgs, list):
        bad(f"{at}.messages", f"expected a list of message objects, got {_type(msgs)}")
    for j, m in enumerate(msgs):
        _message(m, f"{at}.messages[{j}]", bad)


def _message(m, at: str, bad) -> None:
    if not isinstance(m, dict):
        bad(at, f"expected a message object, got {_type(m)}")
    for key in ("id", "label"):
        if not isinstance(m.get(key), str):
            bad(f"{at}.{key}", f"expected a string, got {_type(m.get(key))}")
    if m.get("role") not in ("user", "assistant"):
        bad(f"{at}.role", f"expected user or assistant, got {_show(m.get('role'))}")
    if m["role"] == "user":
        if not isinstance(m.get("client"), str):
            bad(f"{at}.client", f"expected a string, got {_type(m.get('client'))}")
        return
    for key in ("parentID", "parent", "finish"):
        if key not in m:
            bad(f"{at}.{key}", "missing")
        if m[key] is not None and not isinstance(m[key], str):
            bad(f"{at}.{key}", f"expected a string or null, got {_type(m[key])}")
    if not isinstance(m.get("completed"), bool):
        bad(f"{at}.completed", f"expected true or false, got {_type(m.get('completed'))}")
    if not _list_of(m.get("tools"), str):
        bad(f"{at}.tools", "expected a list of tool states (strings)")
    if not isinstance(m.get("by"), str):
        bad(f"{at}.by", f"expected a string, got {_type(m.get('by'))}")
    if "error" in m and not isinstance(m["error"], str):
        bad(f"{at}.error", f"expected a string, got {_type(m['error'])}")


def _name(v, key: str, bad) -> None:
    if not isinstance(v, str):
        bad(key, f"expected a design/scenario name or path (a string), got {_type(v)}")
    if not v or any(ord(c) < 32 or ord(c) == 127 for c in v):
        bad(key, f"{_show(v)}: empty or has control characters")


def _list_of(v, kind) -> bool:
    return isinstance(v, list) and all(isinstance(x, kind) for x in v)


def _type(v) -> str:
    return "nothing" if v is None else {dict: "an object", list: "a list"}.get(type(v), type(v).__name__)


def _show(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _depth(v, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth, without recursion (a hostile file cannot exhaust the stack), capped at limit."""
    deepest, todo = 0, [(v, 1)]
    while todo:
        x, d = todo.pop()
        if isinstance(x, dict | list):
            deepest = max(deepest, d)
            if deepest >= limit:
                return deepest
            todo.extend((y, d + 1) for y in (x.values() if isinstance(x, dict) else x))
    return deepest
