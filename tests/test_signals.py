"""Signals and time, on real processes and real clocks: Ctrl-C sent to a running `check` (a process
group, as a terminal sends it), the progress lines, and the budget's watching thread.

These are the timing-dependent cases of the adversarial suite (tests/test_adversarial.py counts the
Ctrl-C ones in the table of docs/reliability.md); each bounds a time, none measures one.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from click.testing import CliRunner
from conftest import shared

HANG_S = 60  # seconds: a case still running then is a hang
INTERRUPT_S = 4.0  # seconds from Ctrl-C to exit (the old way took 5 s and a traceback)


# --------------------------------------------------------------------------------------------
# Ctrl-C on a real process (a process group, as a terminal sends it)

INTERRUPTS = [
    ("check, auto", ("--strategy", "auto"), 2.0),
    ("check, bfs, --workers 2", ("--strategy", "bfs", "--workers", "2"), 3.0),
    ("check, bfs, --workers 2, early", ("--strategy", "bfs", "--workers", "2"), 0.8),
    ("check, dpor, --json", ("--strategy", "dpor", "--json"), 2.0),
    ("check, bfs, --engine dask --workers 2", ("--strategy", "bfs", "--engine", "dask", "--workers", "2"), None),
]


@functools.cache
def interrupted(case: tuple) -> tuple[str, str]:
    """How Ctrl-C ended the case: run once per session, as `outcome`."""
    return shared("interrupt", lambda: _interrupt(case), case[0])


def _interrupt(case: tuple) -> tuple[str, str]:
    _, extra, wait = case
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "turnproof.cli", "check", "--design", "v1.15.4", "--scenario", "large/crowd"]
        p = subprocess.Popen(
            [*cmd, "--out", tmp, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(p.stderr), daemon=True)
        reader.start()
        if wait is None:  # until the search runs: the first progress line (a Dask cluster takes a while)
            until = time.monotonic() + HANG_S
            while not any("states, depth" in line for line in lines) and time.monotonic() < until:
                time.sleep(0.1)
        else:
            time.sleep(wait)
        sent = time.monotonic()
        os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return "hang", "".join(lines)
        took = time.monotonic() - sent
        reader.join(timeout=5)
        p.stdout.close()
        err = "".join(lines)
    if "Traceback" in err or "Error" in err or p.returncode == 70:
        return "traceback", err
    if p.returncode != 130 or took > INTERRUPT_S or "interrupted" not in err:
        return "wrong verdict", f"exit {p.returncode} after {took:.1f}s: {err}"
    return "clean", err


@pytest.mark.parametrize("case", INTERRUPTS, ids=[c[0] for c in INTERRUPTS])
def test_ctrl_c_exits_130_quickly_without_a_traceback(case):
    kind, text = interrupted(case)
    assert kind == "clean", text[-2000:]


# --------------------------------------------------------------------------------------------
# progress lines and the budget's watching thread


def test_progress_lines_when_not_a_terminal_but_not_under_json_or_quiet(tmp_path, monkeypatch):
    from itertools import count

    from turnproof.cli.main import Progress, main

    ticks = count()  # a clock one second on at each reading: the lines do not depend on the machine's speed
    monkeypatch.setattr(Progress, "clock", staticmethod(lambda: float(next(ticks))))
    base = ["check", "--design", "v1.15.4", "--scenario", "large/crowd", "--out", str(tmp_path), "--max-states", "100"]
    r = CliRunner().invoke(main, base)
    lines = [line for line in r.stderr.splitlines() if re.match(r"turnproof: [\d,]+ states, depth \d+", line)]
    assert r.exit_code == 3 and len(lines) >= 3
    for quiet in ("--json", "--quiet"):
        r = CliRunner().invoke(main, [*base, quiet])
        assert r.exit_code == 3 and "states, depth" not in r.stderr


def test_the_watching_thread_stops_a_phase_that_reports_nothing():
    """Time and memory are watched from a thread: a block that never calls the hook (the lasso
    search, drawing) is stopped too, a blocking wait included, and the handler is put back."""
    from turnproof.explore.search.budget import Budget, OutOfBudget

    for limits in ({"max_seconds": 0.3}, {"max_bytes": 1}):
        budget = Budget(**limits)
        started = time.monotonic()
        with pytest.raises(OutOfBudget) as e, budget.watch():
            while time.monotonic() - started < 20:
                time.sleep(1)  # a blocking call: the signal interrupts it
        assert time.monotonic() - started < 3 and "budget" in e.value.why
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_the_budget_stop_survives_a_signal_that_python_swallows():
    """A signal that lands in a gc callback raises where Python ignores the exception ("Exception
    ignored in …"); the watcher then signals again, so a phase that reports nothing still stops."""
    import gc

    from turnproof.explore.search.budget import Budget, OutOfBudget

    swallowed = []

    def slow_collection(phase, info):  # the first signal arrives while this runs, and is lost
        if phase == "start" and not swallowed:
            swallowed.append(True)
            time.sleep(0.8)

    budget = Budget(max_seconds=0.2)
    started = time.monotonic()
    gc.callbacks.append(slow_collection)
    try:
        with pytest.raises(OutOfBudget) as e, budget.watch():
            gc.collect(0)  # the youngest generation only: quick whatever the heap holds
            while time.monotonic() - started < 10:
                time.sleep(0.05)
    finally:
        gc.callbacks.remove(slow_collection)
    assert swallowed and time.monotonic() - started < 3 and "the time budget (0.2s)" in e.value.why
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
