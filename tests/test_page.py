"""The step-through page, opened in headless Chromium: it steps, and the highlight follows."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from turnproof.explore.search.confirm import load_trace
from turnproof.explore.views.page import write_page

BROWSER = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARGS += ["--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    from click.testing import CliRunner
    from turnproof.cli.main import main

    out = tmp_path_factory.mktemp("page")
    CliRunner().invoke(main, ["check", "--design", "v1.15.4", "--scenario", "tool-race", "--out", str(out)])
    path = out / "page.html"
    write_page(load_trace(out / "turn-binding" / "trace.json"), path)
    return path


def test_the_page_is_self_contained(page_file):
    text = page_file.read_text()
    assert "<svg" in text and "http://" not in text.replace("http://www.w3.org", "")
    assert "https://" not in text and "<script src" not in text and "<link" not in text


@pytest.mark.slow  # starts headless Chromium
@pytest.mark.skipif(os.environ.get("TURNPROOF_NO_BROWSER") == "1", reason="TURNPROOF_NO_BROWSER=1")
def test_stepping_moves_the_highlight_in_chromium(page_file, tmp_path):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(BROWSER), "chromium is missing: ./run.sh test installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(page_file.as_uri())
        current = "document.querySelector('#sequence .current')?.id"
        assert page.evaluate("document.body.dataset.step") == "1"
        assert page.evaluate(current) == "step-1"
        first_tree = page.inner_html("#tree")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.body.dataset.step") == "2" and page.evaluate(current) == "step-2"
        assert page.inner_html("#tree") != first_tree  # the loop's first assistant appears
        page.click("#next")
        page.keyboard.press("ArrowLeft")
        assert page.evaluate(current) == "step-2"
        for _ in range(10):
            page.keyboard.press("ArrowRight")
        assert page.evaluate("document.body.dataset.step") == "6"
        assert "Here it breaks" in page.inner_text("#narration")
        assert page.locator("#sequence .current").count() == 1
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot))
        browser.close()
    assert shot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def two_runners(tmp_path_factory):
    """two-instances: each server instance makes its own runner, and both loops answer W1."""
    from click.testing import CliRunner
    from turnproof.cli.main import main

    out = tmp_path_factory.mktemp("two")
    CliRunner().invoke(main, ["check", "--design", "v1.15.4", "--scenario", "two-instances", "--out", str(out)])
    trace = out / "no-terminal-siblings" / "trace.json"
    path = out / "page.html"
    write_page(load_trace(trace), path)
    return trace, path


def test_trace_json_records_the_guard_and_old_traces_still_replay_and_make_a_page(two_runners, tmp_path):
    from turnproof.explore.search.confirm import confirm

    trace, _ = two_runners
    doc = load_trace(trace)
    first, second = doc["steps"][0]["guard"], doc["steps"][1]["guard"]
    assert first == {"maps": [0, None], "runners": [{"runner": 0, "instance": 0, "state": "Running(r1)"}]}
    assert second["maps"] == [0, 1] and second["runners"][1] == {"runner": 1, "instance": 1, "state": "Running(r2)"}
    assert confirm(doc)[0] == 1
    tampered = json.loads(json.dumps(doc))
    tampered["steps"][1]["guard"]["runners"][1]["state"] = "Idle"
    code, lines = confirm(tampered)
    assert code == 2 and lines[0].startswith("step 2: W1 leaves the runner maps or runners different")
    old = json.loads(json.dumps(doc))  # a trace.json from before the guard was recorded
    for step in old["steps"]:
        del step["guard"]
    assert confirm(old)[0] == 1
    write_page(old, tmp_path / "old.html")
    assert '"guards"' in (tmp_path / "old.html").read_text()


@pytest.mark.slow  # starts headless Chromium
@pytest.mark.skipif(os.environ.get("TURNPROOF_NO_BROWSER") == "1", reason="TURNPROOF_NO_BROWSER=1")
def test_the_guard_panel_shows_each_runner_and_highlights_what_the_step_changed(two_runners):
    from playwright.sync_api import sync_playwright

    trace, page_file = two_runners
    recorded = [s["guard"] for s in load_trace(trace)["steps"]]
    before = {"maps": [None, None], "runners": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(page_file.as_uri())
        rows = "[...document.querySelectorAll('#guard #%s tr')].slice(1).map(r => [r.innerText, r.className])"
        for i, after in enumerate(recorded, 1):
            assert page.evaluate("document.body.dataset.step") == str(i)
            maps, runners = page.evaluate(rows % "maps"), page.evaluate(rows % "runners")
            assert [text.split("\t") for text, _ in runners] == [
                [f"#{r['runner']}", f"instance {r['instance']}", r["state"]] for r in after["runners"]
            ]
            old = {r["runner"]: r["state"] for r in before["runners"]}
            changed = [old.get(r["runner"]) != r["state"] for r in after["runners"]]
            assert [cls == "changed" for _, cls in runners] == changed
            moved = [a != b for a, b in zip(after["maps"], before["maps"], strict=True)]
            assert [cls == "changed" for _, cls in maps] == moved
            before = after
            page.keyboard.press("ArrowRight")
        for _ in range(len(recorded)):
            page.keyboard.press("ArrowLeft")
        assert page.evaluate("document.body.dataset.step") == "1"
        page.keyboard.press("ArrowRight")  # step 2: W1's instance makes the second runner, highlighted
        changed = page.locator("#guard tr.changed")
        assert changed.count() == 2 and "runner #1" in changed.nth(0).inner_text()
        assert "Running(r2)" in changed.nth(1).inner_text() and "Running(r1)" in page.inner_text("#guard #runners")
        browser.close()


@pytest.fixture(scope="module")
def shape_page(tmp_path_factory):
    """The four-sibling shape of two-instances, as `explain --html` writes its page."""
    from click.testing import CliRunner
    from turnproof.cli.main import main

    out = tmp_path_factory.mktemp("shape")
    args = ["check", "--design", "v1.15.4", "--scenario", "two-instances", "--shape", "four-siblings"]
    CliRunner().invoke(main, [*args, "--out", str(out)])
    path = out / "page.html"
    r = CliRunner().invoke(main, ["explain", str(out / "shape:four-siblings" / "trace.json"), "--html", str(path)])
    assert r.exit_code == 0, r.output
    return path


@pytest.mark.slow  # starts headless Chromium
@pytest.mark.skipif(os.environ.get("TURNPROOF_NO_BROWSER") == "1", reason="TURNPROOF_NO_BROWSER=1")
def test_a_shape_page_opens_at_the_step_in_the_address_with_readable_text_and_a_legend(shape_page):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(shape_page.as_uri() + "#step=6")
        assert page.evaluate("document.body.dataset.step") == "6"
        assert page.evaluate("document.querySelector('#sequence .current')?.id") == "step-6"
        why = page.inner_text("#narration .why")  # r1's loop head: r2's A2 is the newest, unfinished
        assert "A2 has no finish yet" in why and "lastUser W1 (id 2) < lastAssistant A2 (id 4)" in why
        # the sequence panel's text is drawn at its own size, not shrunk to the pane (was ~6 px)
        heights = page.evaluate(
            "[...document.querySelectorAll('#sequence svg text')].map(t => t.getBoundingClientRect().height)"
        )
        assert heights and min(heights) >= 10, min(heights)
        legend = page.inner_text("#legend")
        assert "red outline" in legend and "yellow" in legend and "#step=N" in legend
        page.keyboard.press("ArrowRight")
        assert page.evaluate("location.hash") == "#step=7"  # the address follows, so it can be shared
        page.evaluate("location.hash = '#step=10'")
        page.wait_for_function("document.body.dataset.step === '10'")
        assert "Here the shape is there" in page.inner_text("#narration")
        page.goto(shape_page.as_uri() + "#step=99")  # past the end: the last step
        assert page.evaluate("document.body.dataset.step") == "10"
        browser.close()
