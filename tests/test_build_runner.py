"""The runner knobs' edits (conform/build/edits_runner.py) on the real opencode 1.15.4 bundle: every
anchor matches exactly once, the built-in designs' combinations apply in knob order, and every
edited module still parses. They need `opencode-linux-x64@1.15.4` from the npm registry and SKIP,
saying so, when it cannot be fetched (as tests/test_conform.py does)."""

from __future__ import annotations

import dataclasses
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from turnproof.conform import RegistryUnavailable
from turnproof.conform.build import bundle, edits, edits_runner
from turnproof.specs.loader import load_design

RUNNER_KNOBS = ("guard", "overlap", "cancel", "on_idle", "runner_map")


def conformance(test):
    """Reads the real opencode executable: marked conformance, and slow (seconds per case)."""
    return pytest.mark.slow(pytest.mark.conformance(test))


@pytest.fixture(scope="module")
def javascript() -> dict[str, str]:
    """Every JavaScript module of the 1.15.4 executable, by name."""
    from turnproof.conform.server import fetch_binary

    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("runner edits NOT checked: opencode-linux-x64 needs linux x86_64")
    try:
        exe = fetch_binary("1.15.4")
    except RegistryUnavailable as e:
        pytest.skip(f"runner edits NOT checked: cannot fetch opencode-linux-x64@1.15.4 from the npm registry ({e})")
    return bundle.read(exe).javascript()


def runner_design(name: str, **knobs: str):
    """Built-in design `name` with only its runner knobs kept (the loop knobs at 1.15.4's values)."""
    base, design = load_design("v1.15.4"), load_design(name)
    mine = {k: getattr(design, k) for k in RUNNER_KNOBS} | knobs
    return dataclasses.replace(base, name=f"{name} (runner knobs)", **mine)


# The combinations the built-in designs use, and overlap=reject alone and with the rest of the
# serializing knobs (no built-in design uses it; `review` refutes it by no-silent-drop).
COMBINATIONS = {
    "serialize-turn": runner_design("serialize-turn"),
    "bind-and-serialize": runner_design("bind-and-serialize"),
    "one-runner": runner_design("one-runner"),
    "queue-overlap": runner_design("queue-overlap"),
    "reject": runner_design("v1.15.4", overlap="reject"),
    "reject-serialized": runner_design("serialize-turn", overlap="reject"),
}


def test_every_runner_knob_value_of_the_built_in_designs_has_edits():
    values = {
        (k, getattr(load_design(n), k)) for n in ("serialize-turn", "one-runner", "queue-overlap") for k in RUNNER_KNOBS
    }
    values.add(("overlap", "reject"))
    base = load_design("v1.15.4")
    wanted = {(k, v) for k, v in values if getattr(base, k) != v}
    have = {(e.knob, e.value) for e in edits_runner.EDITS}
    assert wanted == have
    for e in edits_runner.EDITS:
        assert e.knob in RUNNER_KNOBS and e.releases == ("1.15.4",)
        assert e.stands_for and e.why and re.compile(e.find)


@conformance
@pytest.mark.parametrize("edit", edits_runner.EDITS, ids=lambda e: f"{e.knob}={e.value}:{e.name}")
def test_each_anchor_matches_exactly_once_in_the_1_15_4_bundle(javascript, edit):
    rx = re.compile(edit.find)
    hits = [name for name, text in javascript.items() for _ in rx.finditer(text)]
    assert len(hits) == 1, f"{edit.name}: {len(hits)} matches"


def parses(name: str, text: str, folder: Path) -> None:
    """`node --check` on the module (an ES module: the chunks import each other)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("edited modules NOT parsed: no `node` on PATH")
    path = folder / (Path(name).stem + ".mjs")
    path.write_text(text, encoding="utf-8")
    run = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{name} no longer parses: {run.stderr[-500:]}"


@conformance
@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_the_combinations_apply_in_knob_order_and_parse(javascript, combination, tmp_path):
    design = COMBINATIONS[combination]
    picked = edits.for_design(design, "1.15.4", catalogue=edits_runner.EDITS)
    knobs = {(e.knob, e.value) for e in picked}
    assert knobs == {
        (k, getattr(design, k)) for k in RUNNER_KNOBS if getattr(design, k) != getattr(load_design("v1.15.4"), k)
    }
    out = edits.apply(javascript, picked)
    changed = [name for name in out if out[name] != javascript[name]]
    assert changed, "the edits changed nothing"
    for name in changed:
        parses(name, out[name], tmp_path)
    # applied once means applied: the runner's cancel and the prompt's write cannot be patched twice
    again = [e for e in picked if e.knob in ("cancel", "guard", "on_idle", "runner_map")]
    for e in again:
        with pytest.raises(edits.AnchorError, match=f"knob {e.knob} = {e.value}, edit {e.name}"):
            edits.apply(out, [e])


@conformance
def test_the_cancel_edit_composes_with_or_without_the_queue(javascript):
    """The cancel edit's anchor takes the runner's cancel as 1.15.4 ships it and as the overlap=queue
    edit leaves it, and its replacement fails the queued runs' done itself."""
    cancel = [e for e in edits_runner.EDITS if e.knob == "cancel"]
    queue = [e for e in edits_runner.EDITS if (e.knob, e.value) == ("overlap", "queue")]
    alone = edits.apply(javascript, cancel)
    both = edits.apply(javascript, queue + cancel)
    (name,) = [n for n in alone if alone[n] != javascript[n]]
    assert alone[name].count("for(let __tpRun of") == 2 == both[name].count("for(let __tpRun of")


@conformance
@pytest.mark.parametrize("name", ["serialize-turn", "bind-and-serialize", "one-runner", "queue-overlap"])
def test_the_built_in_designs_build_with_the_loop_edits_too(javascript, name, tmp_path):
    """Every edit of the whole design (loop knobs first, then the runner's) applies once and parses;
    with binding = turn and guard = turn the starter is the message the run writes, not one that
    prompt() no longer has."""
    out = edits.apply(javascript, edits.for_design(load_design(name), "1.15.4"))
    changed = [n for n in out if out[n] != javascript[n]]
    for n in changed:
        parses(n, out[n], tmp_path)
    text = "".join(out[n] for n in changed)
    if load_design(name).guard == "turn":
        assert "__tpStarter:" not in text and "__tpMsg.info.id" in text


# --- the edited runner itself, run under the release's Bun -----------------------------------

CHECK = Path(__file__).with_name("runner_check.mjs")


def _imported(text: str) -> dict[str, tuple[str, str]]:
    """The chunk's imported names: local name -> (module path, exported name)."""
    out = {}
    for names, path in re.findall(r'import\{([^}]*)\}from"([^"]+)"', text):
        for item in names.split(","):
            exported, _, local = item.partition(" as ")
            out[(local or exported).strip()] = (path, exported.strip())
    return out


def runner_modules(root: Path, folder: Path) -> dict[str, list[str]]:
    """Where runner_check.mjs finds the build's Runner (its chunk copied into `folder`, exporting the
    Runner namespace) and the Effect, Deferred and Fiber modules that chunk itself uses."""
    chunk = next(p for p in sorted(root.glob("chunk-*.js")) if '"RunnerCancelled"' in p.read_text("utf-8", "replace"))
    text = chunk.read_text("utf-8")
    ns = re.search(r"\{make:\(\)=>[\w$]+,Runner:\(\)=>(?P<ns>[\w$]+)", text)["ns"]
    names = {
        "effect": re.search(r"\?\.onIdle\?\?(?P<n>[\w$]+)\.void", text)["n"],
        "deferred": re.search(r'(?P<n>[\w$]+)\.await\([\w$]+\)\.pipe\([\w$]+\.catchTag\("RunnerCancelled"', text)["n"],
        "fiber": re.search(r"yield\*(?P<n>[\w$]+)\.interrupt\([\w$]+\.fiber\)\}", text)["n"],
    }
    copy = folder / "runner.mjs"
    copy.write_text(text + f"\nexport{{{ns} as __tpRunner}};\n", encoding="utf-8")
    imported = _imported(text)
    return {"runner": [str(copy), "__tpRunner"]} | {k: list(imported[n]) for k, n in names.items()}


def expected(overlap: str, cancel: str) -> dict:
    """What the model's runner (model/runner.py) does in runner_check.mjs's three sequences."""
    busy = "fail RunnerBusy"
    at_once = cancel == "idle-at-once"
    return {
        "overlap.b": {"join": "a", "queue": "b", "reject": busy}[overlap],
        "cancelling": "Idle" if at_once else "Running",
        "cancel.b": busy if overlap == "reject" else "cancelled",
        # idle-at-once: d starts a second loop while a still unwinds; after-interrupt: d joins the
        # cancelled run, waits in the queue until a has stopped, or is refused
        "cancel.d": "d" if at_once or overlap == "queue" else {"join": "cancelled", "reject": busy}[overlap],
        "d before a stopped": at_once,
        "shell.c": {"join": "b", "queue": "c", "reject": busy}[overlap],
    }


def observed(out: dict) -> dict:
    log = out["cancel"]["log"]
    return {
        "overlap.b": out["overlap"]["b"],
        "cancelling": next(x for x in log if x.startswith("cancelling:")).split()[1],
        "cancel.b": out["cancel"]["b"],
        "cancel.d": out["cancel"]["d"],
        "d before a stopped": "start d" in log and log.index("start d") < log.index("cleaned a"),
        "shell.c": out["shell"]["c"],
    }


RUNNER_BUILDS = {
    "v1.15.4": load_design("v1.15.4"),
    "queue-overlap": load_design("queue-overlap"),
    "one-runner": load_design("one-runner"),
    "serialize-turn": load_design("serialize-turn"),
    "reject": runner_design("v1.15.4", overlap="reject"),
}


@conformance
@pytest.mark.parametrize("name", sorted(RUNNER_BUILDS))
def test_the_edited_runner_does_what_the_model_runner_does(javascript, name, tmp_path):
    """The build's own Runner.make, driven under the release's Bun: joins, queues or refuses an
    overlapping run, holds or releases the guard while a cancelled run unwinds, and what waits
    behind a shell, each as the model's runner does for the design's overlap and cancel."""
    import json

    from turnproof.conform.build.patch import cached_build

    design = RUNNER_BUILDS[name]
    exe = cached_build(design, "1.15.4")
    where = runner_modules(exe.parent / "root", tmp_path)
    run = subprocess.run(
        [str(exe.parent / "bun"), str(CHECK), json.dumps(where)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-1000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert observed(out) == expected(design.overlap, design.cancel), out
    assert out["overlap"]["a"] == "a" and out["cancel"]["a"] == "cancelled" and out["shell"]["s"] == "s"
    for seq in out.values():  # every run settled; the guard ends free, onIdle ran at least once
        assert seq["end"] == "Idle" and "onIdle" in seq["log"]
    if design.overlap == "queue":  # finishRun started b itself: no onIdle between a and b
        log = out["overlap"]["log"]
        assert log[log.index("end a") + 1] == "start b"
