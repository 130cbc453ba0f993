#!/usr/bin/env bash
# One entry point that sets up a fresh machine, then runs turnproof or its tests.
#   ./run.sh check --design v1.15.4 --scenario tool-race   (any turnproof command)
#   ./run.sh test                                           (the test suite, on every core)
#   ./run.sh test -m "not slow"                             (its fast tier, for the inner loop)
set -euo pipefail
cd "$(dirname "$0")"
log=$(mktemp -t turnproof-setup.XXXXXX)
quietly() { "$@" >>"$log" 2>&1 || { echo "setup failed: $*" >&2; cat "$log" >&2; exit 2; }; }

if ! command -v dot >/dev/null 2>&1; then
  echo "setup: installing graphviz (the dot binary)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  quietly $SUDO apt-get update -qq
  quietly env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz
fi

if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (the step-through page is tested in a real browser)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  quietly $SUDO apt-get update -qq
  quietly env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi

stamp=.venv/.installed
if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: creating .venv and installing turnproof with its test tools" >&2
  [ -x .venv/bin/python ] || quietly "${PYTHON:-python3}" -m venv .venv
  quietly .venv/bin/python -m pip install --upgrade pip
  quietly .venv/bin/python -m pip install -e '.[dev]'
  touch "$stamp"
fi
rm -f "$log"

if [ "${1:-}" = "test" ]; then
  shift
  # one worker per core and one more (pytest-xdist): the real-server cases mostly wait on the server,
  # and another worker searches meanwhile; arguments given after `test` come later and win (-n 0: one)
  workers=$(( $(.venv/bin/python -c 'import os; print(os.cpu_count() or 1)') + 1 ))
  exec .venv/bin/python -m pytest -n "$workers" "$@"
fi
exec .venv/bin/turnproof "$@"
