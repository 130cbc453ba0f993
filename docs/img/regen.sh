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
rm -rf "$tmp"
