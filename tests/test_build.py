"""Building a design into opencode (conform/build) and driving any build (`conform --opencode-binary`).

The fast tests use a small Bun-shaped ELF made here and a stand-in Bun; the conformance tests
read the real 1.15.4 executable, run its modules under the real Bun and drive the server.
"""

from __future__ import annotations

import json
import platform
import struct
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from turnproof.cli.main import main
from turnproof.conform import HarnessError, RegistryUnavailable
from turnproof.conform.build import bundle, edits, edits_loop
from turnproof.conform.build import patch as build
from turnproof.model.config import Design
from turnproof.specs.loader import load_design, load_scenario

ENTRY = "/$bunfs/root/src/index.js"
CHUNK = "/$bunfs/root/chunk-a.js"
CLIMBER = "/$bunfs/root/../../node_modules/x/worker.js"
WASM = "/$bunfs/root/parser-1.wasm"
JS = {
    ENTRY: 'import"/$bunfs/root/chunk-a.js";let w=await import("/$bunfs/root/chunk-a.js",{with:{type:"wasm"}});'
    "function run(u){let parent=loopUser(u);return parent}",
    CHUNK: 'export default "/$bunfs/root/parser-1.wasm";var up="/$bunfs/root/../../node_modules/x/worker.js";',
    CLIMBER: "postMessage(1);",
}


def conformance(test):
    """Drives the real opencode server: marked conformance, and slow (seconds per case)."""
    return pytest.mark.slow(pytest.mark.conformance(test))


def bun_elf(path: Path, argv: str = "--user-agent=opencode/9.9.9 --use-system-ca --") -> Path:
    """A 64-bit ELF holding a `.bun` section laid out as Bun's standalone graph (bundle.py)."""
    blob = bytearray()

    def put(data: bytes) -> tuple[int, int]:
        at = len(blob)
        blob.extend(data)
        return at, len(data)

    mods = [(name, text.encode("latin-1"), 1, 1) for name, text in JS.items()]
    mods.append((WASM, b"\0asm\x01\0\0\0", 0, 9))
    table = bytearray()
    for name, contents, encoding, loader in mods:
        n, c = put(name.encode()), put(contents)
        table += struct.pack("<12I4B", *n, *c, 0, 0, 0, 0, 0, 0, 0, 0, encoding, loader, 1, 0)
    mod_off, mod_len = put(bytes(table))
    argv_off, argv_len = put(argv.encode())
    blob += struct.pack("<Q2II2II", len(blob), mod_off, mod_len, 0, argv_off, argv_len, 3) + bundle.TRAILER
    section = struct.pack("<Q", len(blob)) + bytes(blob)
    names = b"\0.shstrtab\0.bun\0"
    head = 64
    body = b"Bun v1.3.99 (fake)\0" + names
    names_at, sec_at = head + body.index(names), head + len(body)
    shoff = sec_at + len(section)
    shdrs = bytes(64)  # the null section
    shdrs += struct.pack("<IIQQQQIIQQ", 1, 3, 0, 0, names_at, len(names), 0, 0, 1, 0)
    shdrs += struct.pack("<IIQQQQIIQQ", 11, 1, 3, 0, sec_at, len(section), 0, 0, 1, 0)
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    elf = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 1)
    path.write_bytes(elf + body + section + shdrs)
    return path


# --- the bundle ---------------------------------------------------------------------------


def test_a_bun_executable_is_read_and_extracted_to_a_folder_bun_can_run(tmp_path):
    b = bundle.read(bun_elf(tmp_path / "opencode"))
    assert [m.name for m in b.modules] == [*JS, WASM]
    assert (b.entry, b.argv, b.bun_version) == (ENTRY, ("--user-agent=opencode/9.9.9", "--use-system-ca"), "1.3.99")
    assert b.javascript() == JS
    entry = bundle.extract(b, tmp_path / "x", final=tmp_path / "run")
    assert entry == tmp_path / "x" / "src" / "index.js"
    text = entry.read_text()
    # imports point where the folder will run from, and the wasm import attribute is gone
    assert f'import"{tmp_path}/run/chunk-a.js"' in text and 'import("' + f'{tmp_path}/run/chunk-a.js")' in text
    assert "$bunfs" not in text and "wasm" not in text
    # the one module above the root stays inside the folder, and its path is rewritten to match
    assert (tmp_path / "x" / "_up" / "_up" / "node_modules" / "x" / "worker.js").read_text() == JS[CLIMBER]
    assert f'"{tmp_path}/run/_up/_up/node_modules/x/worker.js"' in (tmp_path / "x" / "chunk-a.js").read_text()
    assert (tmp_path / "x" / "parser-1.wasm").read_bytes() == b"\0asm\x01\0\0\0"


def test_a_file_that_is_not_a_bun_executable_is_a_one_line_error(tmp_path):
    (tmp_path / "t").write_text("#!/bin/sh\n")
    with pytest.raises(HarnessError, match="not a 64-bit little-endian ELF"):
        bundle.read(tmp_path / "t")
    with pytest.raises(HarnessError, match=r"no \.bun section"):
        bundle.read(Path(sys.executable).resolve())
    with pytest.raises(HarnessError, match="cannot read"):
        bundle.read(tmp_path / "missing")


def test_a_module_name_cannot_lead_outside_the_folder():
    assert bundle.local_path("/$bunfs/root/../a.js") == "_up/a.js"
    with pytest.raises(HarnessError, match="outside"):
        bundle.local_path("/$bunfs/root/a/../../../b.js")


# --- the edits ----------------------------------------------------------------------------


def edit(name: str, find: str, replace: str, knob: str = "binding", value: str = "turn") -> edits.Edit:
    return edits.Edit(knob, value, name, find, replace, "SessionPrompt.run", "a test edit")


def test_each_anchor_must_match_exactly_once_in_the_text_earlier_edits_left():
    mods = {"a.js": "let p=loopUser(u);", "b.js": "loopUser(v)"}
    one = edit("one", r"let p=loopUser\((?P<u>\w)\)", r"let p=boundUser(\g<u>)")
    then = edit("then", r"boundUser\(u\);", "boundUser(u);keep();", knob="exit", value="parent")
    assert edits.apply(mods, [one, then]) == {"a.js": "let p=boundUser(u);keep();", "b.js": "loopUser(v)"}
    for find, n in ((r"loopUser\(\w\)", 2), (r"nowhere", 0)):
        with pytest.raises(edits.AnchorError) as e:
            edits.apply(mods, [edit("mine", find, "")])
        assert str(e.value) == f"knob binding = turn, edit mine: anchor matches {n} times, not once: {find}"


def test_a_knob_value_no_edit_builds_is_refused_naming_the_knob():
    with pytest.raises(HarnessError, match="no edit makes opencode 1.15.4 take delivery = queue"):
        edits.for_design(Design("d", delivery="queue"), "1.15.4")
    with pytest.raises(HarnessError, match="binding = pinned is built only with exit = parent"):
        edits.for_design(Design("d", binding="pinned"), "1.15.4")
    with pytest.raises(HarnessError, match="no design describes it"):
        edits.changed_knobs(Design("d"), "0.0.1")


def test_a_design_gets_the_edits_of_the_knobs_it_changes_from_its_release_in_a_fixed_order():
    cat = (
        edit("e", "x", "y", knob="exit", value="parent"),
        edit("o", "x", "y", knob="order", value="created"),
        edit("b", "x", "y"),
    )
    assert [e.name for e in edits.for_design(Design("d", binding="turn", exit="parent"), "1.15.4", cat)] == ["b", "e"]
    assert [e.name for e in edits.for_design(load_design("change-40990"), "1.15.4", cat)] == ["o", "e"]
    assert edits.for_design(load_design("upstream-1.18.34"), "1.18.34", cat) == []  # the release's own
    assert edits.KNOB_ORDER.index("binding") < edits.KNOB_ORDER.index("exit")  # exit reads binding's test


# --- turnproof patch (a stand-in release and Bun) -----------------------------------------


@pytest.fixture
def fake_release(tmp_path, monkeypatch):
    """`patch` builds from a small Bun-shaped executable, run by a Bun that prints its arguments."""
    (tmp_path / "release").mkdir()
    elf = bun_elf(tmp_path / "release" / "opencode")
    bun = tmp_path / "bun"
    bun.write_text('#!/bin/sh\necho "bun $*"\n')
    bun.chmod(0o755)
    monkeypatch.setattr(build, "fetch_binary", lambda release: elf)
    monkeypatch.setattr(build, "fetch_bun", lambda version: bun)
    loop = (edit("keep-user", r"let parent=loopUser\((?P<u>\w)\)", r"let parent=boundUser(\g<u>)"),)
    monkeypatch.setattr(edits_loop, "EDITS", loop)
    monkeypatch.setattr(build, "cache_root", lambda: tmp_path / "cache")
    return tmp_path


def test_patch_writes_a_runnable_wrapper_a_diff_per_knob_and_a_manifest(fake_release):
    out = fake_release / "out" / "build"
    r = CliRunner().invoke(main, ["patch", "--design", "bind-turn", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("opencode 1.15.4 patched with bind-turn (binding = turn)\n")
    diff = (out / "binding.diff").read_text()
    assert "-function run(u){\n" not in diff and "-let parent=loopUser(u);\n" in diff
    assert "+let parent=boundUser(u);\n" in diff and "--- a/src/index.js" in diff
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["release"] == "1.15.4" and manifest["design"] == "bind-turn"
    assert manifest["knobs"] == {"binding": "turn"}
    assert manifest["edits"] == [
        {"knob": "binding", "value": "turn", "name": "keep-user", "stands_for": "SessionPrompt.run"}
    ]
    assert "boundUser(u)" in (out / "root" / "src" / "index.js").read_text()
    import subprocess

    said = subprocess.run([str(out / "opencode"), "serve", "--port", "1"], capture_output=True, text=True).stdout
    assert said == f"bun --user-agent=opencode/9.9.9 --use-system-ca {out}/root/src/index.js serve --port 1\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["build"]  # no temporary folder beside it


def test_a_build_is_named_by_its_manifest(fake_release):
    from turnproof.conform.target import describe

    out = fake_release / "out"
    assert CliRunner().invoke(main, ["patch", "--design", "bind-turn", "--out", str(out)]).exit_code == 0
    t = describe(out / "opencode")  # the stand-in Bun answers --version with its arguments
    assert (t.path, t.release, t.design, t.knobs) == (str(out / "opencode"), "1.15.4", "bind-turn", {"binding": "turn"})
    assert t.version.endswith("src/index.js --version") and len(t.sha256) == 64
    assert t.label() == "opencode 1.15.4 patched with bind-turn (knobs binding = turn)"


def test_a_missing_anchor_exits_2_naming_knob_edit_and_anchor_and_leaves_nothing(fake_release, monkeypatch):
    monkeypatch.setattr(edits_loop, "EDITS", (edit("keep-user", r"nowhere\(\)", "x"),))
    out = fake_release / "out" / "build"
    r = CliRunner().invoke(main, ["patch", "--design", "bind-turn", "--out", str(out)])
    assert r.exit_code == 2
    assert (
        r.output
        == "turnproof: error: knob binding = turn, edit keep-user: anchor matches 0 times, not once: nowhere\\(\\)\n"
    )
    assert not out.exists() and list((fake_release / "out").iterdir()) == []


def test_patch_replaces_its_own_build_whole_and_refuses_any_other_folder(fake_release):
    out = fake_release / "out"
    assert CliRunner().invoke(main, ["patch", "--design", "bind-turn", "--out", str(out)]).exit_code == 0
    (out / "stale.txt").write_text("from before")
    r = CliRunner().invoke(main, ["patch", "--design", "v1.15.4", "--out", str(out)])
    assert r.exit_code == 0 and not (out / "stale.txt").exists() and not (out / "binding.diff").exists()
    assert json.loads((out / "manifest.json").read_text())["knobs"] == {}
    r = CliRunner().invoke(main, ["patch", "--design", "bind-turn", "--out", str(fake_release / "a$b")])
    assert (
        r.exit_code == 2 and "cannot go into the bundle's strings" in r.output and not (fake_release / "a$b").exists()
    )
    other = fake_release / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    r = CliRunner().invoke(main, ["patch", "--design", "bind-turn", "--out", str(other)])
    assert r.exit_code == 2 and "not a turnproof build" in r.output and (other / "notes.txt").exists()


def test_a_cached_build_is_keyed_by_the_release_and_the_edits_content(fake_release, monkeypatch):
    first = build.cached_build(load_design("bind-turn"), "1.15.4")
    assert build.cached_build(load_design("bind-turn"), "1.15.4") == first
    monkeypatch.setattr(edits_loop, "EDITS", (edit("keep-user", r"loopUser\(u\)", "otherUser(u)"),))
    second = build.cached_build(load_design("bind-turn"), "1.15.4")
    assert second != first and "otherUser(u)" in (second.parent / "root" / "src" / "index.js").read_text()


# --- conform --opencode-binary ------------------------------------------------------------


def test_a_binary_that_cannot_start_is_one_line_and_leaves_no_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    broken = tmp_path / "opencode"
    broken.write_text("#!/bin/sh\necho 'cannot load the bundle' >&2\nexit 3\n")
    broken.chmod(0o755)
    args = ["conform", "--design", "v1.15.4", "--scenario", "tool-race", "--opencode-binary"]
    r = CliRunner().invoke(main, [*args, str(broken)])
    assert r.exit_code == 2
    assert (
        r.output
        == f"turnproof: error: --opencode-binary {broken}: `--version` failed (exit 3): cannot load the bundle\n"
    )
    assert list((tmp_path / "tmp").iterdir()) == []
    r = CliRunner().invoke(main, [*args, str(tmp_path / "nothing")])
    assert r.exit_code == 2 and r.output.endswith("no such file\n") and r.output.count("\n") == 1


def test_the_report_names_what_ran():
    from turnproof.conform.harness import prepare
    from turnproof.conform.target import Target

    patched = Target("/b/opencode", "1.15.4", "ab" * 32, "1.15.4", "bind-turn", {"binding": "turn"}, "k")
    report, _ = prepare(load_design("bind-turn"), load_scenario("tool-race"), None, "1.15.4", 1, patched)
    assert report.text().startswith(
        "design bind-turn × scenario tool-race against the real opencode 1.15.4 patched with bind-turn "
        "(knobs binding = turn)\n  ran: /b/opencode (--version 1.15.4, sha256 abababababababab…)\n"
    )
    assert report.to_json()["opencode_binary"] == {
        "path": "/b/opencode",
        "version": "1.15.4",
        "sha256": "ab" * 32,
        "release": "1.15.4",
        "patched": {"design": "bind-turn", "knobs": {"binding": "turn"}, "key": "k"},
    }
    assert report.note == ""
    stock = Target("/s/opencode", "1.15.4", "cd" * 32, "1.15.4")
    report, _ = prepare(load_design("bind-turn"), load_scenario("tool-race"), None, "1.15.4", 1, stock)
    assert report.note == "design bind-turn changes binding = turn from opencode 1.15.4; what ran is opencode 1.15.4"
    assert "patched" not in report.to_json()["opencode_binary"]


# --- the real 1.15.4 --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release_and_bun():
    from turnproof.conform.server import fetch_binary

    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("conformance NOT checked: opencode-linux-x64 needs linux x86_64")
    try:
        binary = fetch_binary("1.15.4")
        b = bundle.read(binary)
        build.fetch_bun(b.bun_version)
    except RegistryUnavailable as e:
        pytest.skip(f"conformance NOT checked: cannot fetch opencode or Bun from the npm registry ({e})")
    return binary, b


@pytest.fixture(scope="module")
def builds(release_and_bun, tmp_path_factory):
    """A cache of its own (the release and Bun linked from the shared one) holding the bind-turn
    build that `conform --design bind-turn` makes on the fly, and `turnproof patch` of v1.15.4
    itself (the unpatched extraction), each made once."""
    cache = tmp_path_factory.mktemp("cache")
    binary, b = release_and_bun
    for link, real in (
        (cache / "opencode" / "1.15.4" / "opencode", binary),
        (cache / "bun" / b.bun_version / "bun", None),
    ):
        link.parent.mkdir(parents=True)
        link.symlink_to(real or build.fetch_bun(b.bun_version))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TURNPROOF_CACHE", str(cache))
        out = {"bind-turn": build.cached_build(load_design("bind-turn"), "1.15.4").parent}
        d = tmp_path_factory.mktemp("builds") / "v1.15.4"
        r = CliRunner().invoke(main, ["patch", "--design", "v1.15.4", "--out", str(d)])
        assert r.exit_code == 0, r.output
        out["v1.15.4"] = d
        yield out


@conformance
def test_the_1_15_4_graph_holds_its_modules_and_entry_point(release_and_bun):
    _, b = release_and_bun
    js = b.javascript()
    assert (len(b.modules), len(js), b.entry, b.bun_version) == (742, 184, ENTRY, "1.3.13")
    assert b.argv == ("--user-agent=opencode/1.15.4", "--use-system-ca")
    assert '"SessionPrompt.run"' in js["/$bunfs/root/chunk-0c9y3vgs.js"]


@conformance
def test_every_loop_edit_matches_once_on_1_15_4_alone_and_in_every_design_that_uses_it(release_and_bun, tmp_path):
    import re

    js = release_and_bun[1].javascript()
    for e in edits_loop.EDITS:
        assert "1.15.4" in e.releases
        assert sum(len(re.findall(e.find, t)) for t in js.values()) == 1, e.name
    pinned = tmp_path / "pinned-only.toml"
    pinned.write_text('binding = "pinned"\nexit = "parent"\norder = "created"\n')
    for design in ("bind-turn", "parent-exit", "change-40990", str(pinned)):
        chosen = edits.for_design(load_design(design), "1.15.4")
        assert chosen and edits.apply(js, chosen) != js


@conformance
def test_the_patched_build_runs_and_reports_its_release(builds):
    import subprocess

    d = builds["bind-turn"]
    assert sorted(p.name for p in d.iterdir()) == ["binding.diff", "bun", "manifest.json", "opencode", "root"]
    said = subprocess.run([str(d / "opencode"), "--version"], capture_output=True, text=True, timeout=120)
    assert said.stdout.strip() == "1.15.4"
    assert "__tpStarter" in (d / "binding.diff").read_text()


@conformance
def test_the_unpatched_extraction_behaves_as_the_release_on_tool_race(builds):
    from turnproof.conform.harness import Harness

    with Harness("1.15.4", builds["v1.15.4"] / "opencode") as h:
        report = h.conform(load_design("v1.15.4"), load_scenario("tool-race"), runs=1)
    assert report.conforms, report.text()


@conformance
def test_bind_turn_patched_on_the_fly_agrees_and_the_stock_release_driven_as_bind_turn_disagrees(
    builds, release_and_bun, monkeypatch
):
    monkeypatch.setenv("TURNPROOF_CACHE", str(builds["bind-turn"].parent.parent))
    args = ["conform", "--design", "bind-turn", "--scenario", "tool-race", "--json"]
    r = CliRunner().invoke(main, args)
    doc = json.loads(r.output)
    assert r.exit_code == 0 and doc["verdict"] == "conforms", r.output
    assert doc["opencode_binary"]["path"] == str(builds["bind-turn"] / "opencode")  # the cached build, reused
    assert doc["opencode_binary"]["patched"]["knobs"] == {"binding": "turn"}
    # the model's bind-turn tree: U1's continuation under U1, U2 unanswered
    replies = [(m["label"], m["parent"]) for m in doc["runs"][0]["messages"] if m["role"] == "assistant"]
    assert replies == [("A1", "U1"), ("A2", "U1")]
    r = CliRunner().invoke(main, [*args, "--opencode-binary", str(release_and_bun[0])])
    doc = json.loads(r.output)
    assert r.exit_code == 1 and doc["verdict"] == "disagrees"
    assert doc["opencode_binary"]["version"] == "1.15.4" and "patched" not in doc["opencode_binary"]
    assert doc["opencode_binary"]["path"] == str(release_and_bun[0])


def test_the_fixes_table_says_when_a_design_cannot_be_built_and_refuses_bad_options(tmp_path, capsys):
    from turnproof.conform.fixes import main as fixes

    assert fixes(["--runs", "0"]) == 2
    design = tmp_path / "steer-legacy.toml"
    design.write_text('delivery = "queue"\n')
    out = tmp_path / "fixes.md"
    out.write_text("# Fixes\n\nprose kept\n")
    assert fixes(["--design", str(design), "--scenario", "tool-race", "--out", str(out)]) == 2
    text = out.read_text()
    assert text.startswith("# Fixes\n\nprose kept\n\n<!-- fixes:begin -->\nMeasured ")
    assert (
        "### " + str(design) + "\n\nNot built: design steer-legacy: no edit makes opencode 1.15.4 take delivery = queue"
        in text
    )
    assert "turnproof: error: design" in capsys.readouterr().err


def test_a_releases_own_design_is_never_patched_and_another_is_built_for_its_release(fake_release):
    from turnproof.conform.target import resolve

    assert resolve(load_design("v1.15.4"), None) == ("1.15.4", None, None)
    assert resolve(load_design("upstream-1.18.34"), None) == ("1.18.34", None, None)
    assert resolve(load_design("v1.15.4"), "1.18.34") == ("1.18.34", None, None)  # driven as it is, with a note
    version, binary, target = resolve(load_design("bind-turn"), None)
    assert version == "1.15.4" and binary.parent.parent == fake_release / "cache" / "builds"
    assert target.knobs == {"binding": "turn"} and target.path == str(binary)
    with pytest.raises(HarnessError, match="no edit makes opencode 1.18.34 take"):
        resolve(load_design("bind-turn"), "1.18.34")
