"""The README shows what the tool prints now: its outputs and its table are re-run here."""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from pathlib import Path

from click.testing import CliRunner
from conftest import checked

from explore.cli import main
from explore.report import result_json
from specs.loader import builtin

README = (Path(__file__).parent.parent / "README.md").read_text()
TIMING = re.compile(r"in \d+\.\d+s")


def run(args: list[str]) -> tuple[int, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            r = CliRunner().invoke(main, args, catch_exceptions=False)
        finally:
            os.chdir(cwd)
    return r.exit_code, [TIMING.sub("in Ns", line).rstrip() for line in r.output.splitlines()]


def blocks(lang: str = "") -> list[str]:
    """The README's fenced code blocks of one language (indented ones too), dedented."""
    found, current = [], None
    for line in README.splitlines():
        fence = line.strip().startswith("```")
        if fence and current is None:
            current = [] if line.strip() == "```" + lang else False
        elif fence:
            if current is not False:
                found.append("\n".join(current))
            current = None
        elif current:
            current.append(line.strip())
        elif current == []:
            current.append(line.strip())
    return found


def test_the_main_job_prints_what_the_readme_shows():
    cmd = next(b for b in blocks("sh") if "./run.sh check" in b)
    first = cmd.splitlines()[0].split("#")[0]
    args = shlex.split(first)[1:]
    assert args[:5] == ["check", "--design", "v1.15.4", "--scenario", "tool-race"]
    code, out = run(args)
    shown = next(b for b in blocks() if b.startswith("design v1.15.4 × scenario tool-race"))
    assert code == 1
    assert [line.strip() for line in out] == [TIMING.sub("in Ns", line) for line in shown.strip().splitlines()]


def test_every_shown_command_prints_what_the_readme_shows():
    shown = [b for b in blocks() if b.startswith("$ ./run.sh check")]
    assert len(shown) >= 3
    for block in shown:
        lines = [line.strip() for line in block.strip().splitlines()]
        _, out = run(shlex.split(lines[0][2:])[1:])
        out = [line.strip() for line in out]
        expected = [TIMING.sub("in Ns", line) for line in lines[1:] if line != "..."]
        if "..." in lines:
            assert all(line in out for line in expected), block
        else:
            assert out == expected, block


def test_the_verdict_table_is_current():
    rows = set(
        re.findall(r"^\| (?:v1\.15\.4|bind-turn|serialize-turn|bind-and-serialize|parent-exit) \|.*\|$", README, re.M)
    )
    fresh = set()
    for d in builtin("design"):
        for s in builtin("scenario"):
            doc = result_json(checked(d, s))
            bad = ", ".join(p["name"] for p in doc["properties"] if not p["holds"]) or "—"
            cells = [
                d,
                s,
                doc["granularity"],
                doc["verdict"],
                bad,
                str(doc["stats"]["states"]),
                str(doc["bound"]["cut"]),
            ]
            fresh.add("| " + " | ".join(cells) + " |")
    assert rows == fresh
