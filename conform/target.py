"""What a conformance run drives: a release from the npm registry, a design's patched build, or any
executable that behaves like `opencode` (`--opencode-binary`), named by path, `--version` and sha256.

`given` names an executable the user points at; `resolve` picks one for a design: the release
itself when the design is the release's own, else the release patched with it (conform/build, cached).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from turnproof.conform import HarnessError
from turnproof.model.config import Design

VERSION_TIMEOUT = 60.0  # seconds `PATH --version` may take (a build under Bun loads its modules first)


@dataclass(frozen=True)
class Target:
    path: str
    version: str  # what `PATH --version` printed
    sha256: str  # of the file at `path` (for a build, its wrapper; the manifest's key names the edits)
    release: str  # the opencode release it is (a build's manifest says; else its --version)
    design: str = ""  # the design a patched build was made for
    knobs: dict = field(default_factory=dict)  # the knob values a patched build changes from its release
    key: str = ""  # a patched build's cache key (release + the edits' content)

    def label(self) -> str:
        """`opencode 1.15.4`, or `opencode 1.15.4 patched with D (knobs binding = turn, ...)`."""
        if not self.knobs:
            return f"opencode {self.release}"
        knobs = ", ".join(f"{k} = {v}" for k, v in self.knobs.items())
        return f"opencode {self.release} patched with {self.design} (knobs {knobs})"

    def note(self, design: Design) -> str:
        """What to say when `design` is not what ran (its knobs differ from the build's), else ""."""
        from turnproof.conform.build.edits import RELEASE_DESIGN, changed_knobs

        if self.release not in RELEASE_DESIGN:
            return f"no design describes opencode {self.release}: design {design.name} may not be what ran"
        wanted = dict(changed_knobs(design, self.release))
        if wanted == self.knobs:
            return ""
        knobs = ", ".join(f"{k} = {v}" for k, v in wanted.items()) or "none"
        return f"design {design.name} changes {knobs} from opencode {self.release}; what ran is {self.label()}"

    def to_json(self) -> dict:
        out = {"path": self.path, "version": self.version, "sha256": self.sha256, "release": self.release}
        if self.knobs:
            out["patched"] = {"design": self.design, "knobs": dict(self.knobs), "key": self.key}
        return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def describe(binary: Path) -> Target:
    """Run `binary --version` (HOME and XDG dirs in a temporary folder, removed after) and name it.
    A binary that cannot start is a one-line HarnessError saying why."""
    from turnproof.conform.build.patch import manifest_of

    path = Path(binary).absolute()
    if not path.is_file():
        raise HarnessError(f"--opencode-binary {path}: no such file")
    if not os.access(path, os.X_OK):
        raise HarnessError(f"--opencode-binary {path}: not executable")
    with tempfile.TemporaryDirectory(prefix="turnproof-version-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "OPENCODE"))}
        env |= {"HOME": home, "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data"}
        env |= {"XDG_CACHE_HOME": f"{home}/cache", "XDG_STATE_HOME": f"{home}/state"}
        try:
            p = subprocess.run(
                [str(path), "--version"],
                cwd=home,
                env=env,
                capture_output=True,
                text=True,
                timeout=VERSION_TIMEOUT,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"--opencode-binary {path}: `--version` gave no answer in {VERSION_TIMEOUT:.0f}s"
            ) from None
        except OSError as e:
            raise HarnessError(f"--opencode-binary {path}: cannot start: {e.strerror or e}") from None
    said = " ".join(p.stdout.split())
    if p.returncode != 0 or not said:
        why = " ".join((p.stderr or p.stdout).split())[-200:] or "no output"
        raise HarnessError(f"--opencode-binary {path}: `--version` failed (exit {p.returncode}): {why}")
    manifest = manifest_of(path)
    if manifest is None:
        return Target(str(path), said, _sha256(path), said.split()[-1])
    return Target(
        str(path),
        said,
        _sha256(path),
        manifest["release"],
        design=str(manifest.get("design", "")),
        knobs=dict(manifest["knobs"]),
        key=str(manifest.get("key", "")),
    )


def given(binary: Path, version: str | None) -> Target:
    """`--opencode-binary`: what it is; `--opencode-version`, when also given, must be its release."""
    target = describe(binary)
    if version and version != target.release:
        raise HarnessError(f"--opencode-version {version}: but --opencode-binary {binary} is {target.release}")
    return target


def resolve(design: Design, version: str | None) -> tuple[str, Path | None, Target | None]:
    """(release, executable, what it is) for driving `design` with no executable given: the
    release itself (None: conform fetches it) when the design is the release's own, else the
    release patched with the design, built or taken from the cache."""
    from turnproof.conform.build.edits import RELEASE_DESIGN, changed_knobs
    from turnproof.conform.build.patch import cached_build

    own = next((r for r in RELEASE_DESIGN if not changed_knobs(design, r)), None)
    if version is None:  # the release the design is, else the one every fix design changes
        version = own or "1.15.4"
    if own is not None:  # a release's own design is never patched (driven against another, a note says so)
        return version, None, None
    built = cached_build(design, version)
    return version, built, describe(built)
