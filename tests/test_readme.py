"""The README and the docs show what the tool prints now: every `$ ./run.sh …` block they hold, and
the README's main job, is re-run here and compared with what it shows."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from turnproof.cli.main import main

ROOT = Path(__file__).parent.parent
DOCS = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
TIMING = re.compile(r"in \d+\.\d+s")
WRITES = ("--out", "--export-session")  # options whose value is a directory a later block may read
pytestmark = pytest.mark.slow  # every command block of the docs, idle-window's included


class Shown(NamedTuple):
    """One command a document shows: its arguments, the lines it shows, the exit code if shown."""

    args: list[str]
    lines: list[str]
    code: int | None


def run(args: list[str], where: Path) -> tuple[int, list[str]]:
    cwd = os.getcwd()
    os.chdir(where)
    try:
        r = CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return r.exit_code, [TIMING.sub("in Ns", line).rstrip() for line in r.output.splitlines()]


def blocks(text: str, lang: str = "") -> list[str]:
    """A document's fenced code blocks of one language (indented ones too), dedented."""
    found, current = [], None
    for line in text.splitlines():
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


def main_job() -> Shown:
    """The README's main job: the first `./run.sh check` of its sh blocks, and the output it shows."""
    readme = (ROOT / "README.md").read_text()
    cmd = next(b for b in blocks(readme, "sh") if "./run.sh check" in b)
    args = shlex.split(cmd.splitlines()[0].split("#")[0])[1:]
    assert args[:5] == ["check", "--design", "v1.15.4", "--scenario", "tool-race"]
    lines = next(b for b in blocks(readme) if b.startswith("design v1.15.4 × scenario tool-race"))
    return Shown(args, lines.strip().splitlines(), 1)


def shown(doc: str) -> list[Shown]:
    """The commands one document shows, in order: the README's main job first, then every
    `$ ./run.sh …` block."""
    out = [main_job()] if doc == "README.md" else []
    for block in blocks((ROOT / doc).read_text()):
        if block.startswith("$ ./run.sh "):
            lines = block.strip().splitlines()
            out.append(Shown(shlex.split(lines[0][2:])[1:], lines[1:], None))
    return out


def written(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in WRITES]


def prerequisites(commands: list[Shown], index: int) -> list[int]:
    """The earlier blocks of the same document that write what block `index` reads (an `out/…`
    argument that is no option's value), nearest writer first resolved, in the order to run them."""
    args = commands[index].args
    reads = [a for i, a in enumerate(args) if a.startswith("out/") and (i == 0 or not args[i - 1].startswith("--"))]
    needed: list[int] = []
    for path in reads:
        writer = next(
            (
                j
                for j in reversed(range(index))
                if any(path.startswith(w.rstrip("/") + "/") for w in written(commands[j].args))
            ),
            None,
        )
        assert writer is not None, f"nothing before block {index} writes {path}"
        needed += [j for j in [*prerequisites(commands, writer), writer] if j not in needed]
    return needed


CASES = [(doc, i) for doc in DOCS for i in range(len(shown(doc)))]


def test_the_docs_show_their_commands():
    """The parser finds the main job and the command blocks the docs hold (a broken parser or a
    lost block would otherwise leave nothing to re-run)."""
    assert main_job().args[0] == "check"
    assert len(CASES) >= 18, CASES
    assert {doc for doc, _ in CASES} >= {"README.md", "docs/learner.md", "docs/reporter.md", "docs/reviewer.md"}


@pytest.mark.parametrize(("doc", "index"), CASES, ids=[f"{d}-{i}-{shown(d)[i].args[0]}" for d, i in CASES])
def test_the_docs_commands_print_what_they_show(doc, index, tmp_path, monkeypatch):
    """One command block: the earlier blocks of its document that write what it reads run first, in
    one directory, as a reader who follows the page would; a block with `...` shows a subset of the
    lines. Paths under tests/ (the audit fixtures) resolve there as from the repo root, where
    ./run.sh runs. `review` takes each built-in pair's exhaustive result from the session's shared
    ones (the same bfs, run once)."""
    from conftest import exhaustive

    monkeypatch.setattr("turnproof.cli.review.bfs", exhaustive)
    (tmp_path / "tests").symlink_to(Path(__file__).parent, target_is_directory=True)
    commands = shown(doc)
    for j in prerequisites(commands, index):
        run(commands[j].args, tmp_path)
    _agrees(*commands[index], tmp_path)


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
