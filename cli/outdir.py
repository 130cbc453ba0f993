"""Result folders that are whole or absent: built beside the target, swapped in at once, one writer.

Every command that writes a result (check --out, --export-session, --state-graph, review --out,
audit --out, explain --html) writes it through `Target`: a lock file beside the target
(`.NAME.lock`, holding the writer's pid and command, held with flock so a writer that died leaves
no lock behind) refuses a second writer with exit 2 naming the first; the result is built in a
fresh folder beside the target (`.NAME.tmp-PID`) and, once whole, swapped in with two renames
while SIGINT, SIGTERM and SIGHUP are held back, the earlier result removed only after. So the
folder holds exactly one run's result and its `manifest.json`, and an interrupt, a full disk or
an error leaves the earlier result as it was and no partial file. An existing folder is replaced
only when it is empty or a turnproof result (it has a manifest, or only what turnproof writes),
so `--out .` can never delete someone's files.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import click
from turnproof.specs.loader import InputError

MANIFEST = "manifest.json"
LEGACY = {".dot", ".svg", ".json", ".md", ".html"}  # what turnproof wrote before it wrote a manifest
HELD_BACK = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}  # (a file's write names no file: still the target's disk)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("turnproof")
    except PackageNotFoundError:
        return "unknown"


class Target:
    """One result (a folder, or with `folder=False` one file) that this run replaces whole.

    `with Target(path, flag) as t:` takes the lock (InputError if another writer holds it);
    `t.stage()` is the folder (or file path) to write into; `t.commit(manifest)` swaps it in;
    leaving the block without a commit removes what was staged and keeps the earlier result."""

    def __init__(self, path: Path, flag: str, folder: bool = True) -> None:
        self.path, self.flag, self.folder = Path(path), flag, folder
        name = self.path.name or "out"
        self.lock_path = self.path.parent / f".{name}.lock"
        self.tmp = self.path.parent / f".{name}.tmp-{os.getpid()}"
        self.old = self.path.parent / f".{name}.old-{os.getpid()}"
        self.fd: int | None = None
        self.staged = self.committed = False
        self.made: list[Path] = []  # the folders above the target this run created (removed if it writes nothing)

    def __enter__(self) -> Target:
        try:
            p = self.path.parent
            while not p.exists() and p != p.parent:
                self.made.append(p)
                p = p.parent
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock()
            self._sweep()
            if self.folder:
                _replaceable(self.path, self.flag)
        except OSError as e:
            self._unlock()
            raise _unwritable(self.flag, self.path, e) from None
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, kind, e, tb) -> None:
        try:
            _remove(self.tmp)
        finally:
            self._unlock()
        for p in [] if self.committed else self.made:  # (nearest first; stops at one that is not empty)
            try:
                p.rmdir()
            except OSError:
                break
        if isinstance(e, OSError) and (_under(e.filename, self.tmp) or e.errno in DISK_FULL):
            raise _unwritable(self.flag, self.path, e) from None  # a writer failed on the target's disk

    def stage(self) -> Path:
        """The fresh folder (or file path) to write this run's result into."""
        if not self.staged:
            _remove(self.tmp)
            try:
                if self.folder:
                    self.tmp.mkdir()
            except OSError as e:
                raise _unwritable(self.flag, self.path, e) from None
            self.staged = True
        return self.tmp

    def final(self, p: Path | str) -> Path:
        """Where a staged file will be once committed."""
        p = Path(p)
        return self.path if p == self.tmp else self.path / p.relative_to(self.tmp)

    def commit(self, manifest: dict | None = None) -> None:
        """Write the manifest and swap the staged result in for the target; an error keeps the old."""
        staged = self.stage()
        try:
            if self.folder and manifest is not None:
                doc = json.dumps(manifest | {"turnproof_version": version()}, indent=2) + "\n"
                (staged / MANIFEST).write_text(doc, encoding="utf-8")
            with _held_back():
                if self.folder and self.path.exists():
                    os.rename(self.path, self.old)
                    try:
                        os.rename(staged, self.path)
                    except OSError:
                        os.rename(self.old, self.path)  # the earlier result back where it was
                        raise
                else:
                    os.replace(staged, self.path)
        except OSError as e:
            raise _unwritable(self.flag, self.path, e) from None
        self.staged, self.committed = False, True
        _remove(self.old)

    # --- the lock -----------------------------------------------------------------------------

    def _lock(self) -> None:
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise InputError(
                    f"{self.flag} {self.path}: being written by another turnproof (pid {holder.get('pid', '?')}: "
                    f"{holder.get('command', '?')}); wait for it, or choose another folder"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # (else its holder removed it between our open and flock: take a fresh one)
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        me = {"pid": os.getpid(), "command": " ".join(["turnproof", *sys.argv[1:]])[:300]}
        os.write(fd, json.dumps(me).encode())
        self.fd = fd

    def _unlock(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.lock_path)  # (while still held: a waiting writer re-checks the inode)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def _sweep(self) -> None:
        """Remove what writers killed outright (SIGKILL, a power cut) left beside the target."""
        name = self.path.name or "out"
        for p in self.path.parent.glob(f".{name}.tmp-*"):
            _remove(p)
        for p in self.path.parent.glob(f".{name}.old-*"):
            _remove(p)


def is_manifest(path: str | Path) -> bool:
    """Whether `path` is a result's manifest.json (which `audit DIR/*.json` is not meant to read)."""
    p = Path(path)
    if p.name != MANIFEST or not p.is_file():
        return False
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "turnproof_version" in doc and "command" in doc


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        doc = json.loads(os.read(fd, 4096).decode("utf-8", "replace") or "{}")
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def _replaceable(path: Path, flag: str) -> None:
    """InputError unless `path` is absent, an empty folder, or a turnproof result to replace."""
    if not path.exists():
        return
    here = Path.cwd()
    if path.is_dir() and (path.resolve() == here or path.resolve() in here.parents):
        raise InputError(f"{flag} {path}: the current folder or one above it; give a folder for the result below it")
    if not path.is_dir():
        raise InputError(f"{flag} {path}: cannot write: {os.strerror(errno.ENOTDIR)}")
    if (path / MANIFEST).is_file():
        return
    files = [p for p in path.rglob("*") if not p.is_dir()]
    if all(p.suffix in LEGACY and not p.name.startswith(".") for p in files):
        return
    odd = next(p for p in files if p.suffix not in LEGACY or p.name.startswith("."))
    raise InputError(
        f"{flag} {path}: holds files turnproof did not write ({odd.relative_to(path)}); "
        "give an empty or new folder (the result replaces the whole folder)"
    )


def _under(name, folder: Path) -> bool:
    if not isinstance(name, (str, Path)):
        return False
    p = Path(name)
    return p == folder or folder in p.parents


def _unwritable(flag: str, path: Path, e: OSError) -> InputError:
    return InputError(f"{flag} {path}: cannot write: {e.strerror or e}")


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass


class _held_back:
    """SIGINT, SIGTERM and SIGHUP wait (blocked) until the swap's renames are both done."""

    def __enter__(self) -> None:
        self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_BACK)

    def __exit__(self, *exc) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)


NO_DOT = "graphviz's dot is not installed: only .dot files were written (for .svg: apt-get install graphviz)"


def no_dot(files, err: bool = False) -> None:
    """Say so when pictures were drawn as .dot only: no result silently lacks its .svg."""
    if any(Path(p).suffix == ".dot" for p in files) and not shutil.which("dot"):
        click.echo(NO_DOT, err=err)
