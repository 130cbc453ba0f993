"""turnproof against SPIN on the same question, end to end, in fresh processes.

For each case, `turnproof check` (the default strategy, one property) is timed as a whole
process, and so is SPIN on the Promela rendering in bench/spin/turn.pml: `spin -a`, `gcc -O2`
(pan compiled for breadth-first search, so its counterexample is a shortest one too) and `pan`.
Runs alternate (turnproof, SPIN, turnproof, …) and the medians are compared; CPU time (user +
system of the child processes) is reported beside wall time, as the machine may be shared.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = HERE / "spin" / "turn.pml"

# (scenario, property): the question for each scenario
CASES = (
    ("tool-race", "turn-binding"),
    ("two-instances", "no-terminal-siblings"),
    ("idle-window", "no-terminal-siblings"),
)
# the Promela defines that choose a scenario and a property in bench/spin/turn.pml
DEFINES = {
    "tool-race": "TOOL_RACE",
    "two-instances": "TWO_INSTANCES",
    "idle-window": "IDLE_WINDOW",
    "turn-binding": "TURN_BINDING",
    "no-terminal-siblings": "TERMINAL_SIBLINGS",
}


def setup() -> str | None:
    """SPIN from the Debian package, installed here if missing; None when it cannot be had."""
    if shutil.which("spin") is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "spin"], capture_output=True, check=False)
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        return None
    out = subprocess.run(["spin", "-V"], capture_output=True, text=True).stdout.strip()
    return out or "spin"


def _timed(cmds: list[list[str]], cwd: str) -> tuple[float, float, list[str]]:
    """Run commands one after another: (wall seconds, CPU seconds of the children, outputs)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    outs = []
    for cmd in cmds:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        outs.append(p.stdout + p.stderr)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, outs


def turnproof(scenario: str, prop: str, work: str) -> tuple[float, float, dict]:
    exe = Path(sys.executable).with_name("turnproof")
    cmd = [str(exe), "check", "--design", "v1.15.4", "--scenario", scenario, "--property", prop, "--json"]
    wall, cpu, (out,) = _timed([cmd + ["--out", work]], work)
    import json

    doc = json.loads(out[out.index("{") :])
    entry = next(p for p in doc["properties"] if p["name"] == prop)
    states = doc["stats"]["states"] + doc["stats"].get("shortest", {}).get("states", 0)
    return wall, cpu, {"verdict": doc["verdict"], "states": states, "trace": entry.get("trace", {}).get("length")}


def spin(scenario: str, prop: str, work: str, bfs: bool = True) -> tuple[float, float, dict]:
    """`spin -a`, `gcc -O2`, `pan` on one scenario and property: (wall s, CPU s, what pan found)."""
    flags = ["-DBFS"] if bfs else []
    cmds = [
        ["spin", f"-D{DEFINES[scenario]}", f"-D{DEFINES[prop]}", "-a", str(MODEL)],
        ["gcc", "-w", "-O2", "-DSAFETY", *flags, "-o", "pan", "pan.c"],
        ["./pan", "-E"] + ([] if bfs else ["-c0"]),
    ]
    wall, cpu, outs = _timed(cmds, work)
    pan = outs[-1]
    stored = int(re.search(r"(\d+) states, stored", pan).group(1))
    errors = int(re.search(r"errors: (\d+)", pan).group(1))
    depth = re.search(r"assertion violated.*\(at depth (\d+)\)", pan)
    return (
        wall,
        cpu,
        {"verdict": "violated" if errors else "holds", "states": stored, "depth": depth and depth.group(1)},
    )


def compare(rounds: int = 3) -> list[dict]:
    rows = []
    for scenario, prop in CASES:
        tp, sp = [], []
        with tempfile.TemporaryDirectory() as work:
            for _ in range(rounds):  # A B A B …
                tp.append(turnproof(scenario, prop, work))
                sp.append(spin(scenario, prop, work))
            full = spin(scenario, prop, work, bfs=False)[2]  # the whole space, for the state counts
        row = {"case": f"v1.15.4 × {scenario}", "property": prop}
        for name, runs in (("turnproof", tp), ("spin", sp)):
            row[name] = runs[-1][2] | {
                "wall": statistics.median(r[0] for r in runs),
                "cpu": statistics.median(r[1] for r in runs),
            }
        row["spin_full"] = full
        rows.append(row)
        print(row["case"], "spin compared", file=sys.stderr)
    return rows


def fmt_count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def table(rows: list[dict], version: str, bfs_states: dict) -> list[str]:
    lines = [
        f"## SPIN on the same question ({version})",
        "",
        "turnproof: `turnproof check --design v1.15.4 --scenario S --property P` (the default strategy: dpor, then "
        "bfs for the shortest trace), the whole process. SPIN: `spin -a` + `gcc -O2 -DSAFETY -DBFS` + `pan -E` on "
        "bench/spin/turn.pml (breadth-first, so its trail is a shortest one too). Medians of 3 alternating runs; "
        "CPU is user + system time of the processes. States: what each explored to its verdict; whole space: "
        "turnproof's BFS states and SPIN's full search (`pan -E -c0`, depth-first).",
        "",
        "| case | property | turnproof verdict | SPIN verdict | turnproof states | SPIN states | turnproof trace "
        "| SPIN trail depth | whole space: turnproof / SPIN | turnproof s (CPU s) | SPIN s (CPU s) | SPIN/turnproof s "
        "| SPIN/turnproof CPU |",
        "|" + "---|" * 13,
    ]
    for r in rows:
        t, s = r["turnproof"], r["spin"]
        lines.append(
            f"| {r['case']} | {r['property']} | {t['verdict']} | {s['verdict']} | {t['states']:,} | {s['states']:,} "
            f"| {t['trace'] or '—'} steps | {s['depth'] or '—'} | {fmt_count(bfs_states.get(r['case']))} / "
            f"{r['spin_full']['states']:,} | {t['wall']:.2f} ({t['cpu']:.2f}) | {s['wall']:.2f} ({s['cpu']:.2f}) "
            f"| {s['wall'] / t['wall']:.2f}× | {s['cpu'] / t['cpu']:.2f}× |"
        )
    return lines + [""]
