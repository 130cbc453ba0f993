"""Build opencode with a design's knob values: the release's modules, edited, run by its own Bun.

A build folder holds `opencode` (a small sh wrapper that runs the release's Bun on the extracted
entry point with the compile-time argv), `bun`, the modules under `root/`, one unified diff per
knob (`<knob>.diff`, the edited regions) and `manifest.json` (release, design, knobs, edits,
turnproof version) that conform reads to label what it drove. A build is made in a temporary
folder beside its target and renamed into place whole, so a failure leaves nothing behind.
Builds for `conform --design` are cached under the cache directory, keyed by the release and
the content of the edits.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

from turnproof.conform import HarnessError
from turnproof.conform.build import bundle, edits
from turnproof.conform.server import cache_root, fetch_binary, fetch_npm
from turnproof.model.config import Design

MANIFEST = "manifest.json"
BUN_PACKAGE = "@oven/bun-linux-x64"
FORMAT = 1  # the build folder's layout; a change invalidates cached builds
CONTEXT = 160  # characters of unchanged text shown around an edit in its diff
UNSAFE = "\"'`\\$"  # characters a build folder's path may not have (it goes into JavaScript strings)


def turnproof_version() -> str:
    try:
        return dist_version("turnproof")
    except PackageNotFoundError:
        return "unknown"


def fetch_bun(version: str) -> Path:
    """The cached Bun `version` (npm `@oven/bun-linux-x64`): the runtime the release was built by."""
    return fetch_npm(BUN_PACKAGE, version, "package/bin/bun", cache_root() / "bun" / version / "bun")


def build_key(release: str, chosen: list[edits.Edit]) -> str:
    """What a cached build is keyed by: the release, the build layout and every edit's content."""
    doc = [release, FORMAT] + [[e.knob, e.value, e.name, e.find, e.replace] for e in chosen]
    return hashlib.sha256(json.dumps(doc).encode()).hexdigest()[:16]


def _lines(text: str) -> list[str]:
    """Minified JavaScript cut into lines after each `;`, `{` and `}` so a diff can be read."""
    return [x + "\n" for x in re.split(r"(?<=[;{}])", text) if x]


def knob_diffs(before: dict[str, str], chosen: list[edits.Edit]) -> dict[str, str]:
    """One unified diff per knob: each edit's region, before and after, in application order."""
    out: dict[str, list[str]] = {}
    text = dict(before)
    for e in chosen:
        after = edits.apply(text, [e])
        for name in text:
            if after[name] == text[name]:
                continue
            old, new = text[name], after[name]
            short = min(len(old), len(new))
            lo = next((i for i in range(short) if old[i] != new[i]), short)
            tail = next((i for i in range(short - lo) if old[-1 - i] != new[-1 - i]), short - lo)
            a = old[max(0, lo - CONTEXT) : len(old) - tail + CONTEXT]
            b = new[max(0, lo - CONTEXT) : len(new) - tail + CONTEXT]
            label = name.removeprefix(bundle.ROOT)
            head = f"# {e.knob} = {e.value}, edit {e.name}: {e.stands_for}\n# {e.why}\n"
            body = difflib.unified_diff(_lines(a), _lines(b), f"a/{label}", f"b/{label}", n=3)
            out.setdefault(e.knob, []).append(head + "".join(body))
        text = after
    return {k: "\n".join(v) for k, v in out.items()}


def _wrapper(folder: Path, b: bundle.Bundle, label: str) -> str:
    run = [str(folder / "bun"), *b.argv, str(folder / "root" / bundle.local_path(b.entry))]
    return f'#!/bin/sh\n# {label}\nexec {" ".join(shlex.quote(x) for x in run)} "$@"\n'


def _place_bun(bun: Path, target: Path) -> None:
    try:
        os.link(bun, target)
    except OSError:
        shutil.copy2(bun, target)


def write_build(design: Design, release: str, final: Path, work: Path) -> dict:
    """Build `design` on `release` into `work`, to be run from `final` (its paths point there).
    Returns the manifest. Raises HarnessError (AnchorError for an anchor) before writing anything
    when the edits do not apply."""
    chosen = edits.for_design(design, release)
    binary = fetch_binary(release)
    b = bundle.read(binary)
    before = b.javascript()
    after = edits.apply(before, chosen)  # every anchor checked before a file is written
    diffs = knob_diffs(before, chosen)
    bun = fetch_bun(b.bun_version)
    bundle.extract(b, work / "root", after, final=final / "root")
    _place_bun(bun, work / "bun")
    changed = edits.changed_knobs(design, release)
    label = f"opencode {release} patched with {design.name} ({', '.join(f'{k} = {v}' for k, v in changed)})"
    (work / "opencode").write_text(_wrapper(final, b, label if changed else f"opencode {release}"), encoding="utf-8")
    (work / "opencode").chmod(0o755)
    for knob, text in diffs.items():
        (work / f"{knob}.diff").write_text(text, encoding="utf-8")
    manifest = {
        "release": release,
        "design": design.name,
        "knobs": dict(changed),
        "edits": [{"knob": e.knob, "value": e.value, "name": e.name, "stands_for": e.stands_for} for e in chosen],
        "bun": b.bun_version,
        "key": build_key(release, chosen),
        "turnproof": turnproof_version(),
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def patch(design: Design, release: str, out: Path) -> dict:
    """Build `design` on `release` into `out`, replacing a previous build there whole."""
    out = Path(out).absolute()
    odd = sorted({c for c in str(out) if c in UNSAFE or not c.isprintable()})
    if odd:  # the path is written into the bundle's JavaScript string literals
        raise HarnessError(
            f"--out {out}: has {' '.join(repr(c) for c in odd)}, which cannot go into the bundle's strings"
        )
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise HarnessError(f"--out {out}: exists and is not a turnproof build (no {MANIFEST}); not replaced")
    edits.for_design(design, release)  # refuse a design no edit builds before fetching anything
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        work.chmod(0o755)  # mkdtemp's 0700 would be the build's
        manifest = write_build(design, release, out, work)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            out.rename(old / "build")
            work.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def cached_build(design: Design, release: str) -> Path:
    """The cached build of `design` on `release` (made if missing): its `opencode` wrapper."""
    key = build_key(release, edits.for_design(design, release))
    folder = cache_root() / "builds" / f"{release}-{key}"
    if not (folder / MANIFEST).is_file():
        patch(design, release, folder)
    return folder / "opencode"


def manifest_of(binary: Path) -> dict | None:
    """The manifest of the build `binary` belongs to (`manifest.json` beside it), or None."""
    path = Path(binary).parent / MANIFEST
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise HarnessError(f"{path}: not a readable build manifest ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("release"), str) or not isinstance(doc.get("knobs"), dict):
        raise HarnessError(f"{path}: field release or knobs missing: not a turnproof build manifest")
    return doc
