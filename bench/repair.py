"""Benchmark of `turnproof repair` (issue 27): the whole legacy space from v1.15.4 over every
built-in scenario, with both explanations, against the plain search (every candidate on every
scenario, each a whole bfs) on a reduced space where that is affordable, and on the whole space
with --plain-full (about 20 minutes of CPU).

    .venv/bin/python bench/repair.py [--plain-full] [--out bench/RESULTS.md]

With --out, the "## Repair" section of that file is replaced (or appended). bench/run.py runs
the same section. CPU seconds are the process's (time.process_time); on a machine shared with
other work the wall-clock seconds vary much more than the CPU seconds.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from turnproof.explore.repair import LEGACY, Space, plain, repair  # noqa: E402
from turnproof.specs.loader import builtin, load_design, load_scenario  # noqa: E402
from turnproof.specs.properties import PROPERTIES  # noqa: E402

# A reduced space where an answer exists (the plain search over its 12 designs takes a minute or so):
# from bind-and-serialize, refuted on client-clock-ahead, changing binding, exit and order.
REDUCED = ("bind-and-serialize", ("binding", "exit", "order"))


def _timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def section(plain_full: bool = False) -> list[str]:
    base = load_design("v1.15.4")
    scenarios = tuple(load_scenario(s) for s in builtin("scenario"))
    space = Space(base)
    answer, cpu, wall = _timed(lambda: repair(space, scenarios, PROPERTIES, len(LEGACY)))
    small = Space(load_design(REDUCED[0]), REDUCED[1])
    fast, fast_cpu, fast_wall = _timed(lambda: repair(small, scenarios, PROPERTIES, len(small.knobs)))
    (least, holding, _), plain_cpu, plain_wall = _timed(lambda: plain(small, scenarios, PROPERTIES, len(small.knobs)))
    if fast.size != least or sorted(m.changes for m in fast.minimal) != sorted(holding):
        raise RuntimeError("repair and the plain search disagree on the reduced space")  # never print wrong figures
    refuted = sum(len(r) for s, r in answer.refuted.items() if s != answer.size)
    found = (
        f"{len(answer.minimal)} minimal designs changing {answer.size} knobs; {refuted} smaller candidates refuted"
        if answer.minimal
        else f"no design holds: all {refuted} candidates refuted"
    )
    lines = [
        "## Repair (issue 27)",
        "",
        f"`turnproof repair --base v1.15.4`: the legacy space ({space.size} designs: {', '.join(LEGACY)}) over "
        f"{len(scenarios)} built-in scenarios × {len(PROPERTIES)} properties, with both explanations "
        "(each part needed, with its shortest schedule; nothing smaller holds, per size).",
        "",
        f"- Answer: {found}; {answer.searches:,} verdict searches, {answer.states:,} states.",
        f"- Time: **{cpu:.1f} s of CPU**, {wall:.1f} s wall-clock (target < 10 s).",
        f"- Plain search on a reduced space (from {small.base.name}, {small.size} designs: {', '.join(small.knobs)}; "
        "every design on every "
        f"scenario, each a whole bfs): {plain_cpu:.1f} s of CPU ({plain_wall:.1f} s wall); repair on the same space "
        f"{fast_cpu:.2f} s of CPU ({fast_wall:.2f} s wall): **{plain_cpu / max(fast_cpu, 1e-9):.0f}×** (same answer: "
        f"{'none' if least is None else f'{len(holding)} design(s) of size {least}'}).",
    ]
    if plain_full:
        (least, holding, _), pcpu, pwall = _timed(lambda: plain(space, scenarios, PROPERTIES, len(LEGACY)))
        if least != answer.size or sorted(holding) != sorted(m.changes for m in answer.minimal):
            raise RuntimeError("repair and the plain search disagree on the whole space")
        lines.append(
            f"- Plain search on the whole space: {pcpu:.0f} s of CPU ({pwall:.0f} s wall): "
            f"**{pcpu / max(cpu, 1e-9):.0f}×** repair's CPU time (same answer)."
        )
    else:
        lines.append(
            "- Plain search on the whole space: not run here (--plain-full; the issue measured about 1,260 s "
            "of CPU for it over the 20 built-in scenarios of its time)."
        )
    return lines + [""]


def replace_section(path: Path, lines: list[str], head: str = "## Repair (issue 27)") -> None:
    """Replace the section that starts with `head` (up to the next `## `) by `lines`, or append them."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = "\n".join(lines) + "\n"
    pattern = re.compile("^" + re.escape(head) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: new, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + new
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plain-full", action="store_true", help="also the plain search on the whole space (~20 min)")
    ap.add_argument("--out", default=None, help="replace the Repair section of this Markdown file")
    args = ap.parse_args()
    lines = section(args.plain_full)
    print("\n".join(lines))
    if args.out:
        replace_section(Path(args.out), lines)


if __name__ == "__main__":
    main()
