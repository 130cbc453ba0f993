"""The built wheel installs one `turnproof` namespace and runs from anywhere, specs included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the project's files, so that the build leaves nothing in the repository."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    )
    for name in listed.stdout.splitlines():
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return next(out.glob("turnproof-*.whl"))


def test_wheel_holds_only_the_turnproof_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("turnproof-")}
    assert tops == {"turnproof"}
    assert "turnproof/specs/designs/v1.15.4.toml" in names
    assert "turnproof/specs/scenarios/large/crowd.toml" in names
    assert "turnproof/explore/views/explorer.html" in names  # the explorer page's script and style
    assert "turnproof/cli/main.py" in names and "turnproof/model/world.py" in names
    # the patch edits travel with opencode's MIT notice (they quote its bundle)
    assert "turnproof/conform/build/edits_loop.py" in names and "turnproof/conform/build/OPENCODE-LICENSE" in names


def test_installed_wheel_runs_check_review_and_audit_elsewhere(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True
    )
    # the project's dependencies come from this venv's site-packages as a plain path entry: its
    # .pth files (the editable install of the repository) are not read, so only the wheel is seen
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{deps}"}
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args):
        return subprocess.run([py, "-m", "turnproof.cli", *args], cwd=work, env=env, capture_output=True, text=True)

    where = subprocess.run(
        [
            py,
            "-c",
            "import turnproof.model.world as w, importlib.util as u; print(w.__file__); print(u.find_spec('model'))",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.splitlines() == [str(target / "turnproof" / "model" / "world.py"), "None"]
    check = run("check", "--design", "v1.15.4", "--scenario", "tool-race", "--json", "--out", "out")
    assert check.returncode == 1, check.stderr
    assert '"verdict": "violated"' in check.stdout
    review = run("review", "--designs", "bind-and-serialize", "--scenarios", "tool-race", "--out", "rev")
    assert review.returncode == 0, review.stderr
    assert (work / "rev" / "review.md").exists()
    export = run("check", "--design", "v1.15.4", "--scenario", "tool-race", "--export-session", "sessions")
    assert export.returncode == 1
    audit = run("audit", "sessions/turn-binding.json", "--out", "aud")
    assert audit.returncode == 1, audit.stderr
    assert "turn-binding" in audit.stdout
