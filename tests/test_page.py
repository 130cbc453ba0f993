"""The step-through page, opened in headless Chromium: it steps, and the highlight follows."""

from __future__ import annotations

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
