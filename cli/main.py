"""The `turnproof` command line: check a design on a scenario, list what is built in, audit real sessions.

Exit codes: 0 every property holds within the bound, 1 a violation (or a shape reached),
2 a usage or input error, reported on one line, 3 undecided: nothing violated but a property
not judged (only a reduced --strategy can leave one unjudged; auto never does) or a budget spent;
130 interrupted, 70 an internal error (cli/guard.py).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click
from turnproof.cli.audit import audit, export_sessions, exported_lines
from turnproof.cli.guard import EXIT_CODES, Cli, writable_dir, writable_file
from turnproof.cli.outdir import Target, no_dot
from turnproof.cli.patch import patch
from turnproof.cli.words import Words, WordsCommand
from turnproof.explore.search.budget import Budget, OutOfBudget, chain, default_max_bytes, stop
from turnproof.explore.search.result import Stats
from turnproof.explore.strategy import STRATEGIES, Options, search, searches_orbits
from turnproof.explore.views.report import result_json, text, write_graphs
from turnproof.explore.views.stategraph import StateGraph
from turnproof.model.config import GRANULARITIES
from turnproof.model.system import System
from turnproof.specs.loader import InputError, builtin, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES
from turnproof.specs.shapes import SHAPES


@click.group(cls=Cli, epilog=EXIT_CODES)
@click.option("--debug", is_flag=True, help="On an internal error, print the traceback (also TURNPROOF_DEBUG=1).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Model checker for opencode's turn boundary (issue #28202) at v1.15.4."""
    ctx.obj = {"debug": debug}


class Progress:
    """States, depth and rate on stderr: rewritten in place a few times a second on a terminal,
    else one line every LINE_EVERY seconds (a log or CI job sees that a long search is alive)."""

    LINE_EVERY = 5.0
    clock = staticmethod(time.monotonic)  # (a test gives it a clock of its own: no test waits on the machine)

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.started = self.clock()  # (each phase of a search restarts stats.seconds)
        self.shown = 0.0 if not tty else -1.0

    def __call__(self, stats: Stats, depth: int) -> None:
        now = self.clock() - self.started
        if now - self.shown < (0.25 if self.tty else self.LINE_EVERY):
            return
        self.shown = now
        rate = stats.states / stats.seconds if stats.seconds else 0.0
        line = f"{stats.states:,} states, depth {depth}, {rate:,.0f} states/s"
        if self.tty:
            click.echo(f"\r  {line} ", nl=False, err=True)
        else:
            click.echo(f"turnproof: {line}, {now:.0f}s", err=True)


class Workers(click.ParamType):
    """`auto` or a number of worker processes."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if value is None or value == "auto":
            return None
        try:
            n = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of workers or 'auto'", param, ctx)
        if not 1 <= n <= 256:
            self.fail(f"{n} is out of range (1 to 256, or auto)", param, ctx)
        return n


class Seconds(click.ParamType):
    """A number of seconds above 0: finite (nan and inf are refused, since they never fire)."""

    name = "SECONDS"

    def convert(self, value, param, ctx):
        try:
            n = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(n) or n <= 0:
            self.fail(f"{value!r} is not a finite number of seconds above 0", param, ctx)
        return n


@main.command()
@click.option("--design", "design_ref", required=True, help="Built-in design name or path to a design .toml.")
@click.option("--scenario", "scenario_ref", required=True, help="Built-in scenario name or path to a scenario .toml.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write counterexample graphs [default: out/DESIGN/SCENARIO].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--granularity", type=click.Choice(GRANULARITIES), help="Override the scenario's step granularity.")
@click.option(
    "--strategy",
    type=click.Choice(tuple(STRATEGIES)),
    default="auto",
    show_default=True,
    help="bfs: exhaustive breadth-first (the reference; shortest traces); dpor: exhaustive, partial-order "
    "reduced; sleep: exhaustive, sleep-set reduced; random: hypothesis schedules; auto: dpor, or bfs where "
    "an option needs it or dpor cannot judge a property.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="random: schedules to try per property.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="random: the seed that makes the schedules reproducible."
)
@click.option("--preemptions", type=click.IntRange(0, 50), help="bfs: only schedules with at most K preemptions.")
@click.option("--state-graph", is_flag=True, help="Also write the explored state space (bfs) as state-graph.dot/.svg.")
@click.option("--minimize", is_flag=True, help="Among violating schedules: shortest, then fewest preemptions, fibers.")
@click.option(
    "--shape",
    "shapes",
    multiple=True,
    type=click.Choice(sorted(SHAPES)),
    help="Ask whether a seed shape is reachable (instead of the properties).",
)
@click.option(
    "--property",
    "named",
    multiple=True,
    type=click.Choice([p.name for p in PROPERTIES]),
    help="Check only this property (repeatable) [default: every property].",
)
@click.option(
    "--export-session",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also write each counterexample's final store as an opencode export, DIR/PROPERTY.json "
    "(what `opencode export` prints; `turnproof audit` reads it).",
)
@click.option("--fingerprint", is_flag=True, help="bfs: keep 64-bit fingerprints of worlds, not the worlds.")
@click.option("--symmetry", is_flag=True, help="bfs or dpor: one world per orbit of prompts that differ only in name.")
@click.option(
    "--workers",
    type=Workers(),
    default="auto",
    show_default=True,
    help="bfs: worker processes; auto = sequential below 4 cores, else every core once the space is large.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where workers run: processes of this machine, or a Dask cluster.",
)
@click.option("--scheduler", help="--engine dask: the scheduler's address [default: an embedded LocalCluster].")
@click.option("--memory", is_flag=True, help="bfs: measure bytes per stored state with tracemalloc (slower).")
@click.option(
    "--max-states",
    type=click.IntRange(1),
    help="Stop, undecided (exit 3), after this many states (checked at each state) [default: none].",
)
@click.option("--max-seconds", type=Seconds(), help="Stop, undecided (exit 3), after this long.")
@click.option(
    "--max-memory",
    "max_memory",
    type=click.IntRange(1),
    metavar="MB",
    help="Stop, undecided (exit 3), when this process and its workers hold this much memory "
    "[default: a quarter of the memory available at start].",
)
@click.option(
    "--exhaustive",
    is_flag=True,
    help="Run until the space is exhausted (or memory is spent): no default time budget.",
)
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def check(
    design_ref: str,
    scenario_ref: str,
    out: Path | None,
    as_json: bool,
    granularity: str | None,
    strategy: str,
    runs: int,
    seed: int,
    preemptions: int | None,
    state_graph: bool,
    minimize: bool,
    shapes: tuple[str, ...],
    named: tuple[str, ...],
    export_dir: Path | None,
    fingerprint: bool,
    symmetry: bool,
    workers: int | None,
    engine: str,
    scheduler: str | None,
    memory: bool,
    max_states: int | None,
    max_seconds: float | None,
    max_memory: int | None,
    exhaustive: bool,
    quiet: bool,
) -> None:
    """Explore every schedule of SCENARIO under DESIGN and check the properties.

    A search that passes a budget (--max-states, --max-seconds, --max-memory; memory always has
    one) stops, says what it explored and what to try, and exits 3. With no budget given, a check
    stops after 100 seconds (--exhaustive: no time limit). --out is replaced whole by this run's
    result and its manifest.json.
    """
    from dataclasses import replace

    from turnproof.explore.scale.options import Scale

    scale = Scale(
        fingerprint=fingerprint, symmetry=symmetry, workers=workers, engine=engine, scheduler=scheduler, memory=memory
    )
    graph = StateGraph() if state_graph and preemptions is None else None  # (bounded search: no graph)
    options = Options(
        runs=runs, seed=seed, preemptions=preemptions, minimize=minimize, state_graph=graph, scale=scale, names=FLAGS
    )
    clash = options.invalid(strategy)
    if clash:
        raise click.UsageError(clash)

    design = load_design(design_ref)
    scenario = load_scenario(scenario_ref)
    if export_dir and design.engine == "inbox":
        raise click.UsageError("--export-session writes legacy opencode exports; a V2 inbox store has no parentID")
    if granularity:
        scenario = replace(scenario, granularity=granularity)
    props = tuple(SHAPES[s] for s in shapes) + tuple(p for p in PROPERTIES if p.name in named) or PROPERTIES
    out = out or Path("out") / design.name / scenario.name
    writable_dir(out, "--out")  # before the search: an unwritable path costs no search
    if export_dir:
        writable_dir(export_dir, "--export-session")
        if export_dir.resolve() == out.resolve():
            raise click.UsageError("--export-session and --out name one folder; give each its own")
    if exhaustive and (max_states or max_seconds):
        raise click.UsageError("--exhaustive runs with no budget; it does not go with --max-states or --max-seconds")
    default_time = not (exhaustive or max_states or max_seconds or max_memory)
    if default_time:
        max_seconds = DEFAULT_SECONDS
    tty = sys.stderr.isatty()
    show = None if as_json or quiet else Progress(tty)
    max_bytes = max_memory << 20 if max_memory else default_max_bytes()
    budget = Budget(max_states=max_states, max_seconds=max_seconds, max_bytes=max_bytes)
    budget.said = _budget_said(budget, default_time)
    system = System(design, scenario)
    about = {"command": "check", "design": design.name, "scenario": scenario.name}
    with ExitStack() as held:  # each result locked from now on: a second writer is refused at once
        target = held.enter_context(Target(out, "--out"))
        exports = held.enter_context(Target(export_dir, "--export-session")) if export_dir else None
        try:
            options = replace(options, progress=chain(show, budget))
            with budget.watch():
                res = search(system, props, strategy, options)
            stop(budget.past_states(res.stats, res.stats.max_depth))  # (a search that reports seldom)
        except OutOfBudget as e:
            if show and tty:
                click.echo("\r" + " " * 60 + "\r", nl=False, err=True)
            advice = _advice(system, strategy, options)
            if default_time:
                advice = (
                    f"--exhaustive, or --max-seconds N (with no budget, a check stops after {DEFAULT_SECONDS:g}s)",
                    *advice,
                )
            for t in (exports, target):
                if t is not None:
                    t.commit(about | {"verdict": "undecided"})
            _out_of_budget(e, design, scenario, strategy, as_json, advice)
        if show and tty:
            click.echo("\r" + " " * 60 + "\r", nl=False, err=True)
        staged = target.stage()
        files = write_graphs(res, staged) if res.findings else []
        if graph:
            files += graph.write(staged)
        files = [target.final(p) for p in files]
        exported = {}
        if exports:
            written = export_sessions(res, exports.stage(), export_dir)
            exported = {name: exports.final(p) for name, p in written.items()}
            exports.commit(about | {"verdict": res.verdict})
        target.commit(about | {"verdict": res.verdict})
    files += exported.values()
    if as_json:
        doc = result_json(res) | {"files": [str(p) for p in files]}
        click.echo(json.dumps(doc, indent=2))
        no_dot(files, err=True)
    else:
        click.echo(text(res, retry=f"{FLAGS['strategy']} bfs"))
        if res.findings:
            click.echo(f"counterexample graphs written to {out}/")
        if graph:
            click.echo(f"state graph written to {out}/state-graph.dot")
        if export_dir:
            click.echo(exported_lines(export_dir, exported))
        no_dot(files)
    sys.exit({"holds": 0, "violated": 1}.get(res.verdict, 3))


DEFAULT_SECONDS = 100.0  # with no budget given: a person hears "undecided" and what to try within two minutes
# Each search option's flag (explore/strategy.py names options by field; refusals and `chosen_by` say these).
FLAGS = {
    "strategy": "--strategy",
    "preemptions": "--preemptions",
    "minimize": "--minimize",
    "state_graph": "--state-graph",
    "fingerprint": "--fingerprint",
    "symmetry": "--symmetry",
    "workers": "--workers",
    "engine": "--engine",
    "scheduler": "--scheduler",
    "memory": "--memory",
}


def _budget_said(budget: Budget, default_time: bool) -> dict[str, str]:
    """How each limit of check's budget was given, as the reason for a stop names it."""
    said = {"memory": f"--max-memory {(budget.max_bytes or 0) >> 20} MB"}
    if budget.max_states is not None:
        said["states"] = f"--max-states {budget.max_states:,}"
    if default_time:
        said["seconds"] = f"{DEFAULT_SECONDS:g}s, the default when no budget is given"
    elif budget.max_seconds is not None:
        said["seconds"] = f"--max-seconds {budget.max_seconds:g}"
    return said


ADVICE = (
    "--symmetry (with --strategy bfs or dpor) if prompts differ only in name",
    "--preemptions 2 (only schedules with at most 2 preemptions)",
    "--strategy random --runs 1000 (hypothesis draws and shrinks schedules)",
    "a smaller scenario (fewer prompts or tools, a lower max_messages)",
    "a larger budget: --max-states, --max-seconds, --max-memory",
)


def _advice(system: System, strategy: str, options: Options) -> tuple[str, ...]:
    """What to try after a spent budget: not --symmetry where the default searched the orbits."""
    if strategy == "auto" and searches_orbits(system, options):
        return ADVICE[1:]
    return ADVICE


def _out_of_budget(e: OutOfBudget, design, scenario, strategy: str, as_json: bool, advice: tuple) -> None:
    """Print what a search explored before its budget ran out, and what to try; exit 3."""
    s = e.stats
    explored = (
        f"{s.states:,} states, {s.transitions:,} transitions, depth {e.depth}, "
        f"{s.cut:,} steps past the bound, in {e.seconds:.1f}s"
    )
    if as_json:
        doc = {
            "design": design.name,
            "scenario": scenario.name,
            "verdict": "undecided",
            "strategy": strategy,
            "stopped": e.why,
            "explored": {"states": s.states, "transitions": s.transitions, "depth": e.depth, "cut": s.cut},
            "try": list(advice),
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"design {design.name} × scenario {scenario.name}")
        click.echo(f"verdict: UNDECIDED: stopped: {e.why}")
        click.echo(f"explored {explored} (--strategy {strategy}); nothing is judged from a partial search")
        click.echo("try:")
        for a in advice:
            click.echo(f"  {a}")
    _leave_quickly()
    sys.exit(3)


def _leave_quickly() -> None:
    """Answer now: flush what was said, and spare the interpreter's exit a collection over every
    world the stopped search still holds (seconds on a large space)."""
    import gc

    sys.stdout.flush()
    gc.freeze()


@main.command(name="list")
def list_() -> None:
    """List the built-in designs, scenarios, properties and seed shapes."""
    click.echo("designs:")
    for name in builtin("design"):
        click.echo(f"  {name:<20} {_first(load_design(name).description)}")
    click.echo("scenarios:")
    for name in builtin("scenario"):
        sc = load_scenario(name)
        click.echo(f"  {name:<20} {_first(sc.description)} [{sc.granularity}]")
    click.echo("properties:")
    for p in PROPERTIES:
        click.echo(f"  {p.name:<20} {p.statement}")
    click.echo("shapes (--shape):")
    for name, p in SHAPES.items():
        click.echo(f"  {name:<20} {p.statement}")


def _first(s: str) -> str:
    s = " ".join(s.split())
    return s if len(s) <= 90 else s[:87] + "..."


@main.command()
@click.argument("trace_file", required=False, type=click.Path(path_type=Path))
@click.option("--schedule", help="A schedule string to run instead of a trace file (needs --design, --scenario).")
@click.option("--design", "design_ref", help="With --schedule: design name or path.")
@click.option("--scenario", "scenario_ref", help="With --schedule: scenario name or path.")
def replay(trace_file: Path | None, schedule: str | None, design_ref: str | None, scenario_ref: str | None) -> None:
    """Re-execute a counterexample exactly: exit 1 if it still violates, 2 where it no longer applies."""
    from turnproof.explore.search.confirm import confirm, load_trace, run_schedule

    if trace_file and schedule:
        raise click.UsageError("give a TRACE.json or --schedule, not both")
    if trace_file:
        code, lines = confirm(load_trace(trace_file))
    elif schedule and design_ref and scenario_ref:
        code, lines = run_schedule(System(load_design(design_ref), load_scenario(scenario_ref)), schedule)
    else:
        raise click.UsageError("give a TRACE.json, or --schedule with --design and --scenario")
    for line in lines:
        click.echo(line)
    sys.exit(code)


@main.command()
@click.argument("trace_file", type=click.Path(path_type=Path))
@click.option(
    "--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), help="Also write a step-through page."
)
def explain(trace_file: Path, html_file: Path | None) -> None:
    """Tell a counterexample in plain words, step by step, with the opencode line of each step.

    The trace is re-run first, as replay does: one that no longer shows its property violated is
    refused (exit 2), so explain never narrates a claim that does not hold."""
    from turnproof.explore.search.confirm import confirm, load_trace
    from turnproof.explore.views.explain import narrate

    if html_file:
        writable_file(html_file, "--html")
        if not shutil.which("dot"):
            raise InputError(
                f"--html {html_file}: the page draws with graphviz's dot, not installed (apt-get install graphviz)"
            )
    doc = load_trace(trace_file)
    code, said = confirm(doc)
    if code != 1:
        raise InputError(f"{trace_file}: {said[0]} (explain tells only what replays; see turnproof replay)")
    click.echo("\n".join(narrate(doc)))
    if html_file:
        from turnproof.explore.views.page import write_page

        with Target(html_file, "--html", folder=False) as target:
            write_page(doc, target.stage())
            target.commit()
        click.echo(f"\nstep-through page written to {html_file}")


@main.command(cls=WordsCommand)
@click.option(
    "--designs",
    cls=Words,
    metavar="DESIGN …",
    help="Built-in design names or paths to design .toml files [default: every built-in design].",
)
@click.option(
    "--scenarios",
    cls=Words,
    metavar="SCENARIO …",
    help="Built-in scenario names or paths to scenario .toml files [default: every built-in scenario].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/review"),
    show_default=True,
    metavar="DIR",
    help="Where to write review.md and each violation's graphs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the matrix.")
def review(designs: tuple[str, ...], scenarios: tuple[str, ...], out_dir: Path, as_json: bool) -> None:
    """Review designs on scenarios: turnproof review --designs A B … --scenarios X Y … [--out DIR] [--json]

    Prints the matrix of designs × scenarios × properties, writes review.md (and each violation's
    graphs) into --out, and exits 1 if any design violates a property. Without --designs or
    --scenarios, every built-in one is reviewed.
    """
    from turnproof.cli.review import markdown, review_json, terminal
    from turnproof.cli.review import review as run_review

    chosen_designs = [load_design(d) for d in designs or builtin("design")]
    chosen_scenarios = [load_scenario(s) for s in scenarios or builtin("scenario")]
    writable_dir(out_dir, "--out")
    with Target(out_dir, "--out") as target:
        staged = target.stage()
        cells = run_review(chosen_designs, chosen_scenarios, staged)
        (staged / "review.md").write_text(markdown(cells), encoding="utf-8")
        doc = review_json(cells)
        designs_, scenarios_ = [d.name for d in chosen_designs], [s.name for s in chosen_scenarios]
        target.commit({"command": "review", "design": designs_, "scenario": scenarios_, "verdict": doc["verdict"]})
    report = out_dir / "review.md"
    if as_json:
        click.echo(json.dumps(doc | {"report": str(report)}, indent=2))
    else:
        click.echo("\n".join(terminal(cells)))
        click.echo(f"report written to {report}")
        no_dot([f for c in cells for f in c.files.values()])
    sys.exit(1 if doc["verdict"] == "violated" else 0)


@main.command()
@click.option(
    "--design",
    "design_ref",
    required=True,
    help="The design to conform: a release's own (v1.15.4, upstream-1.18.34, upstream-1.19.5) runs that release, "
    "any other runs the release patched with it (turnproof patch; cached); an inbox design runs its base's release.",
)
@click.option("--scenario", "scenario_ref", required=True, help="Built-in scenario name or path.")
@click.option("--schedule", help="A schedule string or a trace.json [default: the shortest driveable counterexample].")
@click.option(
    "--opencode-version", "version", help="opencode-linux-x64 release [default: the one the design describes]."
)
@click.option(
    "--runs", type=click.IntRange(1, 100), default=1, show_default=True, help="Times to drive the real server."
)
@click.option(
    "--opencode-binary",
    "binary",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Drive this executable instead (a release, a `turnproof patch` build, a wrapper running a checkout).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def conform(
    design_ref: str,
    scenario_ref: str,
    schedule: str | None,
    version: str | None,
    runs: int,
    binary: Path | None,
    as_json: bool,
) -> None:
    """Drive the real opencode server through a model schedule and compare the message trees.

    Exit 0 when real and model agree in every run, 1 when they disagree, 2 on harness errors.
    """
    from turnproof.conform import HarnessError
    from turnproof.conform.harness import conform as drive
    from turnproof.conform.schedule import load_schedule

    try:
        report = drive(
            load_design(design_ref),
            load_scenario(scenario_ref),
            schedule=load_schedule(schedule) if schedule else None,
            version=version,
            runs=runs,
            binary=binary,
        )
    except HarnessError as e:
        click.echo(f"turnproof: error: {e}", err=True)
        sys.exit(2)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.text())
    sys.exit(report.exit_code)


from turnproof.cli.explore import explore  # noqa: E402  (its own module; registered here)
from turnproof.cli.repair import repair_command  # noqa: E402  (its own module; registered here)

main.add_command(explore)
main.add_command(patch)
main.add_command(repair_command, "repair")

from turnproof.cli.catalogue import catalogue  # noqa: E402  (its own module; registered here)

main.add_command(audit)
main.add_command(catalogue)
