"""Adversarial inputs, as a careful user would try them: every class of issue 13, each case with the
exit code that is right for it, and the table in docs/reliability.md counted from these cases.

A case ends *clean* when it exits with its expected code (2 for bad input, 3 for a spent budget,
130 for an interrupt, the right verdict otherwise) and, for an error, says so on one line; a
*traceback* is an uncaught exception or an internal error (exit 70); a *hang* passes HANG_S; a
*wrong verdict* is any other exit code or output. The table is kept at zero:
`python tests/test_adversarial.py` rewrites it, a test compares it.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner
from conftest import shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_signals import HANG_S, INTERRUPTS, interrupted

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "reliability.md"
FIX = ROOT / "tests" / "fixtures" / "audit"


@dataclass(frozen=True)
class Case:
    cls: str  # the row of the table (a class of issue 13)
    name: str
    make: Callable[[Path], list[str]]  # writes what it needs under a folder, returns the CLI args
    expect: int  # the exit code that is right
    says: str = ""  # a piece of the output that must be there
    patch: tuple[str, Exception] | None = None  # (target, exception) to make an internal error


CLASSES = (
    "exit status",
    "trace.json",
    "schedule strings",
    "names",
    "output paths",
    "nesting and encodings",
    "size and budgets",
    "audit soundness",
    "results and odd inputs",
)

# --------------------------------------------------------------------------------------------
# inputs


@functools.cache
def good_trace() -> dict:
    """A real trace.json: v1.15.4 × tool-race, turn-binding (and one lasso, clock-skew)."""
    from turnproof.explore.search.bfs import bfs
    from turnproof.explore.views.report import trace_doc
    from turnproof.model.system import System
    from turnproof.specs.loader import load_design, load_scenario
    from turnproof.specs.properties import PROPERTIES

    res = bfs(System(load_design("v1.15.4"), load_scenario("tool-race")), PROPERTIES)
    return json.loads(json.dumps(trace_doc(res, "turn-binding")))


def trace(change: Callable[[dict], object], cmd: str = "replay", bom: bool = False):
    def make(d: Path) -> list[str]:
        doc = json.loads(json.dumps(good_trace()))
        change(doc)
        path = d / "trace.json"
        path.write_text(("\ufeff" if bom else "") + json.dumps(doc), encoding="utf-8")
        return [cmd, str(path)]

    return make


def raw(name: str, text: str, args: Callable[[Path], list[str]]):
    def make(d: Path) -> list[str]:
        (d / name).write_text(text, encoding="utf-8")
        return args(d / name)

    return make


def scenario(body: str, *extra: str):
    return raw("s.toml", body, lambda p: ["check", "--design", "v1.15.4", "--scenario", str(p), *extra])


def design(body: str, *extra: str):
    return raw("d.toml", body, lambda p: ["check", "--design", str(p), "--scenario", "tool-race", *extra])


def args(*a: str):
    return lambda d: [x.replace("{d}", str(d)) for x in a]


def blocked(*a: str):
    """CLI args with {f}: a path under a plain file (so it cannot be a folder)."""

    def make(d: Path) -> list[str]:
        (d / "file").write_text("")
        return [x.replace("{f}", str(d / "file")).replace("{d}", str(d)) for x in a]

    return make


def crowd(*extra: str):
    return args("check", "--design", "v1.15.4", "--scenario", "large/crowd", "--out", "{d}/o", *extra)


def fifo(*a: str):
    """CLI args with {p}: a named pipe with no writer (reading it would block for ever)."""

    def make(d: Path) -> list[str]:
        os.mkfifo(d / "pipe.json")
        return [x.replace("{p}", str(d / "pipe.json")).replace("{d}", str(d)) for x in a]

    return make


def foreign(*a: str):
    """CLI args with {d}/o: a folder holding a file turnproof did not write (never to be replaced)."""

    def make(d: Path) -> list[str]:
        (d / "o").mkdir()
        (d / "o" / "notes.txt").write_text("mine")
        return [x.replace("{d}", str(d)) for x in a]

    return make


def wide(prompts: int = 12, tools: int = 5) -> str:
    """The scenario that hung silently: 12 prompts × 5 tool round-trips."""
    return "".join(f'[[prompt]]\nname = "U{i}"\ntools = {tools}\n' for i in range(1, prompts + 1))


def set_in(path: tuple, value):
    def change(doc: dict) -> None:
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return change


def drop(path: tuple):
    def change(doc: dict) -> None:
        node = doc
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]

    return change


# audit sessions, as JSON Lines of {info, parts}, with opencode's id layout (id/id.ts)
SID = "ses_1c52c0000000adversarial00"
T0 = 1779120000000


def mid(ms: int, tag: str) -> str:
    return f"msg_{(ms * 0x1000 + 1) & ((1 << 48) - 1):012x}" + (tag + "0" * 14)[:14]


def u(ms: int, tag: str, id_ms: int | None = None) -> dict:
    return {"id": mid(ms if id_ms is None else id_ms, tag), "sessionID": SID, "role": "user", "time": {"created": ms}}


def a(ms: int, tag: str, parent: dict | str, finish: str | None, done: bool = True) -> dict:
    t = {"created": ms} | ({"completed": ms + 500} if done else {})
    m = {"id": mid(ms, tag), "sessionID": SID, "role": "assistant", "time": t}
    m["parentID"] = parent if isinstance(parent, str) else parent["id"]
    return m | ({"finish": finish} if finish else {})


def tool_part(m: dict, state) -> dict:
    return {"type": "tool", "tool": "bash", "messageID": m["id"], "sessionID": SID, "state": state}


def session(*records: tuple[dict, list], bom: bool = False, extra: tuple = ()):
    def make(d: Path) -> list[str]:
        lines = [json.dumps({"info": m, "parts": parts}) for m, parts in records]
        (d / "s.jsonl").write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
        return ["audit", str(d / "s.jsonl"), "--out", str(d / "o"), *extra]

    return make


DONE = {"status": "completed", "input": {}, "output": "", "title": "", "metadata": {}, "time": {"start": 0, "end": 1}}
U1, U2 = u(T0, "U1"), u(T0 + 3000, "U2")
A1 = a(T0 + 100, "A1", U1, "tool-calls")
# an older assistant never completed (a run that was killed), then a tool branch broken at the end
STALE = a(T0 + 50, "A0", U1, None, done=False)
# U2 written after U1 but its id minted on a clock 2 s behind: it sorts below U1 by id
U2_BEHIND = u(T0 + 3000, "U2", id_ms=T0 - 2000)
A2_BEHIND = a(T0 + 4000, "A2", U2_BEHIND, "stop")
CYC1 = {**a(T0 + 200, "C1", "x", "stop"), "parentID": mid(T0 + 300, "C2")}
CYC2 = {**a(T0 + 300, "C2", "x", "stop"), "parentID": mid(T0 + 200, "C1")}
WRAP = 1 << 36
U_WRAP = u(WRAP * 26 - 1000, "Uw")  # 2026-08-14 11:19:54 UTC: a second before the ids wrapped
A_WRAP = a(WRAP * 26 + 500, "Aw", U_WRAP, "stop")  # written after the wrap: its id sorts first

CASES: list[Case] = [
    # --- 1. exit status: a crash is not a verdict ------------------------------------------------
    Case(
        "exit status",
        "internal error in check",
        args("check", "--design", "v1.15.4", "--scenario", "tool-race", "--out", "{d}/o"),
        70,
        "TURNPROOF_DEBUG=1",
        ("turnproof.cli.main.search", RuntimeError("boom")),
    ),
    Case(
        "exit status",
        "internal error in audit",
        args("audit", str(FIX / "running.export.json"), "--out", "{d}/o"),
        70,
        "--debug",
        ("turnproof.audit.audit_paths", ValueError("boom")),
    ),
    Case(
        "exit status",
        "MemoryError in replay",
        args("replay", "--schedule", "U1", "--design", "v1.15.4", "--scenario", "tool-race"),
        70,
        "MemoryError",
        ("turnproof.explore.search.confirm.run_schedule", MemoryError()),
    ),
    # --- 2. trace.json ----------------------------------------------------------------------------
    *(
        Case("trace.json", f"{cmd}: {name}", trace(change, cmd), 2, needle)
        for cmd in ("replay", "explain")
        for name, change, needle in [
            ("a step without fiber", drop(("steps", 0, "fiber")), "steps[0].fiber: missing"),
            ("an empty step list", set_in(("steps",), []), "steps: empty"),
            ("design is a number", set_in(("design",), 7), "design: expected"),
            ("design_file is a list", set_in(("design_file",), ["v1.15.4"]), "design_file: expected"),
            ("steps is an object", set_in(("steps",), {"0": {}}), "steps: expected a list"),
            ("a step is a string", set_in(("steps", 1), "U1"), "steps: expected a list of step objects"),
            ("events is null", set_in(("steps", 0, "events"), None), "steps[0].events"),
            ("an event is a number", set_in(("steps", 0, "events", 0), 3), "steps[0].events[0]"),
            ("an event's says is a list", set_in(("steps", 0, "events", 0, "says"), []), "events[0].says"),
            ("messages is a string", set_in(("steps", 2, "messages"), "A1"), "steps[2].messages"),
            ("a message role is odd", set_in(("steps", 0, "messages", 0, "role"), "bot"), "messages[0].role"),
            ("tools is a number", set_in(("steps", 5, "messages", 1, "tools"), 1), "messages[1].tools"),
            ("lasso is a string", set_in(("lasso",), "r1*2"), "lasso: expected an object"),
            ("lasso starts past the end", set_in(("lasso",), {"prefix": "", "cycle": "", "cycle_from": 99}), "lasso."),
            ("loop-terminates without a lasso", set_in(("property",), "loop-terminates"), "lasso: missing"),
            ("property is a list", set_in(("property",), ["turn-binding"]), "property: expected a string"),
            ("schedule is not the steps", set_in(("schedule",), "U1,r1"), "is not the steps' fibers"),
            ("schedule is a number", set_in(("schedule",), 6), "schedule: expected a string"),
            ("a fiber with a newline", set_in(("steps", 0, "fiber"), "U1\n"), "is not a fiber name"),
            ("the scenario with a newline", set_in(("scenario",), "tool-race\n"), "control characters"),
            ("a step number out of order", set_in(("steps", 1, "step"), 7), "steps[1].step"),
            ("granularity is a list", set_in(("granularity",), []), "granularity: expected one of"),
        ]
    ),
    Case("trace.json", "replay: design_file names nothing", trace(set_in(("design_file",), "v9")), 2, "no such design"),
    Case("trace.json", "replay: not JSON", raw("t.json", "{", lambda p: ["replay", str(p)]), 2, "not valid JSON"),
    Case("trace.json", "explain: a JSON array", raw("t.json", "[]", lambda p: ["explain", str(p)]), 2, "JSON object"),
    Case("trace.json", "replay: a folder", args("replay", "{d}"), 2, "cannot read"),
    Case(
        "trace.json",
        "replay: invalid UTF-8",
        lambda d: (d / "t.json").write_bytes(b'{"design": "\xff"}') and ["replay", str(d / "t.json")],
        2,
        "t.json",
    ),
    Case("trace.json", "replay: the good trace (control)", trace(lambda d: None), 1, "reproduced turn-binding"),
    # --- 3. schedule strings -----------------------------------------------------------------------
    *(
        Case("schedule strings", f"--schedule {s!r}", args(*REPLAY, s), code, needle)
        for REPLAY in [("replay", "--design", "v1.15.4", "--scenario", "tool-race", "--schedule")]
        for s, code, needle in [
            (",,,", 2, "bad schedule item"),
            ("U1,,r1", 2, "bad schedule item"),
            ("U1*99999999999", 2, "more than any scenario runs"),
            ("U1*9" + "9" * 200, 2, "more than any scenario runs"),
            ("U1*9999999", 2, "more than 700 steps"),
            ("r1*700,U1", 2, "more than 700 steps"),
            ("U1*0", 2, "whole number from 1"),
            ("U1*-1", 2, "whole number from 1"),
            ("U1*", 2, "whole number from 1"),
            ("*3", 2, "bad schedule item"),
            ("U1*²", 2, "whole number from 1"),
            ("U\x001", 2, "bad schedule item"),
            ("U1\r\n,r1", 0, "2 steps, no property violated"),
            (" ", 2, "names no step"),
            ("U9", 2, "does not apply"),
            ("U1,r1,U2,r1*3", 1, "turn-binding violated at step 6"),
        ]
    ),
    # --- 4. names -----------------------------------------------------------------------------------
    *(
        Case("names", f"prompt name {n!r}", scenario(f"[[prompt]]\nname = {json.dumps(n)}\n"), 2, "name:")
        for n in ("U1\n", "U1\r\n", "U\u00071", "U1 ", "", "Ü1", "U" * 17, "r7", "1U")
    ),
    Case(
        "names",
        "after names a prompt with a newline",
        scenario('[[prompt]]\nname = "U1"\n[[prompt]]\nname = "U2"\nafter = ["U1\\n"]\n'),
        2,
        "is not an earlier prompt",
    ),
    Case("names", "--design with a newline", args("check", "--design", "v1.15.4\n", "--scenario", "tool-race"), 2),
    Case("names", "--scenario with a tab", args("check", "--design", "v1.15.4", "--scenario", "tool\trace"), 2),
    Case("names", "--scenario empty", args("check", "--design", "v1.15.4", "--scenario", ""), 2),
    Case(
        "names",
        "audit --session with a newline",
        args("audit", str(FIX / "running.export.json"), "--session", "ses_x\nses_y", "--out", "{d}/o"),
        2,
        "control characters",
    ),
    # --- 5. output paths: checked before any search -------------------------------------------------
    Case(
        "output paths",
        "check --out under a file",
        blocked("check", "--design", "v1.15.4", "--scenario", "tool-race", "--out", "{f}/o"),
        2,
        "--out",
    ),
    Case(
        "output paths",
        "check --out is a file",
        blocked("check", "--design", "v1.15.4", "--scenario", "tool-race", "--out", "{f}"),
        2,
        "is a file",
    ),
    Case(
        "output paths",
        "check --state-graph under a file",
        blocked("check", "--design", "v1.15.4", "--scenario", "tool-race", "--state-graph", "--out", "{f}/o"),
        2,
        "--out",
    ),
    Case(
        "output paths",
        "check --export-session under a file",
        blocked(
            "check", "--design", "v1.15.4", "--scenario", "large/crowd", "--out", "{d}/o", "--export-session", "{f}/x"
        ),
        2,
        "--export-session",
    ),
    Case("output paths", "review --out under a file", blocked("review", "--out", "{f}/r"), 2, "--out"),
    Case(
        "output paths",
        "explain --html under a file",
        lambda d: [*trace(lambda _: None, "explain")(d), "--html", *blocked("{f}/p.html")(d)],
        2,
        "--html",
    ),
    Case(
        "output paths",
        "explain --html is a folder",
        lambda d: [*trace(lambda _: None, "explain")(d), "--html", str(d)],
        2,
        "is a directory",
    ),
    Case(
        "output paths",
        "audit --out under a file",
        blocked("audit", str(FIX / "running.export.json"), "--out", "{f}/a"),
        2,
        "--out",
    ),
    # --- 6. nesting and encodings ---------------------------------------------------------------------
    Case("nesting and encodings", "TOML arrays 100,000 deep", design("x = " + "[" * 100_000 + "]" * 100_000), 2),
    Case("nesting and encodings", "TOML tables 5,000 deep", design("x = " + "{a = " * 5000 + "1" + "}" * 5000), 2),
    Case(
        "nesting and encodings",
        "trace.json 100,000 deep",
        raw("t.json", "[" * 100_000 + "]" * 100_000, lambda p: ["explain", str(p)]),
        2,
        "nested too deeply",
    ),
    Case(
        "nesting and encodings",
        "trace.json 40 deep inside a step",
        trace(set_in(("steps", 0, "source"), json.loads("[" * 40 + "]" * 40))),
        2,
        "nested too deeply",
    ),
    Case(
        "nesting and encodings",
        "export 100,000 deep",
        raw(
            "e.json",
            '{"info": ' + "[" * 100_000 + "]" * 100_000 + "}",
            lambda p: ["audit", str(p), "--out", str(p.parent / "o")],
        ),
        2,
    ),
    Case(
        "nesting and encodings",
        "TOML not UTF-8",
        lambda d: (
            (d / "d.toml").write_bytes(b'binding = "\xff"\n')
            and ["check", "--design", str(d / "d.toml"), "--scenario", "tool-race"]
        ),
        2,
        "not valid TOML",
    ),
    Case(
        "nesting and encodings",
        "design with a BOM",
        design('\ufeffbinding = "iteration"\n', "--out", "o"),
        1,
        "turn-binding",
    ),
    Case(
        "nesting and encodings",
        "scenario with a BOM",
        scenario('\ufeff[[prompt]]\nname = "U1"\ntools = 1\n[[prompt]]\nname = "U2"\n', "--out", "o"),
        1,
        "turn-binding",
    ),
    Case("nesting and encodings", "trace.json with a BOM", trace(lambda d: None, bom=True), 1, "reproduced"),
    Case(
        "nesting and encodings",
        "export with a BOM",
        lambda d: (
            (d / "e.json").write_text("\ufeff" + (FIX / "seed-four-siblings.export.json").read_text(), encoding="utf-8")
            and ["audit", str(d / "e.json"), "--out", str(d / "o")]
        ),
        1,
        "terminal-siblings",
    ),
    Case(
        "nesting and encodings",
        "JSON Lines with a BOM",
        session((U1, []), (A1, [tool_part(A1, DONE)]), bom=True),
        1,
        "tool-followup",
    ),
    # --- 7. size and budgets -----------------------------------------------------------------------------
    Case("size and budgets", "crowd, auto, --max-seconds 2", crowd("--max-seconds", "2"), 3, "--strategy random"),
    *(
        Case(
            "size and budgets",
            f"crowd, {' '.join(s)}, --max-states 3000",
            crowd("--max-states", "3000", *s),
            3,
            "--preemptions" if s == ("--strategy", "auto") else "--symmetry",  # (auto searched the orbits)
        )
        for s in (
            ("--strategy", "bfs"),
            ("--strategy", "dpor"),
            ("--strategy", "sleep"),
            ("--strategy", "auto"),
            ("--strategy", "bfs", "--workers", "2"),
            ("--strategy", "bfs", "--fingerprint"),
            ("--strategy", "bfs", "--symmetry"),
            ("--preemptions", "3"),
        )
    ),
    Case("size and budgets", "crowd, --max-memory 1 (MB)", crowd("--max-memory", "1"), 3, "memory budget"),
    Case(
        "size and budgets",
        "crowd, --json, --max-states 500",
        crowd("--json", "--max-states", "500"),
        3,
        '"verdict": "undecided"',
    ),
    Case(
        "size and budgets",
        "12 prompts x 5 tools, --max-seconds 3",
        scenario(wide(), "--max-seconds", "3", "--out", "o"),
        3,
        "preemptions",
    ),
    Case("size and budgets", "--max-states 0", crowd("--max-states", "0"), 2),
    Case("size and budgets", "--max-seconds -1", crowd("--max-seconds", "-1"), 2),
    # --- 8. audit soundness --------------------------------------------------------------------------------
    Case(
        "audit soundness",
        "broken tool branch at the end, older assistant unfinished",
        session((U1, []), (STALE, []), (A1, [tool_part(A1, DONE)])),
        1,
        "tool-followup",
    ),
    Case(
        "audit soundness",
        "turn-binding in creation order only (U2's id sorts lower)",
        session((U1, []), (A1, [tool_part(A1, DONE)]), (U2_BEHIND, []), (A2_BEHIND, [])),
        1,
        "in creation order only",
    ),
    Case(
        "audit soundness",
        "a parentID cycle",
        session((U1, []), (a(T0 + 100, "A1", U1, "stop"), []), (CYC1, []), (CYC2, [])),
        2,
        "parentID cycle",
    ),
    Case(
        "audit soundness",
        "a parentID self-loop",
        session(
            (U1, []),
            (a(T0 + 100, "A1", U1, "stop"), []),
            ({**a(T0 + 200, "C1", U1, "stop"), "parentID": mid(T0 + 200, "C1")}, []),
        ),
        2,
        "parentID cycle",
    ),
    *(
        Case(
            "audit soundness",
            f"a tool part whose state is {state!r}",
            session((U1, []), (a(T0 + 100, "A1", U1, "stop"), [tool_part(a(T0 + 100, "A1", U1, "stop"), state)])),
            0,
            "not counted as a tool call",
        )
        for state in (5, None, {"status": "exploded"}, {"status": 3}, [], "completed")
    ),
    Case(
        "audit soundness",
        "junk tool part beside a real terminal sibling",
        session(
            (U1, []),
            (a(T0 + 100, "A1", U1, "stop"), []),
            (a(T0 + 200, "A2", U1, "stop"), [tool_part(a(T0 + 200, "A2", U1, "stop"), None)]),
        ),
        1,
        "terminal-siblings",
    ),
    Case(
        "audit soundness",
        "id order against creation order (issue 11)",
        session((U1, []), (a(T0 + 100, "A1", U1, "stop"), []), (U2_BEHIND, [])),
        1,
        "misreads it: yes",
    ),
    Case(
        "audit soundness",
        "ids wrapped at 2026-08-14 11:19:55 UTC",
        session((U_WRAP, []), (A_WRAP, [])),
        0,
        "the ids wrapped",
    ),
    Case(
        "audit soundness",
        "still running: the newest assistant open (control)",
        args("audit", str(FIX / "running.export.json"), "--out", "{d}/o"),
        0,
        "still running",
    ),
    Case(
        "audit soundness",
        "no time fields at all: judged by order (issue 24)",
        session(
            *(
                ({k: v for k, v in m.items() if k != "time"}, [])
                for m in (U1, a(T0 + 100, "A1", U1, "stop"), U2, a(T0 + 3100, "A2", U2, "stop"))
            )
        ),
        0,
        "verdict: CLEAN",
    ),
    Case(
        "audit soundness",
        "a duplicated id: the later record, its own parts (issue 24)",
        session(
            (U1, []),
            (A1, [tool_part(A1, DONE)]),
            ({**A1, "finish": "stop"}, []),
        ),
        0,
        "duplicate message id",
    ),
    Case("results and odd inputs", "audit of a named pipe", fifo("audit", "{p}", "--out", "{d}/o"), 2, "regular"),
    Case("results and odd inputs", "replay of a named pipe", fifo("replay", "{p}"), 2, "regular"),
    Case("results and odd inputs", "explain of a named pipe", fifo("explain", "{p}"), 2, "regular"),
    Case("results and odd inputs", "audit of /dev/null", args("audit", "/dev/null", "--out", "{d}/o"), 2, "regular"),
    Case(
        "results and odd inputs",
        "--out holding files turnproof did not write",
        foreign("check", "--design", "v1.15.4", "--scenario", "tool-race", "--out", "{d}/o"),
        2,
        "notes.txt",
    ),
    Case(
        "results and odd inputs",
        "explain of a trace whose property was edited",
        trace(set_in(("property",), "no-terminal-siblings"), cmd="explain"),
        2,
        "no longer violated",
    ),
    Case("size and budgets", "--max-seconds nan", crowd("--max-seconds", "nan"), 2, "finite"),
    Case("size and budgets", "--max-seconds inf", crowd("--max-seconds", "inf"), 2, "finite"),
    Case(
        "size and budgets",
        "--max-states 1 on a small space",
        args(
            "check", "--design", "bind-and-serialize", "--scenario", "tool-race", "--out", "{d}/o", "--max-states", "1"
        ),
        3,
        "--max-states 1",
    ),
    Case("size and budgets", "--exhaustive with --max-seconds", crowd("--exhaustive", "--max-seconds", "1"), 2),
]

# --------------------------------------------------------------------------------------------
# running a case


class Hung(BaseException):
    """Raised by the alarm: the case ran past HANG_S."""


def _alarm(signum, frame):
    raise Hung


@functools.cache
def outcome(name: str) -> tuple[str, str]:
    """(clean | traceback | hang | wrong verdict, what was printed) for the case called `name`: run
    once per session, whichever worker asks first (the table test reads the cases' own runs)."""
    return shared("adversarial", lambda: _run_case(name), name)


def _run_case(name: str) -> tuple[str, str]:
    case = next(c for c in CASES if c.name == name)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cwd = os.getcwd()
        os.chdir(d)
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG_S)
        try:
            argv = case.make(d)
            patch = mock.patch(case.patch[0], side_effect=case.patch[1]) if case.patch else mock.MagicMock()
            with patch:
                from turnproof.cli.main import main

                r = CliRunner().invoke(main, argv)
        except Hung:
            return "hang", ""
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
            os.chdir(cwd)
    text = r.output
    if (r.exception is not None and not isinstance(r.exception, SystemExit)) or "Traceback" in text:
        return "traceback", text
    if r.exit_code == 70 and case.expect != 70:
        return "traceback", text
    if r.exit_code != case.expect or (case.says and case.says not in text):
        return "wrong verdict", f"exit {r.exit_code}: {text}"
    if case.expect in (2, 70) and not one_line(r):
        return "wrong verdict", f"not one line: {text}"
    return "clean", text


def one_line(r) -> bool:
    """The error is one line (usage errors too: no usage block, issue 24)."""
    if "verdict: INCOMPLETE" in r.stdout:  # audit: a report, with exit 2 for what it could not read
        return True
    said = (r.stderr or r.stdout).strip().splitlines()
    return len(said) == 1


def table(results: dict[str, list[str]]) -> str:
    """The docs table: per class, the cases tried and how they ended."""
    head = "| class | tried | clean exit (2, or the documented code) | traceback | hang | wrong verdict |"
    rows = [head, "|---|---|---|---|---|---|"]
    total = [0] * 5
    for cls in CLASSES:
        got = results.get(cls, [])
        counts = [len(got)] + [got.count(k) for k in ("clean", "traceback", "hang", "wrong verdict")]
        total = [t + c for t, c in zip(total, counts, strict=True)]
        rows.append(f"| {cls} | " + " | ".join(map(str, counts)) + " |")
    rows.append("| **all** | " + " | ".join(f"**{n}**" for n in total) + " |")
    return "\n".join(rows)


def all_results() -> dict[str, list[str]]:
    results: dict[str, list[str]] = {}
    for c in CASES:
        results.setdefault(c.cls, []).append(outcome(c.name)[0])
    for c in INTERRUPTS:
        results.setdefault("exit status", []).append(interrupted(c)[0])
    return results


BEGIN, END = "<!-- adversarial table: begin -->", "<!-- adversarial table: end -->"


def documented() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_adversarial_case(name):
    kind, text = outcome(name)
    assert kind == "clean", text[-2000:]


def test_the_documented_table_is_the_suite_and_at_zero():
    results = all_results()
    assert all(k == "clean" for got in results.values() for k in got)
    assert documented() == table(results), "run `python tests/test_adversarial.py` to rewrite docs/reliability.md"


# --------------------------------------------------------------------------------------------
# more than exit codes: --debug, --help, the default budget (signals and progress: tests/test_signals.py)


def test_debug_prints_the_traceback_and_still_exits_70(monkeypatch, tmp_path):
    from turnproof.cli.main import main

    monkeypatch.chdir(tmp_path)  # (the default --out is under the current folder)
    with mock.patch("turnproof.cli.main.search", side_effect=RuntimeError("boom")):
        r = CliRunner().invoke(main, ["--debug", "check", "--design", "v1.15.4", "--scenario", "tool-race"])
        assert r.exit_code == 70 and "Traceback" in r.stderr and "RuntimeError: boom" in r.stderr
        monkeypatch.setenv("TURNPROOF_DEBUG", "1")
        r = CliRunner().invoke(main, ["check", "--design", "v1.15.4", "--scenario", "tool-race"])
        assert r.exit_code == 70 and "Traceback" in r.stderr


def test_help_documents_every_exit_code():
    from turnproof.cli.main import main

    text = " ".join(CliRunner().invoke(main, ["--help"]).output.split())
    for code in ("0 every property holds", "1 a violation", "2 a usage or input error", "3 undecided"):
        assert code in text
    assert "130 interrupted" in text and "70 an internal error" in text and "TURNPROOF_DEBUG=1" in text
    for doc in ("README.md", "docs/reference.md"):
        text = " ".join((ROOT / doc).read_text().split())
        assert "**130**" in text and "**70**" in text, doc


def test_the_default_memory_budget_comes_from_the_machine():
    from turnproof.explore.search import budget

    avail = budget.available_bytes()
    assert avail and budget.default_max_bytes() == int(avail * budget.MEMORY_FRACTION)
    assert budget.resident_bytes() > 1 << 20


def test_a_budget_stops_every_strategy_with_what_it_explored():
    from turnproof.explore.scale.options import Scale
    from turnproof.explore.search.budget import Budget, OutOfBudget
    from turnproof.explore.strategy import Options, search
    from turnproof.model.system import System
    from turnproof.specs.loader import load_design, load_scenario
    from turnproof.specs.properties import PROPERTIES

    system = System(load_design("v1.15.4"), load_scenario("large/crowd"))
    for name, scale, pre in [
        ("bfs", None, None),
        ("dpor", None, None),
        ("sleep", None, None),
        ("auto", None, None),
        ("bfs", Scale(workers=2), None),
        ("bfs", Scale(symmetry=True), None),
        ("bfs", None, 2),
    ]:
        with pytest.raises(OutOfBudget) as e:
            search(system, PROPERTIES, name, Options(preemptions=pre, progress=Budget(max_states=1500), scale=scale))
        assert 1500 < e.value.stats.states and "the state budget (1,500 states)" in e.value.why, name
        assert e.traceback[-1].name != "__call__", "the search loop raises the stop, not the hook"


# --------------------------------------------------------------------------------------------
# hypothesis: trace files and schedule strings


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=json_values, delete=st.booleans())
def test_a_damaged_trace_is_one_line_exit_2_or_still_a_trace(tmp_path, data, value, delete):
    """Any one field of a real trace.json replaced by any JSON value (or deleted): replay and
    explain end with a verdict or one line and exit 2, never a traceback."""
    from turnproof.cli.main import main

    doc = json.loads(json.dumps(good_trace()))
    paths = [p for p in _paths(doc) if p]
    where = data.draw(st.sampled_from(paths))
    node = doc
    for k in where[:-1]:
        node = node[k]
    if delete and isinstance(node, dict):
        del node[where[-1]]
    else:
        node[where[-1]] = value
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    for cmd in ("replay", "explain"):
        r = CliRunner().invoke(main, [cmd, str(path)])
        assert r.exit_code in (0, 1, 2), (where, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), (where, r.output)
        if r.exit_code == 2:
            assert one_line(r), (where, r.output)


SCHEDULE_ALPHABET = st.sampled_from(
    ["U1", "U2", "r1", "r2", "W1", ",", "*", "0", "1", "3", "9", " ", "\n", "\x00", "x"]
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(SCHEDULE_ALPHABET, max_size=20))
def test_any_schedule_string_is_a_verdict_or_one_line_exit_2(parts):
    from turnproof.explore.search.confirm import run_schedule
    from turnproof.model.system import System
    from turnproof.specs.loader import load_design, load_scenario

    schedule = "".join(parts)
    code, lines = run_schedule(System(load_design("v1.15.4"), load_scenario("tool-race")), schedule)
    assert code in (0, 1, 2) and lines and all("\n" not in line for line in lines)
    if not schedule.strip(" \n,"):
        assert code == 2  # nothing to replay is not "no property violated"


# --------------------------------------------------------------------------------------------


def main() -> None:
    """Rewrite the table in docs/reliability.md from a fresh run of the cases."""
    results = all_results()
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + table(results) + "\n" + text[end:], encoding="utf-8")
    bad = {c.name: outcome(c.name) for c in CASES if outcome(c.name)[0] != "clean"}
    bad |= {c[0]: interrupted(c) for c in INTERRUPTS if interrupted(c)[0] != "clean"}
    for name, (kind, out) in bad.items():
        print(f"{kind}: {name}: {out[-300:]}")
    print(table(results))


if __name__ == "__main__":
    main()
