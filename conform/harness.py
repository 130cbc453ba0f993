"""A conformance case end to end: the model side prepared (refusing bad input before anything is
fetched), one real server and fake LLM started, the schedule driven `runs` times by the driver
of the design's engine (conform/drive.py for the legacy route, conform/inbox.py for V2), and
each run added to the report.
"""

from __future__ import annotations

from pathlib import Path

from turnproof.conform import HarnessError, NotJudged, inbox
from turnproof.conform.drive import STEP_TIMEOUT, Driver
from turnproof.conform.fakellm import FakeLLM
from turnproof.conform.http import Http
from turnproof.conform.report import ConformReport, InboxReport
from turnproof.conform.schedule import (
    FAITHFUL,
    check_design,
    check_scenario,
    complete,
    default_schedule,
    driveable,
    release,
    uncontrolled,
    violations,
)
from turnproof.conform.target import Target
from turnproof.conform.tree import model_order, model_tree
from turnproof.model.system import System

# drives of a run redone when the paced clock or a shell gate did not hold (reported as discarded);
# a run held in none of its drives is not judged (a HarnessError, exit 2), never a verdict
RETRIES = 2


class Harness:
    """One real server (with its project directories) and one fake LLM, for many conformance cases:
    `with Harness(version) as h: h.conform(design, scenario, schedule, runs)`. Each run drives a
    fresh session; the server is stopped on exit, error or interrupt."""

    def __init__(self, version: str = "1.15.4", binary: Path | None = None, timeout: float = STEP_TIMEOUT, target=None):
        self.version, self.binary, self.timeout, self.target = version, binary, timeout, target
        self._stack = None
        self._catalog = False  # has the V2 model catalog listed the fake model?

    def __enter__(self) -> Harness:
        import contextlib
        import tempfile

        from turnproof.conform.server import OpencodeServer, fetch_binary
        from turnproof.conform.target import describe

        exe = Path(self.binary) if self.binary else fetch_binary(self.version)
        self.ran = (self.target or describe(exe)).version  # what `exe --version` says it is
        self._stack = contextlib.ExitStack()
        try:
            gates = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="turnproof-gates-"))
            self.llm = self._stack.enter_context(FakeLLM(Path(gates)))
            self.server = self._stack.enter_context(OpencodeServer(exe, self.llm.base_url, version=self.version))
        except BaseException:
            self._stack.close()
            raise
        self.http = Http(self.server.url)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def conform(self, design, scenario, schedule: str | None = None, runs: int = 1) -> ConformReport | InboxReport:
        """Drive `schedule` (default: the shortest driveable counterexample of the first violated
        property) `runs` times and compare each final message tree with the model's."""
        # labelled by what ran: the binary's `--version`, not the cache folder it was found in
        report, trace = prepare(design, scenario, schedule, self.ran, runs, self.target)
        if scenario.instances > self.server.directories:
            raise HarnessError(
                f"scenario {scenario.name}: {scenario.instances} directory contexts; the server has "
                f"{self.server.directories}"
            )
        self.llm.tools_for = {p.name: p.tools for p in scenario.prompts}
        system = System(design, scenario)
        if design.engine == "inbox":
            # an interrupted drain drops its held model call: the fake LLM's reset connection is expected
            self.llm.httpd.handle_error = lambda *args: None
            if not self._catalog:
                inbox.await_catalog(self.http, self.timeout)
                self._catalog = True

            def drive(n: int):
                return inbox.Driver(self.http, self.llm, system, trace, n, self.timeout).drive()
        else:
            dirs = tuple(str(self.server.directory(k)) for k in range(1, self.server.directories))

            def drive(n: int):
                return Driver(self.http, self.llm, system, trace, n, self.timeout, dirs).drive()

        for n in range(1, runs + 1):
            report.runs.append(held(drive, n, report.discarded))
        return report


def held(drive, n: int, discarded: list[str]):
    """Run `n`: `drive(n)` redone while the paced clock or a shell gate did not hold (each such
    drive added to `discarded`, never counted as agreement or disagreement). A run held in none
    of its RETRIES + 1 drives is not judged: NotJudged (a HarnessError), never a verdict."""
    for attempt in range(1, RETRIES + 2):
        try:
            run = drive(n)
        except HarnessError as e:
            raise HarnessError(f"run {n}: {e}") from None
        if not run.unheld:
            return run
        discarded.append(f"run {n}, drive {attempt}: {run.unheld[0]}")
    raise NotJudged(
        f"run {n}: not judged: the schedule was not held in any of {RETRIES + 1} drives "
        f"({run.unheld[0]}); a busy machine? re-run when it is quieter"
    )


def prepare(design, scenario, schedule: str | None, version: str, runs: int, target: Target | None = None):
    """The model side of a conformance case: checks, the schedule completed to rest, the report
    without runs yet, and the completed trace. With a `target` (a patched build or any
    executable) any legacy design may be driven; the report names what ran."""
    if runs < 1:
        raise HarnessError(f"--runs: {runs}: expected at least 1")
    if design.engine == "inbox":  # the V2 route of 1.18.34
        return inbox.prepare(design, scenario, schedule, version)
    faithful = check_design(design) if target is None else ""
    check_scenario(scenario)
    system = System(design, scenario)
    if schedule is None:
        schedule, origin = default_schedule(system)
    else:
        origin = "given"
    why = driveable(system, schedule)
    trace, completion = complete(system, schedule)
    report = ConformReport(
        design=design.name,
        scenario=scenario.name,
        version=version,
        schedule=schedule,
        origin=origin,
        completion=completion,
        model_violations=violations(system, trace),
        model_tree=model_tree(trace.final),
        model_order=model_order(trace.final),
        runs=[],
        uncontrolled=uncontrolled(trace, scenario),
        not_driveable=why,
    )
    if target is not None:
        report.target, report.note = target, target.note(design)
    elif FAITHFUL[faithful] != version:
        report.note = f"design {design.name} describes opencode {FAITHFUL[faithful]}, driven against {version}"
    return report, trace


def conform(
    design,
    scenario,
    schedule: str | None = None,
    version: str | None = None,
    runs: int = 1,
    timeout: float = STEP_TIMEOUT,
    binary: Path | None = None,
) -> ConformReport | InboxReport:
    """Drive the real opencode `version` through `schedule` `runs` times on a server of its own
    (see `Harness.conform`). `design` and `scenario` are loaded turnproof objects (specs.loader).
    `binary`: any executable that behaves like `opencode`; a legacy design that is not a release's
    own is driven on the release patched with it (conform/target.py, conform/build, cached)."""
    from turnproof.conform.target import given, resolve

    # bad input is refused before anything is fetched or built
    version = version or release(design)  # a release's own design, or an inbox variant of one
    if design.engine == "inbox":  # the V2 route of 1.18.34 (nothing is patched for it)
        version = version or "1.18.34"
        prepare(design, scenario, schedule, version, runs)
        target = None
    elif binary is not None:
        target = given(binary, version)
        version = target.release
        prepare(design, scenario, schedule, version, runs, target)
    else:
        prepare(design, scenario, schedule, version or "1.15.4", runs, _ANY)  # any design may be patched
        version, binary, target = resolve(design, version)
    with Harness(version, binary, timeout, target) as h:
        return h.conform(design, scenario, schedule, runs)


class _Any:
    """Stands in for a target not built yet: prepare accepts any design and names nothing."""

    def note(self, design) -> str:
        return ""


_ANY = _Any()
