#!/usr/bin/env bash
# Regenerate the README's pictures from the tool's own counterexamples.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
./run.sh check --design v1.15.4 --scenario tool-race --out "$tmp/tr" >/dev/null || true
./run.sh check --design v1.15.4 --scenario two-instances --shape four-siblings --shape u2-pair --out "$tmp/ti" >/dev/null || true
cp "$tmp/tr/turn-binding/message-tree.svg" docs/img/tool-race-turn-binding-tree.svg
cp "$tmp/tr/turn-binding/sequence.svg" docs/img/tool-race-turn-binding-sequence.svg
cp "$tmp/ti/shape:four-siblings/message-tree.svg" docs/img/two-instances-four-siblings-tree.svg
cp "$tmp/ti/shape:u2-pair/message-tree.svg" docs/img/two-instances-u2-pair-tree.svg
./run.sh check --design v1.15.4 --scenario clock-skew --out "$tmp/cs" >/dev/null || true
cp "$tmp/cs/loop-terminates/sequence.svg" docs/img/clock-skew-lasso-sequence.svg
cp "$tmp/cs/no-terminal-siblings/message-tree.svg" docs/img/clock-skew-siblings-tree.svg
# turnproof audit on the seed's evidence (issue #28202's four sibling replies, as JSON Lines)
./run.sh audit tests/fixtures/audit/seed-four-siblings.jsonl --out "$tmp/audit" >/dev/null || true
cp "$tmp/audit/message-tree.svg" docs/img/audit-seed-four-siblings-tree.svg
rm -rf "$tmp"

# the step-through page, as a person sees it in a browser
tmp=$(mktemp -d)
./run.sh check --design v1.15.4 --scenario tool-race --out "$tmp" >/dev/null || true
./run.sh explain "$tmp/turn-binding/trace.json" --html "$tmp/page.html" >/dev/null
.venv/bin/python - "$tmp/page.html" docs/img/step-through.png <<'PY'
import sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    page.goto("file://" + sys.argv[1])
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.screenshot(path=sys.argv[2])
    b.close()
PY
cp "$tmp/page.html" docs/step-through-tool-race.html
rm -rf "$tmp"

# the guard panel where it matters: idle-window's second runner starts r3 beside r2 (step 14)
tmp=$(mktemp -d)
./run.sh check --design v1.15.4 --scenario idle-window --out "$tmp" >/dev/null || true
./run.sh explain "$tmp/no-terminal-siblings/trace.json" --html "$tmp/page.html" >/dev/null
.venv/bin/python - "$tmp/page.html" docs/img/step-through-guard.png <<'PY'
import sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    page.goto("file://" + sys.argv[1])
    for _ in range(13):
        page.keyboard.press("ArrowRight")
    page.screenshot(path=sys.argv[2])
    b.close()
PY
rm -rf "$tmp"

# the explorer page: tool-race beside bind-and-serialize, and two-instances at the four-sibling shape
./run.sh explore --design v1.15.4 --scenario tool-race --compare bind-and-serialize --html docs/explore-tool-race.html >/dev/null
tmp=$(mktemp -d)
./run.sh explore --design v1.15.4 --scenario two-instances --html "$tmp/explore.html" >/dev/null
.venv/bin/python - "$tmp/explore.html" docs/img/explore.png <<'PY'
import sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    page.goto("file://" + sys.argv[1] + "#cx=four-siblings")
    page.evaluate("window.scrollTo(0, document.querySelector('#last').offsetTop - 70)")
    page.screenshot(path=sys.argv[2])
    b.close()
PY
rm -rf "$tmp"
