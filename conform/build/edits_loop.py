"""The loop knobs' edits (binding, exit, order) of opencode 1.15.4's prompt loop.

The loop is `SessionPrompt.run`: every iteration it reads the session (`filterCompactedEffect`),
resolves `{user, assistant, finished, tasks}` with `MessageV2.latest`, tests for exit, and writes
the next assistant with `parentID: <user>.id`. Minified names differ per build, so every edit
captures the names it needs from its anchor. Names the edits introduce start with `__tp` (none
occurs in the bundle). Each edit quotes only the few fragments it must match and replace
(opencode is MIT, see OPENCODE-LICENSE).

How the edits of one knob meet another's: the loop run gets a second argument, the id of the
user message whose prompt started it (`__tpStarter`, passed by `SessionPrompt.prompt` through
`SessionPrompt.loop`); the binding edits rebind the loop's `lastUser` variable to the turn's user
just before the exit test and keep the user `latest` resolved in `__tpLast`, so that the id-order
exit test still compares `lastUser.id < lastAssistant.id` as the model's does, while the parent exit
test (applied after them, KNOB_ORDER) compares `lastAssistant.parentID` with the bound user.
"""

from __future__ import annotations

from turnproof.conform.build.edit import Edit

N = r"[\w$]+"  # a minified identifier (never the start of an anchor: a literal first keeps the search fast)

# SessionPrompt.run's head: its argument, and the run-scoped variables declared before the loop.
_RUN_HEAD = (
    r'\.fn\("SessionPrompt\.run"\)\(function\*\((?P<sid>'
    + N
    + r")\)\{let (?P<decl>"
    + N
    + r"=yield\*"
    + N
    + r"\.context,"
    r"" + N + r"=" + N + r"\.with\(\{sessionID:(?P=sid)\}\)," + N + r",(?P<step>" + N + r")=0,)"
)
# The loop head: the read, latest(), the no-user check, the tool-part test and the exit test.
_EXIT = (
    r"(?P<head>let (?P<msgs>" + N + r")=yield\*" + N + r"\.filterCompactedEffect\(" + N + r"\),"
    r"\{user:(?P<user>" + N + r"),assistant:(?P<last>" + N + r"),finished:" + N + r",tasks:" + N + r"\}="
    r"" + N + r'\.latest\((?P=msgs)\);if\(!(?P=user)\)throw Error\("No user message found in stream\. '
    r'This should never happen\."\);let (?P<tools>' + N + r")=(?s:.){1,200}?\?\?!1;)"
    r'(?P<test>if\((?P=last)\?\.finish&&!\["tool-calls"\]\.includes\((?P=last)\.finish\)&&!(?P=tools)&&)'
    r"(?P=user)\.id<(?P=last)\.id\)\{"
)
# A user message in the loop's read is answered: an assistant under it completed, not on tool-calls
# (the model's Message.answers).
_ANSWERED = (
    '{msgs}.some((m)=>m.info.role==="assistant"&&m.info.parentID===__tpU.id&&m.info.time.completed'
    '&&m.info.finish!=="tool-calls")'
)

_STARTER = (
    Edit(
        knob="binding",
        value="turn",
        name="run-takes-starter",
        find=_RUN_HEAD,
        replace=r'.fn("SessionPrompt.run")(function*(\g<sid>,__tpStarter){let __tpUser,__tpOwn,\g<decl>',
        stands_for='SessionPrompt.run (Effect.fn "SessionPrompt.run"): the run\'s arguments and state',
        why="the run knows the user message of the prompt that started it, and keeps its turn's user and "
        "the last assistant it wrote across iterations",
    ),
    Edit(
        knob="binding",
        value="turn",
        name="loop-passes-starter",
        find=r'(?P<head>\.fn\("SessionPrompt\.loop"\)\(function\*\((?P<in>'
        + N
        + r")\)\{return yield\*"
        + N
        + r"\.ensureRunning\((?P=in)\.sessionID,(?P<res>"
        + N
        + r")\((?P=in)\.sessionID\),(?P<run>"
        + N
        + r"))\((?P=in)\.sessionID\)\)",
        replace=r"\g<head>(\g<in>.sessionID,\g<in>.__tpStarter))",
        stands_for='SessionPrompt.loop (Effect.fn "SessionPrompt.loop") -> Runner.ensureRunning',
        why="the run ensureRunning starts is told which prompt's user message started it",
    ),
    Edit(
        knob="binding",
        value="turn",
        name="prompt-names-starter",
        find=r"(?P<head>let (?P<msg>"
        + N
        + r")=yield\*"
        + N
        + r"\((?P<in>"
        + N
        + r")\);yield\*"
        + N
        + r"\.touch\((?P=in)\.sessionID\);(?s:.){1,400}?if\((?P=in)\.noReply===!0\)return (?P=msg);"
        r"return yield\*(?P<loop>" + N + r"))\(\{sessionID:(?P=in)\.sessionID\}\)",
        replace=r"\g<head>({sessionID:\g<in>.sessionID,__tpStarter:\g<msg>.info.id})",
        stands_for='SessionPrompt.prompt (Effect.fn "SessionPrompt.prompt"): its call of loop()',
        why="prompt() hands the user message it wrote to loop(), so the run it starts can bind that prompt",
    ),
)

BINDING_TURN = _STARTER + (
    Edit(
        knob="binding",
        value="turn",
        name="keep-turn-user",
        find=_EXIT,
        replace=r"\g<head>let __tpLast=\g<user>;"
        r'if(__tpOwn&&\g<msgs>.find((m)=>m.info.id===__tpOwn)?.info.finish==="tool-calls")'
        r"\g<user>=\g<msgs>.find((m)=>m.info.id===__tpUser.id)?.info??__tpUser;"
        r"else if(!__tpOwn&&__tpStarter){let __tpU=\g<msgs>.find((m)=>m.info.id===__tpStarter)?.info;"
        r'if(__tpU&&__tpU.role==="user"&&!' + _ANSWERED.format(msgs=r"\g<msgs>") + r")\g<user>=__tpU}"
        r"__tpUser=\g<user>;"
        r"\g<test>__tpLast.id<\g<last>.id){",
        stands_for="SessionPrompt.run: the loop head (MessageV2.latest, the exit test)",
        why="binding = turn: while the run continues its own tool-calls assistant the turn keeps its user; "
        "a run's first turn answers the prompt that started it while that one has no reply; "
        "otherwise lastUser (the exit test still compares lastUser.id < lastAssistant.id)",
    ),
    Edit(
        knob="binding",
        value="turn",
        name="remember-own-assistant",
        find=r"(?P<head>parentID:(?P<user>"
        + N
        + r')\.id,role:"assistant",(?s:.){1,400}?;yield\*'
        + N
        + r"\.updateMessage\((?P<a>"
        + N
        + r")\);)(?P<tail>let "
        + N
        + r"="
        + N
        + r"\.gen\(function\*\(\)\{if\((?P=a)\.time\.completed\)return;)",
        replace=r"\g<head>__tpOwn=\g<a>.id;\g<tail>",
        stands_for="SessionPrompt.run: the new assistant's write (parentID: lastUser.id)",
        why="the run remembers the assistant it wrote last, to tell its own tool-calls turn from another's",
    ),
)

BINDING_PINNED = (
    Edit(
        knob="binding",
        value="pinned",
        name="run-pins-user",
        find=_RUN_HEAD,
        replace=r'.fn("SessionPrompt.run")(function*(\g<sid>){let __tpUser,\g<decl>',
        stands_for='SessionPrompt.run (Effect.fn "SessionPrompt.run"): the run\'s state',
        why="the run keeps the user it pinned across iterations",
        releases=("1.15.4",),
    ),
    Edit(
        knob="binding",
        value="pinned",
        name="pin-and-repin",
        find=_EXIT,
        replace=r"\g<head>let __tpLast=\g<user>;if(!__tpUser)__tpUser=\g<user>;"
        r"\g<user>=\g<msgs>.find((m)=>m.info.id===__tpUser.id)?.info??__tpUser;"
        r'if(\g<last>?.finish&&!["tool-calls"].includes(\g<last>.finish)&&!\g<tools>'
        r"&&\g<last>.parentID===\g<user>.id){"
        r"let __tpI=\g<msgs>.findIndex((m)=>m.info.id===\g<user>.id),"
        r'__tpN=\g<msgs>.slice(__tpI+1).find((__tpM)=>{let __tpU=__tpM.info;return __tpU.role==="user"'
        r"&&!__tpM.parts.every((p)=>p.synthetic)&&!" + _ANSWERED.format(msgs=r"\g<msgs>") + r"});"
        r"if(__tpN)\g<user>=__tpN.info}"
        r"__tpUser=\g<user>;"
        r"\g<test>__tpLast.id<\g<last>.id){",
        stands_for="SessionPrompt.run: the loop head (MessageV2.latest, the exit test)",
        why="binding = pinned (PR #28488): the loop pins the lastUser of its first read and writes every "
        "assistant under it; once the pinned user is answered it re-pins the oldest user after it with no "
        "reply instead of exiting (built with exit = parent, which ends the turn on parentID === pinned)",
    ),
)

EXIT_PARENT = (
    Edit(
        knob="exit",
        value="parent",
        name="exit-on-parent",
        find=r"(?P<head>\{user:(?P<user>" + N + r"),assistant:(?P<last>" + N + r"),(?s:.){1,1500}?"
        r'if\((?P=last)\?\.finish&&!\["tool-calls"\]\.includes\((?P=last)\.finish\)&&!'
        + N
        + r"&&)"
        + N
        + r"\.id<(?P=last)\.id\)(?P<tail>\{yield\*"
        + N
        + r'\.info\("exiting loop"\))',
        replace=r"\g<head>\g<last>.parentID===\g<user>.id)\g<tail>",
        stands_for="SessionPrompt.run: the exit test",
        why="exit = parent: lastUser.id < lastAssistant.id is replaced by lastAssistant.parentID === the user "
        "this turn answers",
    ),
)

# MessageV2.latest keeps, for each kind, the message whose key is greatest; `__tpNewer(a, b)` says
# whether a is newer than b by (time.created, id).
_NEWER = "((a,b)=>a.time.created>b.time.created||a.time.created===b.time.created&&a.id>b.id)"

ORDER_CREATED = (
    Edit(
        knob="order",
        value="created",
        name="latest-by-created",
        find=r"function (?P<f>"
        + N
        + r")\((?P<J>"
        + N
        + r")\)\{let (?P<u>"
        + N
        + r"),(?P<a>"
        + N
        + r"),(?P<z>"
        + N
        + r");for\(let (?P<X>"
        + N
        + r") of (?P=J)\)\{let (?P<U>"
        + N
        + r")=(?P=X)\.info;"
        r'if\((?P=U)\.role==="user"&&\(!(?P=u)\|\|(?P=U)\.id>(?P=u)\.id\)\)(?P=u)=(?P=U);'
        r'if\((?P=U)\.role==="assistant"&&\(!(?P=a)\|\|(?P=U)\.id>(?P=a)\.id\)\)(?P=a)=(?P=U);'
        r'if\((?P=U)\.role==="assistant"&&(?P=U)\.finish&&\(!(?P=z)\|\|(?P=U)\.id>(?P=z)\.id\)\)(?P=z)=(?P=U)\}',
        replace=r"function \g<f>(\g<J>){let \g<u>,\g<a>,\g<z>,__tpNewer=" + _NEWER + r";"
        r"for(let \g<X> of \g<J>){let \g<U>=\g<X>.info;"
        r'if(\g<U>.role==="user"&&(!\g<u>||__tpNewer(\g<U>,\g<u>)))\g<u>=\g<U>;'
        r'if(\g<U>.role==="assistant"&&(!\g<a>||__tpNewer(\g<U>,\g<a>)))\g<a>=\g<U>;'
        r'if(\g<U>.role==="assistant"&&\g<U>.finish&&(!\g<z>||__tpNewer(\g<U>,\g<z>)))\g<z>=\g<U>}',
        stands_for="MessageV2.latest (lastUser, lastAssistant, lastFinished of the loop's read)",
        why="order = created: the newest user and assistant by (time.created, id), the server's clock when it "
        "built the message, not by id",
    ),
)

EDITS: tuple[Edit, ...] = BINDING_TURN + BINDING_PINNED + EXIT_PARENT + ORDER_CREATED
