"""The per-session guard, `Runner` of effect/runner.ts, as pure transitions on its SynchronizedRef.

Each function takes the ref's state and returns the new state plus what the caller does next.
Side effects that the real code runs after releasing the ref (onIdle, completing `done`) are
returned as flags, so that the world decides whether they happen in the same atomic step.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.model.values import replace, value

IDLE = "Idle"
RUNNING = "Running"
SHELL = "Shell"
SHELL_THEN_RUN = "ShellThenRun"


@value
class RunnerState:
    """`Idle | Running(run) | Shell(shell) | ShellThenRun(shell, pending run)`.

    `queue` holds runs waiting behind the current one; it stays empty in opencode v1.15.4 and is
    used only by designs whose overlapping prompts queue a fresh turn.
    """

    tag: str = IDLE
    run: int | None = None
    shell: int | None = None
    queue: tuple[int, ...] = ()

    @property
    def busy(self) -> bool:
        return self.tag != IDLE


@dataclass(frozen=True)
class Ensure:
    """Outcome of ensureRunning: start `start` (a run id) or await run `wait`, or fail busy."""

    state: RunnerState
    start: int | None = None
    wait: int | None = None
    busy: bool = False


def ensure_running(st: RunnerState, run: int, overlap: str) -> Ensure:
    """ensureRunning(work): start when Idle, defer behind a shell, else what `overlap` says.

    v1.15.4 is overlap="join": the caller awaits the running run's `done` and starts nothing.
    """
    if st.tag == IDLE:
        return Ensure(RunnerState(RUNNING, run=run), start=run, wait=run)
    if st.tag == SHELL:
        return Ensure(RunnerState(SHELL_THEN_RUN, run=run, shell=st.shell), wait=run)
    if overlap == "join":
        return Ensure(st, wait=st.run)
    if overlap == "queue":
        return Ensure(replace(st, queue=st.queue + (run,)), wait=run)
    return Ensure(st, busy=True)  # overlap == "reject"


@dataclass(frozen=True)
class Finish:
    """Outcome of finishRun/finishShell: the new state, whether onIdle runs, what run starts next."""

    state: RunnerState
    idle: bool = False
    start: int | None = None


def finish_run(st: RunnerState, run: int) -> Finish:
    """finishRun(id): back to Idle (and onIdle) only if this run is still the current one."""
    if st.tag != RUNNING or st.run != run:
        return Finish(st)
    if st.queue:
        nxt, rest = st.queue[0], st.queue[1:]
        return Finish(RunnerState(RUNNING, run=nxt, queue=rest), start=nxt)
    return Finish(RunnerState(), idle=True)


def start_shell(st: RunnerState, shell: int) -> RunnerState | None:
    """startShell: only from Idle; None means the caller fails with RunnerBusy."""
    if st.tag != IDLE:
        return None
    return RunnerState(SHELL, shell=shell)


def finish_shell(st: RunnerState, shell: int) -> Finish:
    """finishShell(id): Idle with onIdle, or start the run that queued behind the shell."""
    if st.tag == SHELL and st.shell == shell:
        return Finish(RunnerState(), idle=True)
    if st.tag == SHELL_THEN_RUN and st.shell == shell:  # the runs queued behind it stay queued
        return Finish(RunnerState(RUNNING, run=st.run, queue=st.queue), start=st.run)
    return Finish(st)


@dataclass(frozen=True)
class Cancel:
    """Outcome of cancel: Idle at once; then interrupt `run`, fail `fail_done`, stop `shell`."""

    state: RunnerState
    interrupt: int | None = None
    fail_done: tuple[int, ...] = ()
    shell: int | None = None


def cancel(st: RunnerState, mode: str = "idle-at-once") -> Cancel:
    """cancel: v1.15.4 sets Idle immediately and interrupts afterwards ("idle-at-once").

    "after-interrupt" keeps the guard held by the interrupted run or shell: its own finishRun or
    finishShell releases it once the fiber has stopped. Runs queued behind it are cancelled.
    """
    if st.tag == IDLE:
        return Cancel(st)
    pending = st.queue
    if mode == "after-interrupt":
        if st.tag == RUNNING:
            return Cancel(RunnerState(RUNNING, run=st.run), interrupt=st.run, fail_done=pending)
        dropped = (st.run,) if st.tag == SHELL_THEN_RUN else ()
        return Cancel(RunnerState(SHELL, shell=st.shell), shell=st.shell, fail_done=dropped + pending)
    if st.tag == RUNNING:
        return Cancel(RunnerState(), interrupt=st.run, fail_done=(st.run,) + pending)
    if st.tag == SHELL:
        return Cancel(RunnerState(), shell=st.shell, fail_done=pending)
    return Cancel(RunnerState(), shell=st.shell, fail_done=(st.run,) + pending)


def idle_if_current(st: RunnerState) -> bool:
    """idleIfCurrent: onIdle runs only if nothing started since the cancel."""
    return st.tag == IDLE
