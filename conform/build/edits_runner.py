"""The runner knobs' edits (guard, overlap, cancel, on_idle, runner_map) on opencode 1.15.4's bundle.

They change `Runner.make` (effect/runner.ts: ensureRunning, finishRun, finishShell, cancel),
`SessionRunState` (session/run-state.ts: the runner map and its onIdle) and `SessionPrompt.prompt`
/ `SessionPrompt.loop` (session/prompt.ts), each to what the model's knob value does (model/runner.py,
model/fibers.py); docs/fixes.md ("Runner knobs") says how each maps to the model's steps.

Every anchor is written against the minified text, with the minified names captured (`[\\w$]+`),
never assumed. Edits run in `edits.KNOB_ORDER` (guard, overlap, cancel, on_idle, runner_map), each
on the text the earlier ones left, so the `cancel` edit's anchor accepts the runner's `cancel` with
or without the `overlap = queue` edit's lines, and its replacement handles a queue when there is one.
Names the edits introduce start with `__tp` so that they shadow no minified name.

The fragments matched and replaced are opencode's (MIT licence, Copyright (c) 2025 opencode).
"""

from __future__ import annotations

from turnproof.conform.build.edit import Edit

# A minified identifier, whole (`$` is one, and `$e` too). The look-behind keeps a search over the
# whole bundle linear: without it every position inside a long identifier starts a new attempt.
N = r"(?<![\w$])[\w$]+"


def _g(name: str) -> str:
    """A named capture of one minified identifier."""
    return rf"(?P<{name}>{N})"


# --- guard = turn: the run writes its prompt's user message, under the runner -----------------

_PROMPT = Edit(
    knob="guard",
    value="turn",
    name="prompt-defers-write",
    find=(
        rf'(?P<head>\.fn\("SessionPrompt\.prompt"\)\(function\*\({_g("inp")}\)\{{[^;]*;'
        rf"yield\*{N}\.cleanup\({N}\);)"
        rf"let {_g('msg')}=yield\*{_g('create')}\((?P=inp)\);"
        r"(?P<mid>.*?)"
        r"if\((?P=inp)\.noReply===!0\)return (?P=msg);"
        # with binding = turn the loop edits pass the message's id as `__tpStarter`: the run knows it now
        rf"return yield\*{_g('loop')}\(\{{sessionID:(?P=inp)\.sessionID(?:,__tpStarter:(?P=msg)\.info\.id)?\}}\)\}}\)"
    ),
    replace=(
        r"\g<head>let \g<msg>=\g<inp>.noReply===!0?yield*\g<create>(\g<inp>):void 0;\g<mid>"
        r"if(\g<inp>.noReply===!0)return \g<msg>;"
        r"return yield*\g<loop>({sessionID:\g<inp>.sessionID,__tpWrite:\g<create>(\g<inp>)})})"
    ),
    stands_for="SessionPrompt.prompt (session/prompt.ts): createUserMessage before loop()",
    why="prompt() no longer writes the user message before loop(); a noReply prompt still writes it and returns",
)

_LOOP = Edit(
    knob="guard",
    value="turn",
    name="run-writes-first",
    find=(
        rf'\.fn\("SessionPrompt\.loop"\)\(function\*\({_g("inp")}\)\{{'
        rf"return yield\*{_g('rs')}\.ensureRunning\((?P=inp)\.sessionID,(?P<onint>{N}\((?P=inp)\.sessionID\)),"
        rf"{_g('run')}\((?P=inp)\.sessionID(?P<starter>,(?P=inp)\.__tpStarter)?\)\)\}}\)"
        rf'(?=,{N}=(?P<E>{N})\.fn\("SessionPrompt\.shell"\))'
    ),
    replace=(
        r'.fn("SessionPrompt.loop")(function*(\g<inp>){'
        r"return yield*\g<rs>.ensureRunning(\g<inp>.sessionID,\g<onint>,"
        r"\g<inp>.__tpWrite?\g<E>.flatMap(\g<inp>.__tpWrite,(__tpMsg)=>\g<run>(\g<inp>.sessionID,__tpMsg.info.id))"
        r":\g<run>(\g<inp>.sessionID\g<starter>))})"
    ),
    stands_for="SessionPrompt.loop (session/prompt.ts): the work handed to SessionRunState.ensureRunning",
    why=(
        "the guarded work is the whole turn: the run writes its prompt's user message as its first step "
        "(and hands its id to the run, the starter binding = turn keeps)"
    ),
)

# --- overlap = queue: ensureRunning on a busy runner queues a fresh run; finishRun starts it ---

_ENSURE_CASE = (
    rf'case"Running":case"ShellThenRun":return\[{_g("await")}\({_g("st")}\.run\.done\),(?P=st)\];'
    rf'case"Shell":\{{let {_g("x")}=\{{id:{_g("next")}\(\),done:yield\*{_g("Def")}\.make\(\),work:{_g("work")}\}};'
)
_SHELL_CASE = r'case"Shell":{let \g<x>={id:\g<next>(),done:yield*\g<Def>.make(),work:\g<work>};'  # unchanged

_QUEUE_ENSURE = Edit(
    knob="overlap",
    value="queue",
    name="ensure-queues",
    find=_ENSURE_CASE,
    replace=(
        r'case"Running":case"ShellThenRun":{let __tpRun={id:\g<next>(),done:yield*\g<Def>.make(),work:\g<work>};'
        r"return[\g<await>(__tpRun.done),{...\g<st>,queue:[...(\g<st>.queue??[]),__tpRun]}]}" + _SHELL_CASE
    ),
    stands_for="Runner.ensureRunning (effect/runner.ts): the Running and ShellThenRun case",
    why="a prompt that finds a run in flight queues a fresh run behind it and awaits that run's done",
)

_QUEUE_FINISH = Edit(
    knob="overlap",
    value="queue",
    name="finish-run-starts-next",
    find=(
        rf"\.modify\({_g('ref')},\({_g('st')}\)=>"
        rf'\[{_g("E")}\.gen\(function\*\(\)\{{if\((?P=st)\._tag==="Running"&&(?P=st)\.run\.id==={_g("id")}\)'
        rf"yield\*{_g('onIdle')};yield\*{_g('complete')}\({_g('done')},{_g('exit')}\)\}}\),"
        r'(?P=st)\._tag==="Running"&&(?P=st)\.run\.id===(?P=id)\?\{_tag:"Idle"\}:(?P=st)\]\)'
        rf"\.pipe\((?P=E)\.flatten\),{_g('start')}=\("
    ),
    replace=(
        r".modifyEffect(\g<ref>,\g<E>.fnUntraced(function*(\g<st>){"
        r'if(\g<st>._tag!=="Running"||\g<st>.run.id!==\g<id>)return[\g<complete>(\g<done>,\g<exit>),\g<st>];'
        r"let __tpQueue=\g<st>.queue??[];"
        r"if(__tpQueue.length>0){let __tpNext=yield*\g<start>(__tpQueue[0].work,__tpQueue[0].done);"
        r'return[\g<complete>(\g<done>,\g<exit>),{_tag:"Running",run:__tpNext,queue:__tpQueue.slice(1)}]}'
        r'return[\g<E>.gen(function*(){yield*\g<onIdle>;yield*\g<complete>(\g<done>,\g<exit>)}),{_tag:"Idle"}]}))'
        r".pipe(\g<E>.flatten),\g<start>=("
    ),
    stands_for="Runner finishRun (effect/runner.ts), the run's onExit",
    why="finishRun starts the next queued run (the ref stays Running, no onIdle) instead of going Idle",
)

_QUEUE_FINISH_SHELL = Edit(
    knob="overlap",
    value="queue",
    name="finish-shell-keeps-queue",
    find=(
        rf'(?P<pre>if\({_g("st")}\._tag==="ShellThenRun"&&(?P=st)\.shell\.id==={N}\)\{{'
        rf"let {_g('x')}=yield\*{N}\((?P=st)\.run\.work,(?P=st)\.run\.done\);"
        rf'return\[{N}\.void,\{{_tag:"Running",run:(?P=x))\}}\]\}}'
    ),
    replace=r"\g<pre>,queue:\g<st>.queue}]}",
    stands_for="Runner finishShell (effect/runner.ts): the ShellThenRun case",
    why="the run that waited behind the shell starts with the runs queued behind it still queued",
)


def _cancel_fails_queue(case: str, first: str, name: str, where: str) -> Edit:
    """Runner.cancel's `case`, whose effect starts with `first` and then fails the run's done:
    after that, also fail the done of every run queued behind it (model: Cancel.fail_done)."""
    return Edit(
        knob="overlap",
        value="queue",
        name=name,
        find=(
            rf'(?P<pre>case"{case}":return\[{_g("E")}\.gen\(function\*\(\)\{{yield\*{first},'
            rf"yield\*{_g('Def')}\.fail\((?P=st)\.run\.done,new {_g('Can')}\)\.pipe\((?P=E)\.asVoid\),)"
        ),
        replace=(
            r"\g<pre>yield*\g<E>.forEach(\g<st>.queue??[],"
            r"(__tpRun)=>\g<Def>.fail(__tpRun.done,new \g<Can>),{discard:!0}),"
        ),
        stands_for=f"Runner.cancel (effect/runner.ts): the {case} case",
        why=f"cancel fails the done of every run queued behind {where}, after the stop, as it fails that run's",
    )


_QUEUE_CANCEL_RUNNING = _cancel_fails_queue(
    "Running", rf"{N}\.interrupt\({_g('st')}\.run\.fiber\)", "cancel-fails-queue", "the interrupted run"
)
_QUEUE_CANCEL_SHELL = _cancel_fails_queue(
    "ShellThenRun", rf"{N}\({_g('st')}\.shell\)", "cancel-fails-queue-behind-shell", "the shell's waiting run"
)

# --- overlap = reject: ensureRunning on a busy runner fails with Busy --------------------------

_REJECT_ENSURE = Edit(
    knob="overlap",
    value="reject",
    name="ensure-rejects",
    find=_ENSURE_CASE + rf'(?=.*?if\({N}\._tag!=="Idle"\)return\[{_g("E")}\.fail\(new {_g("Busy")}\),)',
    replace=r'case"Running":case"ShellThenRun":return[\g<E>.fail(new \g<Busy>),\g<st>];' + _SHELL_CASE,
    stands_for="Runner.ensureRunning (effect/runner.ts): the Running and ShellThenRun case",
    why="a prompt that finds a run in flight fails with RunnerBusy, as startShell does; it starts and joins nothing",
)

_REJECT_MAP = Edit(
    knob="overlap",
    value="reject",
    name="busy-as-session-busy",
    find=(
        rf'(?P<head>\.fn\("SessionRunState\.ensureRunning"\)\(function\*\({_g("sid")},{N},{N}\)\{{'
        rf"return yield\*\(yield\*{N}\((?P=sid),{N}\)\)\.ensureRunning\({N}\))"
        rf'(?=\}}\),{N}={_g("E")}\.fn\("SessionRunState\.startShell"\)[^;]*?'
        rf'\.catchTag\("RunnerBusy",\(\)=>(?P=E)\.fail\({_g("busy")}\({N}\)\)\))'
    ),
    replace=r'\g<head>.pipe(\g<E>.catchTag("RunnerBusy",()=>\g<E>.fail(\g<busy>(\g<sid>))))',
    stands_for="SessionRunState.ensureRunning (session/run-state.ts)",
    why="the rejected prompt fails with the session's BusyError, the error a refused shell gets",
)

# --- cancel = after-interrupt: the interrupted fiber's own finishRun / finishShell releases ----

_CANCEL = Edit(
    knob="cancel",
    value="after-interrupt",
    name="cancel-keeps-guard",
    find=(
        rf"\.modify\({_g('ref')},\({_g('st')}\)=>\{{switch\((?P=st)\._tag\)\{{"
        rf'case"Idle":return\[{_g("E")}\.void,(?P=st)\];'
        rf'case"Running":return\[(?P=E)\.gen\(function\*\(\)\{{yield\*{_g("Fib")}\.interrupt\((?P=st)\.run\.fiber\),'
        rf"yield\*{_g('Def')}\.fail\((?P=st)\.run\.done,new {_g('Can')}\)\.pipe\((?P=E)\.asVoid\),[^;]*?;"
        rf'case"Shell":return\[(?P=E)\.gen\(function\*\(\)\{{yield\*{_g("stop")}\((?P=st)\.shell\),[^;]*?;'
        r'case"ShellThenRun":return\[[^;]*?\}\}\)\.pipe\((?P=E)\.flatten\)(?=;return\{get state\(\))'
    ),
    replace=(
        r".modify(\g<ref>,(\g<st>)=>{switch(\g<st>._tag){"
        r'case"Idle":return[\g<E>.void,\g<st>];'
        r'case"Running":return[\g<E>.gen(function*(){for(let __tpRun of \g<st>.queue??[])'
        r"yield*\g<Def>.fail(__tpRun.done,new \g<Can>).pipe(\g<E>.asVoid);"
        r'yield*\g<Fib>.interrupt(\g<st>.run.fiber)}),{_tag:"Running",run:\g<st>.run}];'
        r'case"Shell":return[\g<stop>(\g<st>.shell),\g<st>];'
        r'case"ShellThenRun":return[\g<E>.gen(function*(){for(let __tpRun of [\g<st>.run,...(\g<st>.queue??[])])'
        r"yield*\g<Def>.fail(__tpRun.done,new \g<Can>).pipe(\g<E>.asVoid);"
        r'yield*\g<stop>(\g<st>.shell)}),{_tag:"Shell",shell:\g<st>.shell}]}}).pipe(\g<E>.flatten)'
    ),
    stands_for="Runner.cancel (effect/runner.ts)",
    why=(
        "cancel leaves the ref Running (or Shell) and interrupts; the stopped fiber's own finishRun or "
        "finishShell goes Idle and runs onIdle; queued runs and a run waiting behind a shell fail at once"
    ),
)

# --- on_idle = keep-entry: onIdle no longer deletes the session's map entry ------------------

_KEEP = Edit(
    knob="on_idle",
    value="keep-entry",
    name="on-idle-keeps-entry",
    find=rf"onIdle:{_g('E')}\.gen\(function\*\(\)\{{{N}\.runners\.delete\({N}\),",
    replace=r"onIdle:\g<E>.gen(function*(){",
    stands_for="SessionRunState.runner (session/run-state.ts): the runner's onIdle",
    why="onIdle only sets the status idle; the map keeps one runner per session",
)

# --- runner_map = per-process: one runner map for the whole server process -------------------

_PROCESS = Edit(
    knob="runner_map",
    value="per-process",
    name="one-map-per-process",
    find=rf'(?P<pre>\.fn\("SessionRunState\.state"\)\(function\*\(\)\{{let {N}=yield\*{N}\.Scope,{N}=)new Map;',
    replace=r"\g<pre>globalThis.__tpRunners??=new Map;",
    stands_for="SessionRunState.state (session/run-state.ts): the per-instance runner map",
    why="every instance's state holds the same Map, so clients in any directory context share the session's runner",
)

EDITS: tuple[Edit, ...] = (
    _PROMPT,
    _LOOP,
    _QUEUE_ENSURE,
    _QUEUE_FINISH,
    _QUEUE_FINISH_SHELL,
    _QUEUE_CANCEL_RUNNING,
    _QUEUE_CANCEL_SHELL,
    _REJECT_ENSURE,
    _REJECT_MAP,
    _CANCEL,
    _KEEP,
    _PROCESS,
)
