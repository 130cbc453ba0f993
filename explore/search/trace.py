"""Counterexample traces: the steps from the initial world, their schedule string, and replay.

A schedule is the list of fibers that moved, written compactly: `U1,r1*2,U2` means U1 moves,
then r1 twice, then U2. Each fiber has one next step, so the schedule fixes the whole trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.model.fibers import Step
from turnproof.model.ids import show
from turnproof.model.runner import IDLE, RUNNING, SHELL, SHELL_THEN_RUN, RunnerState
from turnproof.model.system import System
from turnproof.model.world import World


@dataclass(frozen=True)
class Trace:
    initial: World
    steps: tuple[tuple[Step, World], ...]  # each step with the world after it
    cycle_from: int | None = None  # a lasso: steps[cycle_from:] can repeat for ever

    @property
    def schedule(self) -> str:
        return encode([s.fiber for s, _ in self.steps])

    @property
    def lasso(self) -> tuple[str, str] | None:
        """(prefix schedule, cycle schedule) when this trace is a lasso."""
        if self.cycle_from is None:
            return None
        names = [s.fiber for s, _ in self.steps]
        return encode(names[: self.cycle_from]), encode(names[self.cycle_from :])

    @property
    def final(self) -> World:
        return self.steps[-1][1] if self.steps else self.initial

    def __len__(self) -> int:
        return len(self.steps)


def path_to(parents: dict, w: World) -> Trace:
    """Walk the explorer's parent pointers back from `w` to the initial world."""
    steps = []
    while parents[w] is not None:
        prev, step = parents[w]
        steps.append((step, w))
        w = prev
    return Trace(w, tuple(reversed(steps)))


def replay_path(system: System, parents: dict, key) -> Trace:
    """Follow fingerprint parent pointers (key -> (parent key, fiber)) back to the initial world,
    then replay those fibers forward: the trace without having stored a single world."""
    fibers = []
    while parents[key] is not None:
        key, fiber = parents[key]
        fibers.append(fiber)
    return replay_fibers(system, fibers[::-1])


def replay_fibers(system: System, fibers: list[str]) -> Trace:
    """The trace of a schedule from the initial world."""
    w = system.initial()
    steps = []
    for name in fibers:
        step, w = system.apply(w, name)
        steps.append((step, w))
    return Trace(system.initial(), tuple(steps))


def encode(fibers: list[str]) -> str:
    out: list[str] = []
    for name in fibers:
        if out and out[-1].split("*")[0] == name:
            head, _, n = out[-1].partition("*")
            out[-1] = f"{head}*{int(n or 1) + 1}"
        else:
            out.append(name)
    return ",".join(out)


MAX_COUNT_DIGITS = 9  # FIBER*N: N has at most this many digits before anything is expanded


def decode(schedule: str, limit: int | None = None) -> list[str]:
    """Inverse of `encode`; ValueError on a malformed string (an empty item such as in `U1,,r1`
    included), or when it asks for more than `limit` steps, counted before anything is expanded."""
    fibers: list[str] = []
    if not schedule.strip():
        return fibers
    total = 0
    for item in (s.strip() for s in schedule.split(",")):
        name, star, n = item.partition("*")
        name = name.strip()
        if not item or not _fiber(name):
            raise ValueError(
                f"bad schedule item {item[:40]!r} (expected FIBER or FIBER*N, FIBER a prompt name or r<digits>)"
            )
        if star and not (n.isascii() and n.isdigit() and int(n[: MAX_COUNT_DIGITS + 1] or 0) >= 1):
            raise ValueError(f"bad schedule item {item[:40]!r} (N in FIBER*N is a whole number from 1)")
        if star and len(n.lstrip("0")) > MAX_COUNT_DIGITS:
            raise ValueError(f"bad schedule item {item[:40]!r}: {n[:20]}… steps is more than any scenario runs")
        count = int(n) if star else 1
        total += count
        if limit is not None and total > limit:
            raise ValueError(f"the schedule asks for more than {limit} steps, more than this scenario can run")
        fibers.extend([name] * count)
    return fibers


def _fiber(name: str) -> bool:
    return name.isascii() and (name[:1].isalpha() and name.replace("_", "a").isalnum()) and len(name) <= 16


STEPS_PER_MESSAGE = 50  # far above any step count per message a built-in run reaches


def most_steps(system: System) -> int | None:
    """More steps than any run of the scenario takes: every run ends, or writes a message, within
    a few dozen steps, and writes at most max_messages of them (plus one per prompt). None for a
    system with no scenario (a hand-built toy): then only each count's digits are bounded."""
    sc = getattr(system, "scenario", None)
    return STEPS_PER_MESSAGE * (sc.max_messages + len(sc.prompts)) if sc is not None else None


def replay(system: System, schedule: str) -> Trace:
    """Re-execute a schedule exactly; ValueError names the step at which it no longer applies, or
    why the string is not a schedule of this scenario (its length is bounded before expanding)."""
    w = system.initial()
    steps = []
    for i, name in enumerate(decode(schedule, most_steps(system)), 1):
        try:
            step, w = system.apply(w, name)
        except ValueError as e:
            raise ValueError(f"step {i}: {e}") from None
        steps.append((step, w))
    return Trace(system.initial(), tuple(steps))


def messages(w: World) -> list[dict]:
    """The store as plain data, as trace.json records it after each step."""
    out = []
    for m in w.store.messages:
        d = {"id": show(m.id), "label": m.label, "role": m.role}
        if m.role == "assistant":
            parent = w.store.get(m.parent).label if m.parent is not None else None
            d |= {"parentID": show(m.parent), "parent": parent, "finish": m.finish, "completed": m.completed}
            d |= {"tools": [p.status for p in m.tools], "by": m.source}
            if m.error:
                d["error"] = m.error
        else:
            d["client"] = m.source
        out.append(d)
    return out


def guard(w: World) -> dict:
    """The guard as plain data, as trace.json records it after each step: per instance the runner
    its map holds (None when the session has no entry), and every runner's home and state."""
    return {
        "maps": list(w.maps),
        "runners": [
            {"runner": i, "instance": home, "state": runner_state(w, st)}
            for i, (st, home) in enumerate(zip(w.runners, w.homes, strict=True))
        ],
    }


def runner_state(w: World, st: RunnerState) -> str:
    """`Idle`, `Running(r1)`, `Shell(S)` or `ShellThenRun(S, r2)`, S the client running the shell;
    runs queued behind the current one (designs with overlap="queue") follow as `+ r3`."""
    shell = w.fiber_at(st.shell).name if st.shell is not None else ""
    text = {
        IDLE: IDLE,
        RUNNING: f"{RUNNING}(r{st.run})",
        SHELL: f"{SHELL}({shell})",
        SHELL_THEN_RUN: f"{SHELL_THEN_RUN}({shell}, r{st.run})",
    }[st.tag]
    return text + "".join(f" + r{q}" for q in st.queue)
