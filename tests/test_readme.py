"""The README shows what the tool prints now: its outputs and its table are re-run here."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from turnproof.cli.main import main

README = (Path(__file__).parent.parent / "README.md").read_text()
TIMING = re.compile(r"in \d+\.\d+s")
pytestmark = pytest.mark.slow  # every command block of the README, idle-window's included


def run(args: list[str], where: Path) -> tuple[int, list[str]]:
    cwd = os.getcwd()
    os.chdir(where)
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


def shown() -> list[tuple[list[str], list[str], int | None]]:
    """(arguments, lines shown, exit code or None) of the main job, then of every `$ ./run.sh …` block."""
    cmd = next(b for b in blocks("sh") if "./run.sh check" in b)
    main_args = shlex.split(cmd.splitlines()[0].split("#")[0])[1:]
    assert main_args[:5] == ["check", "--design", "v1.15.4", "--scenario", "tool-race"]
    shown_main = next(b for b in blocks() if b.startswith("design v1.15.4 × scenario tool-race"))
    out = [(main_args, shown_main.strip().splitlines(), 1)]
    for block in blocks():
        if block.startswith("$ ./run.sh "):
            lines = block.strip().splitlines()
            out.append((shlex.split(lines[0][2:])[1:], lines[1:], None))
    return out


def reviews() -> list[int]:
    """The review blocks: each reads no file an earlier block wrote, so each is a test of its own
    (they are the long ones, and xdist's workers take them side by side)."""
    return [i for i, (args, _, _) in enumerate(shown()) if args[0] == "review"]


def test_the_readme_commands_print_what_it_shows(tmp_path):
    """The main job, then every `$ ./run.sh …` block but the reviews, in order, in one directory
    (later blocks read what earlier ones wrote); a block with `...` shows a subset of the lines.
    Paths under tests/ (the audit fixtures) resolve there as from the repo root, where ./run.sh runs."""
    blocks_run = [b for i, b in enumerate(shown()) if i not in reviews()]
    assert len(blocks_run) >= 6
    (tmp_path / "tests").symlink_to(Path(__file__).parent, target_is_directory=True)
    for args, expected, code in blocks_run:
        _agrees(args, expected, code, tmp_path)


@pytest.mark.parametrize("index", reviews())
def test_the_readme_reviews_print_what_it_shows(index, tmp_path, monkeypatch):
    """A review block of the README; `review` takes each built-in pair's exhaustive result from the
    session's shared ones (the same bfs, run once)."""
    from conftest import exhaustive

    monkeypatch.setattr("turnproof.cli.review.bfs", exhaustive)
    _agrees(*shown()[index], tmp_path)


def _agrees(args: list[str], expected: list[str], code: int | None, where: Path) -> None:
    got_code, out = run(args, where)
    out = [line.strip() for line in out]
    expected = [TIMING.sub("in Ns", line) for line in expected]
    if code is not None:
        assert got_code == code
    if "..." in expected:
        rest = [line for line in expected if line != "..."]
        assert all(line in out for line in rest), (args, out)
    else:
        assert out == expected, args
