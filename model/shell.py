"""The shell route (SessionPrompt.shell): a command run under the session's runner, for either engine.

1.18.34 has no V2 shell route, so a shell request takes the legacy runner on both engines; its
messages go to the tables the legacy loop reads. Every sub-action names its v1.15.4 line.
"""

from __future__ import annotations

from turnproof.model import runner as guard
from turnproof.model import steps
from turnproof.model.fibers import Tx, lookup, newest_reply, on_idle, spawn, user_id
from turnproof.model.store import ASSISTANT, USER, Message, ToolPart
from turnproof.model.values import replace


def step(tx: Tx) -> None:
    """The shell client fiber's next step (it is the route handler, then the command's own fiber)."""
    _shell_step(tx)


def _shell_step(tx: Tx) -> None:
    f, p = tx.f, tx.scenario.prompt(tx.f.prompt)
    if f.pc == "send":
        tx.say(steps.ROUTE_SHELL, f"{p.client} client runs a shell command ({p.name})")
        tx.w = tx.w.mark_sent(p.name)
        idx = lookup(tx)
        st = guard.start_shell(tx.w.runners[idx], _shell_id(tx))
        if st is None:
            tx.say(steps.RUNNER_START_SHELL, f"runner #{idx} is {tx.w.runners[idx].tag}: RunnerBusy")
            tx.goto("end", result="busy")
            return
        tx.w = tx.w.set_runner(idx, st)
        tx.say(steps.RUNNER_START_SHELL, f"runner #{idx} Idle -> Shell: forks the command")
        tx.goto("shell.start")
    elif f.pc == "shell.start":  # uninterruptible, and `ready` opens only after it
        uid, created = user_id(tx, p)
        tx.w = tx.w.write(
            Message(uid, tx.w.store.writes, USER, p.name, source=p.client, synthetic=True, created=created)
        )
        tx.w, aid, created = tx.w.mint(tx.scenario.server)
        tx.w, label = tx.w.next_label()
        running = (ToolPart(1, "running"),)
        a = Message(aid, tx.w.store.writes, ASSISTANT, label, parent=uid, tools=running, source=f.name, created=created)
        tx.w = tx.w.write(a)
        tx.say(
            steps.SHELL_MESSAGES, f"writes user {p.name} and assistant {label} with a running bash part; ready opens"
        )
        tx.goto("shell.exec", msg=aid)
    elif f.interrupt:
        _shell_finish(tx, "interrupted")
    elif f.pc == "shell.exec":
        _shell_finish(tx, "completed")


def _shell_id(tx: Tx) -> int:
    """A shell's handle id: its client fiber's place in the (append-only) fiber list, from 1."""
    return tx.w.position(tx.f.name)


def _shell_finish(tx: Tx, how: str) -> None:
    """The command ends (or is stopped); `ensuring(finishShell)` settles the runner. The route
    returns the shell's assistant, or when interrupted the newest non-user message."""
    f = tx.f
    msg = tx.w.store.get(f.msg)
    tools = tuple(replace(p, status="completed") for p in msg.tools)
    tx.w = tx.w.update_message(f.msg, completed=True, tools=tools)
    tx.say(steps.SHELL_DONE, f"command {how}: {msg.label} completed, its bash part completed")
    idx = f.runner
    fin = guard.finish_shell(tx.w.runners[idx], _shell_id(tx))
    tx.w = tx.w.set_runner(idx, fin.state)
    tx.say(steps.RUNNER_FINISH_SHELL, f"finishShell: runner #{idx} -> {fin.state.tag}")
    if fin.idle:
        on_idle(tx, idx)
    if fin.start:
        spawn(tx, fin.start)
    tx.goto("end", result=msg.label if how == "completed" else newest_reply(tx))
