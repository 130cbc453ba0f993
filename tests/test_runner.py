"""The guard's transitions, case by case as effect/runner.ts at v1.15.4 writes them."""

from turnproof.model import runner as g

IDLE = g.RunnerState()
RUN1 = g.RunnerState(g.RUNNING, run=1)


def test_ensure_running_idle_starts_a_run_and_awaits_it():
    out = g.ensure_running(IDLE, 7, "join")
    assert out.state == g.RunnerState(g.RUNNING, run=7)
    assert (out.start, out.wait, out.busy) == (7, 7, False)


def test_ensure_running_while_running_joins_and_starts_nothing():
    out = g.ensure_running(RUN1, 2, "join")
    assert out.state == RUN1
    assert (out.start, out.wait) == (None, 1)


def test_ensure_running_behind_a_shell_defers_the_run():
    shell = g.RunnerState(g.SHELL, shell=3)
    out = g.ensure_running(shell, 2, "join")
    assert out.state == g.RunnerState(g.SHELL_THEN_RUN, run=2, shell=3)
    assert (out.start, out.wait) == (None, 2)
    # a second prompt behind the shell joins the pending run
    again = g.ensure_running(out.state, 4, "join")
    assert (again.start, again.wait, again.state) == (None, 2, out.state)


def test_overlap_alternatives_queue_or_reject():
    q = g.ensure_running(RUN1, 2, "queue")
    assert q.state.queue == (2,) and q.wait == 2 and q.start is None
    assert g.ensure_running(RUN1, 2, "reject").busy


def test_finish_run_goes_idle_only_when_current():
    assert g.finish_run(RUN1, 1) == g.Finish(IDLE, idle=True)
    assert g.finish_run(RUN1, 9) == g.Finish(RUN1)  # a stale run changes nothing
    assert g.finish_run(IDLE, 1) == g.Finish(IDLE)  # e.g. after a cancel already set Idle


def test_finish_run_starts_the_queued_run():
    st = g.RunnerState(g.RUNNING, run=1, queue=(2, 3))
    assert g.finish_run(st, 1) == g.Finish(g.RunnerState(g.RUNNING, run=2, queue=(3,)), start=2)


def test_start_shell_only_from_idle():
    assert g.start_shell(IDLE, 5) == g.RunnerState(g.SHELL, shell=5)
    assert g.start_shell(RUN1, 5) is None


def test_finish_shell_idles_or_starts_the_pending_run():
    assert g.finish_shell(g.RunnerState(g.SHELL, shell=5), 5) == g.Finish(IDLE, idle=True)
    pending = g.RunnerState(g.SHELL_THEN_RUN, run=2, shell=5)
    assert g.finish_shell(pending, 5) == g.Finish(g.RunnerState(g.RUNNING, run=2), start=2)
    assert g.finish_shell(RUN1, 5) == g.Finish(RUN1)


def test_finish_shell_keeps_the_runs_queued_behind_the_pending_run():
    # overlap = "queue": a second prompt during a shell queues behind the run waiting for it
    pending = g.ensure_running(g.ensure_running(g.RunnerState(g.SHELL, shell=5), 2, "queue").state, 4, "queue")
    assert pending.state == g.RunnerState(g.SHELL_THEN_RUN, run=2, shell=5, queue=(4,)) and pending.wait == 4
    fin = g.finish_shell(pending.state, 5)
    assert fin == g.Finish(g.RunnerState(g.RUNNING, run=2, queue=(4,)), start=2)
    assert g.finish_run(fin.state, 2).start == 4


def test_cancel_sets_idle_at_once_and_leaves_interrupting_for_after():
    assert g.cancel(IDLE) == g.Cancel(IDLE)
    assert g.cancel(RUN1) == g.Cancel(IDLE, interrupt=1, fail_done=(1,))
    assert g.cancel(g.RunnerState(g.SHELL, shell=5)) == g.Cancel(IDLE, shell=5)
    c = g.cancel(g.RunnerState(g.SHELL_THEN_RUN, run=2, shell=5))
    assert c == g.Cancel(IDLE, shell=5, fail_done=(2,))
    assert g.idle_if_current(IDLE) and not g.idle_if_current(RUN1)
