"""Where the partitions of a partitioned search run: worker processes here, or a Dask cluster.

An engine starts one `Partition` per worker and forwards the owner's calls to them; `call_all`
runs one call per partition at once (each with its own arguments) and yields their answers in
partition order.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from contextlib import contextmanager

from turnproof.explore.scale.partition import Partition, Spec
from turnproof.explore.search.fingerprint import fingerprint


@contextmanager
def deaf_children(ignore: bool = False):
    """Processes started inside never see Ctrl-C, which the terminal sends to the whole process
    group: they inherit SIGINT blocked from this thread (and `_serve` ignores it too), while a
    Ctrl-C meanwhile waits for the owner, which stops them. `ignore` also ignores SIGINT in the
    whole process meanwhile, for processes that another thread starts (Dask's): it reaches them
    as ignored, but a Ctrl-C in that window is lost."""
    old = None
    if ignore:
        try:
            old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread: no handler to swap, the mask still serves
            old = None
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if old is not None:  # restore the handler first: a Ctrl-C held back meanwhile then reaches it
            signal.signal(signal.SIGINT, old)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class EngineError(RuntimeError):
    """A worker failed or the cluster could not be reached (one line for the user)."""


class Local:
    """Partitions in `workers` processes of this machine (in this process when workers == 1, or
    with processes=False, which runs the same partitioned search without any parallelism)."""

    name = "local"

    def __init__(self, workers: int, processes: bool = True):
        self.workers = workers
        self.processes = processes
        self.parts: list[Partition] = []
        self.conns: list = []
        self.procs: list = []

    def start(self, spec: Spec) -> None:
        if self.workers == 1 or not self.processes:
            self.parts = [Partition(spec) for _ in range(self.workers)]
            return
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that may run threads
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()  # (starting it unblocks SIGINT in this thread: do it first)
        with deaf_children():
            for _ in range(self.workers):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(theirs, spec), daemon=True)
                proc.start()
                theirs.close()
                self.conns.append(mine)
                self.procs.append(proc)

    def call(self, p: int, method: str, *args):
        if self.parts:
            return getattr(self.parts[p], method)(*args)
        self.conns[p].send((method, args))
        return self._answer(p)

    def call_all(self, method: str, args: list[tuple]):
        """One call per partition, with its arguments; answers in partition order, each as soon
        as it is in: the owner reads one while the others still work."""
        if self.parts:
            for part, a in zip(self.parts, args, strict=True):
                yield getattr(part, method)(*a)
            return
        for conn, a in zip(self.conns, args, strict=True):
            conn.send((method, a))
        for p in range(self.workers):
            yield self._answer(p)

    def _answer(self, p: int):
        try:
            status, value = self.conns[p].recv()
        except EOFError:
            raise EngineError(f"worker process {p} died (exit code {self.procs[p].exitcode})") from None
        if status != "ok":
            raise EngineError(f"worker process {p} failed: {value}")
        return value

    def stop(self, abort: bool = False) -> None:
        """Tell the workers to end and wait for them; `abort` (an interrupt, a budget spent, an
        error) ends them at once, whatever they are doing."""
        if abort:  # ended before their pipes close, so none is left reading a closed one
            for proc in self.procs:
                proc.kill()
        for conn in self.conns:
            try:
                if not abort:
                    conn.send(None)
                conn.close()
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=1 if abort else 5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=1)
        self.parts, self.conns, self.procs = [], [], []


def _serve(conn, spec: Spec) -> None:
    """A worker process: one Partition, answering the owner's calls until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (also blocked since start: the owner decides)
    for s in (signal.SIGTERM, signal.SIGHUP):  # the owner's handlers (cli/guard.py) are not a worker's
        signal.signal(s, signal.SIG_DFL)
    part = Partition(spec)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the owner is gone or stopped us: nothing more to do
            return
        if msg is None:
            return
        method, args = msg
        try:
            answer = ("ok", getattr(part, method)(*args))
        except Exception:
            answer = ("error", traceback.format_exc(limit=-3).strip().splitlines()[-1])
        try:
            conn.send(answer)
        except OSError:  # the owner is gone (interrupted, or stopped us): nothing to answer
            return


class Dask:
    """Partitions as Dask actors, one per Dask worker (or `workers` of them, spread round-robin).

    Without a scheduler address an embedded LocalCluster of `workers` processes (default: one per
    core) is started and closed afterwards; with one, the cluster's workers must be able to import
    turnproof (the same version), and `workers` defaults to the cluster's worker count.
    """

    name = "dask"

    def __init__(self, workers: int | None, scheduler: str | None = None, timeout: str = "10s"):
        self.workers = workers or 0
        self.scheduler = scheduler
        self.timeout = timeout
        self.client = self.cluster = None
        self.actors: list = []

    def start(self, spec: Spec) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise EngineError("the Dask engine needs dask.distributed: pip install 'turnproof[cluster]'") from None
        try:
            if self.scheduler:
                self.client = Client(self.scheduler, timeout=self.timeout)
            else:
                n = self.workers or os.cpu_count() or 1
                with deaf_children(ignore=True):
                    self.cluster = LocalCluster(
                        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
                    )
                self.client = Client(self.cluster)
        except OSError as e:
            self.stop()
            raise EngineError(f"cannot reach the Dask scheduler {self.scheduler}: {e}") from None
        addrs = sorted(self.client.scheduler_info()["workers"])
        if not addrs:
            self.stop()
            raise EngineError(f"the Dask scheduler {self.scheduler} has no workers")
        self.workers = self.workers or len(addrs)
        futures = [
            self.client.submit(Partition, spec, actor=True, workers=[addrs[i % len(addrs)]], pure=False)
            for i in range(self.workers)
        ]
        self.actors = [_result(f, "start a partition") for f in futures]

    def call(self, p: int, method: str, *args):
        return _result(getattr(self.actors[p], method)(*args), method)

    def call_all(self, method: str, args: list[tuple]):
        pending = [getattr(actor, method)(*a) for actor, a in zip(self.actors, args, strict=True)]
        for f in pending:
            yield _result(f, method)

    def stop(self, abort: bool = False) -> None:
        """Close the client and an embedded cluster; `abort` does not wait long for either."""
        self.actors = []
        wait = 1 if abort else 30
        if abort:  # interrupted mid-work: end the cluster's processes now, and hush its complaints
            import logging

            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            if self.cluster is not None:
                _kill_children()
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close(timeout=wait)
                except Exception:  # closing on an interrupt: whatever dask says, we are done
                    pass
        if abort and self.cluster is not None:
            _kill_children()  # any worker a nanny restarted meanwhile
            # a close that timed out leaves the cluster to Dask's exit hook, which waits 10 s more
            self.cluster.shutdown_on_close = False
        self.client = self.cluster = None


def _kill_children() -> None:
    """SIGKILL this process's descendants, except multiprocessing's resource tracker (it tidies up)."""
    from turnproof.explore.search.budget import descendants

    for pid in descendants():
        if not _resource_tracker(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _resource_tracker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"resource_tracker" in fh.read()
    except OSError:
        return False


WAKE = 0.2  # seconds: how often the owner wakes while it waits on Dask


def _result(future, what: str):
    """A Dask future's value; a worker's exception becomes one line. Waited for in short slices:
    Ctrl-C may be taken by one of Dask's threads, and Python runs the handler only once the main
    thread wakes (a plain wait would hold it up to Dask's 10 s)."""
    while not future.done():
        time.sleep(WAKE)
    try:
        return future.result()
    except Exception as e:  # raised on a Dask worker, re-raised here
        raise EngineError(f"a Dask worker could not {what}: {type(e).__name__}: {e}") from None


class Growing(Local):
    """Starts in this process and, once the search has stored `threshold` states, moves the
    next level's worlds to `cores` worker processes (a small space never pays for starting them)."""

    def __init__(self, cores: int, threshold: int):
        super().__init__(1)
        self.cores, self.threshold = cores, threshold
        self.spec: Spec | None = None

    def start(self, spec: Spec) -> None:
        self.spec = spec
        super().start(spec)

    def rescale(self, keeps: list[list[int]], states: int) -> list[list[int]]:
        if self.procs or self.cores < 2 or states < self.threshold:
            return keeps
        worlds = self.parts[0].give(keeps[0])
        self.parts, self.workers = [], self.cores
        super().start(self.spec)
        shares = [worlds[p :: self.cores] for p in range(self.cores)]
        for p, share in enumerate(shares):
            self.call(p, "load", share)
        return [[fingerprint(w) for w in share] for share in shares]
