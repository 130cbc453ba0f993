"""Load designs and scenarios from TOML files, by built-in name or by path, with strict checks.

Every problem is an InputError whose message is one line naming the file, the field and what
is allowed; the CLI prints it and exits 2.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

from turnproof.model.config import (
    ANSWERS,
    CLIENTS,
    DELIVERIES,
    GRANULARITIES,
    ID_SOURCES,
    KNOBS,
    PARTS,
    PROVIDERS,
    ROUTES,
    TOOL_KINDS,
    Design,
    Prompt,
    Scenario,
)
from turnproof.model.ids import ServerClock

HERE = Path(__file__).parent
DESIGNS = HERE / "designs"
SCENARIOS = HERE / "scenarios"
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")  # whole-string: always NAME.fullmatch
RESERVED = re.compile(r"[rt][0-9]+")  # run fibers are named r1, r2, …; aborted tool calls t1, t2, …
MAX_MESSAGES = 200
MAX_FILE = 1 << 20  # a design or scenario is a few hundred bytes


def fiber_name(name: str) -> bool:
    """A prompt name or a run or tool fiber's (r1, t1, …): the whole string, no control characters."""
    return bool(NAME.fullmatch(name) or RESERVED.fullmatch(name))


def _printable(ref: str) -> bool:
    return not any(ord(c) < 32 or ord(c) == 127 for c in ref)


class InputError(Exception):
    """Bad user input: a one-line message naming the file and field."""


def builtin(kind: str) -> list[str]:
    folder = DESIGNS if kind == "design" else SCENARIOS
    return sorted(p.stem for p in folder.glob("*.toml"))


def resolve(kind: str, ref: str) -> Path:
    """A built-in name or a path to a TOML file."""
    folder = DESIGNS if kind == "design" else SCENARIOS
    if not ref or not _printable(ref) or "\x00" in ref:
        raise InputError(f"{ref!r}: not a {kind} name or path (empty, or has control characters)")
    path = Path(ref) if ref.endswith(".toml") else folder / f"{ref}.toml"
    if not path.is_file() and "/" in ref and not ref.endswith(".toml"):
        path = Path(ref)
    if not path.is_file():
        known = ", ".join(builtin(kind))
        raise InputError(f"{ref}: no such {kind} (built-in: {known}; or give a path to a .toml file)")
    return path


def _read(path: Path) -> dict:
    """The TOML table at `path`; a UTF-8 byte-order mark is allowed, deep nesting is an error."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise InputError(f"{path}: over {MAX_FILE >> 10} KB: not a design or scenario")
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid TOML: {(str(e).splitlines() or [''])[0]}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid TOML: nested too deeply") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None


def _only(path: Path, where: str, data: dict, allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise InputError(f"{path}: {where}{key}: unknown field (allowed: {', '.join(allowed)})")


def _str(path: Path, field: str, value, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise InputError(f"{path}: {field}: expected a string, got {type(value).__name__}")
    if choices and value not in choices:
        raise InputError(f"{path}: {field}: {value!r} is not one of {', '.join(choices)}")
    return value


def _int(path: Path, field: str, value, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{path}: {field}: expected a whole number, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise InputError(f"{path}: {field}: {value} is out of range ({lo} to {hi})")
    return value


def load_design(ref: str) -> Design:
    path = resolve("design", ref)
    data = _read(path)
    _only(path, "", data, ("description",) + tuple(KNOBS) + ("base", "change"))
    knobs = {k: _str(path, k, data[k], KNOBS[k]) for k in KNOBS if k in data}
    desc = _str(path, "description", data.get("description", ""))
    base, change = _str(path, "base", data.get("base", "")), _str(path, "change", data.get("change", ""))
    if base and not change:
        raise InputError(f"{path}: change: a design with a base names the upstream change it models")
    return Design(path.stem, desc, path=str(path), base=base, change=change, **knobs)


def load_scenario(ref: str) -> Scenario:
    path = resolve("scenario", ref)
    data = _read(path)
    clock_fields = ("wrap_after", "step_back_after", "step_back_by")
    _only(path, "", data, ("description", "granularity", "max_messages", "prompt") + clock_fields)
    raw = data.get("prompt")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{path}: prompt: at least one [[prompt]] table is required")
    prompts: list[Prompt] = []
    for i, item in enumerate(raw, 1):
        prompts.append(_prompt(path, f"prompt[{i}].", item, prompts))
    return Scenario(
        path.stem,
        tuple(prompts),
        description=_str(path, "description", data.get("description", "")),
        granularity=_str(path, "granularity", data.get("granularity", "await"), GRANULARITIES),
        max_messages=_int(path, "max_messages", data.get("max_messages", 12), 1, MAX_MESSAGES),
        server=_server_clock(path, data),
        path=str(path),
    )


def _server_clock(path: Path, data: dict) -> ServerClock:
    """The server clock's jumps: the 48-bit id wrap after the n-th server id, or a step back."""
    wrap = data.get("wrap_after")
    back = data.get("step_back_after")
    if wrap is not None:
        wrap = _int(path, "wrap_after", wrap, 0, MAX_MESSAGES)
    if back is not None:
        back = _int(path, "step_back_after", back, 0, MAX_MESSAGES)
    if (back is None) != ("step_back_by" not in data):
        raise InputError(f"{path}: step_back_by: step_back_after and step_back_by go together")
    by = _int(path, "step_back_by", data["step_back_by"], 1, 20) if back is not None else 0
    return ServerClock(wrap_after=wrap, back_after=back, back_by=by)


def _prompt(path: Path, at: str, item, before: list[Prompt]) -> Prompt:
    if not isinstance(item, dict):
        raise InputError(f"{path}: {at[:-1]}: expected a table")
    fields = ("name", "client", "route", "tools", "instance", "after", "no_reply", "id", "clock", "parts", "hook")
    _only(path, at, item, fields + ("delivery", "resume", "tool_kind", "provider"))
    if "name" not in item:
        raise InputError(f"{path}: {at}name: missing (a short name such as U1)")
    name = _str(path, at + "name", item["name"])
    if not NAME.fullmatch(name) or RESERVED.fullmatch(name):
        raise InputError(
            f"{path}: {at}name: {name!r} must be a letter then up to 15 letters, digits or _, "
            "not r<digits> or t<digits>"
        )
    if any(p.name == name for p in before):
        raise InputError(f"{path}: {at}name: {name!r} is used twice")
    route = _str(path, at + "route", item.get("route", "prompt_async"), ROUTES)
    tools = _int(path, at + "tools", item.get("tools", 0), 0, 5)
    if tools and route in ("shell", "abort", "interrupt") + ANSWERS:
        raise InputError(f"{path}: {at}tools: a {route} request calls no model, so tools must be 0")
    tool_kind, provider = _model_fields(path, at, item, route, tools)
    no_reply = item.get("no_reply", False)
    if not isinstance(no_reply, bool):
        raise InputError(f"{path}: {at}no_reply: expected true or false")
    if no_reply and (route not in ("prompt", "prompt_async") or tools):
        raise InputError(f"{path}: {at}no_reply: only a prompt or prompt_async with tools = 0 can be noReply")
    delivery, resume = _v2_fields(path, at, item, route)
    id_source = _str(path, at + "id", item.get("id", "server"), ID_SOURCES)
    clock = _clock(path, at + "clock", item.get("clock", "equal"))
    if "clock" in item and id_source != "client":
        raise InputError(f'{path}: {at}clock: only a prompt with id = "client" mints on a client clock')
    if id_source != "server" and route not in ("prompt", "prompt_async", "shell"):
        raise InputError(f"{path}: {at}id: only a prompt, prompt_async or shell carries a messageID")
    parts = _str(path, at + "parts", item.get("parts", "text"), PARTS)
    hook = item.get("hook", False)
    if not isinstance(hook, bool):
        raise InputError(f"{path}: {at}hook: expected true or false")
    if (parts != "text" or hook) and route not in ("prompt", "prompt_async"):
        field = "hook" if hook else "parts"
        raise InputError(f"{path}: {at}{field}: only a prompt or prompt_async has parts and hooks")
    after = item.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise InputError(f"{path}: {at}after: expected a list of earlier prompt names")
    for a in after:
        if not any(p.name == a for p in before):
            raise InputError(f"{path}: {at}after: {a!r} is not an earlier prompt")
    return Prompt(
        name,
        client=_str(path, at + "client", item.get("client", "web"), CLIENTS),
        route=route,
        tools=tools,
        instance=_int(path, at + "instance", item.get("instance", 0), 0, 3),
        after=tuple(after),
        no_reply=no_reply,
        id=id_source,
        clock=clock,
        delivery=delivery,
        resume=resume,
        parts=parts,
        hook=hook,
        tool_kind=tool_kind,
        provider=provider,
    )


def _model_fields(path: Path, at: str, item: dict, route: str, tools: int) -> tuple[str, str]:
    """`tool_kind` and `provider`: what the model calls answering a prompt do (model/question.py)."""
    tool_kind = _str(path, at + "tool_kind", item.get("tool_kind", "plain"), TOOL_KINDS)
    provider = _str(path, at + "provider", item.get("provider", "ok"), PROVIDERS)
    if tool_kind != "plain" and not tools:
        raise InputError(f"{path}: {at}tool_kind: a {tool_kind} tool needs tools = 1 or more")
    if provider != "ok" and route not in ("prompt", "prompt_async", "v2"):
        raise InputError(f"{path}: {at}provider: only a prompt, prompt_async or v2 request calls the model")
    return tool_kind, provider


def _v2_fields(path: Path, at: str, item: dict, route: str) -> tuple[str, bool]:
    """`delivery` and `resume`: fields of the V2 prompt route (POST /api/session/:id/prompt) only."""
    for key in ("delivery", "resume"):
        if key in item and route != "v2":
            raise InputError(f'{path}: {at}{key}: only a prompt with route = "v2" carries {key}')
    delivery = _str(path, at + "delivery", item.get("delivery", ""), DELIVERIES)
    resume = item.get("resume", True)
    if not isinstance(resume, bool):
        raise InputError(f"{path}: {at}resume: expected true or false")
    return delivery, resume


CLOCKS = {"equal": 0, "behind": -1, "ahead": math.inf}


def _clock(path: Path, field: str, value) -> float:
    """A client clock offset in server ticks: a whole number, or equal / behind / ahead."""
    if isinstance(value, str):
        if value not in CLOCKS:
            raise InputError(f"{path}: {field}: {value!r} is not one of {', '.join(CLOCKS)} or a whole number")
        return CLOCKS[value]
    return _int(path, field, value, -20, 20)
