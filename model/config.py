"""Designs (the choices a locking change can vary) and scenarios (who sends what), as plain values.

Loading them from TOML files lives in `specs/`; the model only needs these immutable records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from turnproof.model.ids import ServerClock

# Every design knob and the values it may take; the first value is what opencode v1.15.4 does.
KNOBS: dict[str, tuple[str, ...]] = {
    # How the loop picks the parent of the assistant it creates: re-resolve lastUser every
    # iteration, or keep the user that opened the turn through its tool round-trips.
    # "pinned" is PR #28488 (unmerged): pin the loop's first lastUser, exit on it, then re-pin the
    # next unanswered user inside the same loop.
    "binding": ("iteration", "turn", "pinned"),
    # What the per-session guard covers: only entry into the loop (the user message is written
    # before it), or the whole turn (the user message is written inside the guarded work).
    "guard": ("entry", "turn"),
    # What a prompt gets while a run is in flight: join it (await its `done`), queue a fresh
    # run behind it, or be rejected as busy.
    "overlap": ("join", "queue", "reject"),
    # What cancel does with the guard: release it at once and interrupt the loop afterwards, or
    # keep it until the interrupted loop (or shell) has stopped and released it itself.
    "cancel": ("idle-at-once", "after-interrupt"),
    # What onIdle does with the session's entry in the runner map: delete it (whichever runner
    # it holds by then), or keep one runner per session for the instance's lifetime.
    "on_idle": ("delete-entry", "keep-entry"),
    # Where the session's runner lives: in each instance's map (InstanceState, one per project
    # directory), or in one map for the whole server process.
    "runner_map": ("per-instance", "per-process"),
    # When the loop's exit test calls a turn answered: when lastUser.id < lastAssistant.id (id
    # order), or when the last assistant's parentID is the user the turn answers.
    "exit": ("id-order", "parent"),
    # How the loop picks the newest user and assistant: by id (which a client may mint on its
    # own clock), or by the time.created the server stamps when it writes the message.
    "order": ("id", "created"),
    # Which turn engine the clients' prompt requests reach (opencode 1.18.34 has both): the legacy
    # SessionPrompt loop and runner, or the V2 session input inbox drained by SessionRunner
    # (POST /api/session/:id/prompt; model/inbox.py). v1.15.4 has only the first.
    "engine": ("legacy", "inbox"),
    # inbox only: the follow-up setting of the user's client, the `delivery` its prompts carry:
    # steer the running turn at its next step, or wait in the queue until the turn has settled.
    "delivery": ("steer", "queue"),
}

ROUTES = ("prompt", "prompt_async", "shell", "abort", "v2", "interrupt", "reply", "reject")
ANSWERS = ("reply", "reject")  # the user's answer to the session's pending question or permission
# What the tools a prompt's turn calls are: a plain tool runs on its own; a question or permission
# tool waits for its user's answer (Question.ask / Permission.ask, model/question.py).
TOOL_KINDS = ("plain", "question", "permission")
# What the provider does with a model call that answers the prompt: "error" fails it before its
# first content (model resolution, or a provider error before the stream starts).
PROVIDERS = ("ok", "error")
DELIVERIES = ("", "steer", "queue", "none")  # a prompt's own delivery: "" the design's, "none" absent
ID_SOURCES = ("server", "client", "after-all")
# What a prompt's parts are: text and agent parts resolve at once; file and MCP resource parts
# read a file or a resource between the id's mint and the message's write (resolveUserPart).
PARTS = ("text", "agent", "file", "mcp")
CLIENTS = ("web", "tui", "plugin", "sdk")
GRANULARITIES = ("await", "effect")


@dataclass(frozen=True)
class Design:
    name: str
    description: str = ""
    path: str = field(default="", compare=False)  # the file it was loaded from
    binding: str = "iteration"
    guard: str = "entry"
    overlap: str = "join"
    cancel: str = "idle-at-once"
    on_idle: str = "delete-entry"
    runner_map: str = "per-instance"
    exit: str = "id-order"
    order: str = "id"
    engine: str = "legacy"
    delivery: str = "steer"
    base: str = field(default="", compare=False)  # the design this one changes (review's change table)
    change: str = field(default="", compare=False)  # the upstream change it models, e.g. "87c33b3 (v1.17.7)"


@dataclass(frozen=True)
class Prompt:
    """One request a client sends to the session.

    `tools` scripts the model: how many tool round-trips it performs when this is the newest
    user message it is shown. `after` holds back the request until those prompts were accepted
    (a web UI sends its second message after the first was acknowledged). `no_reply` is the
    path plugins and the task tool use to inject context: prompt() writes the message and
    returns before loop(). `id`/`clock`: a request that carries its own `messageID` minted on
    the client's clock (offset in server ticks; math.inf for "ahead by more than the scenario
    lasts"), or a fixed id that sorts after every server id ("after-all", e.g. msg_zzzz…).
    `parts`/`hook`: what createUserMessage awaits between the mint and the write (`gap`).
    `tool_kind`/`provider`: what its tool calls wait for, and whether its model calls fail.
    A `reply` or `reject` request answers the session's pending question (or permission) once
    the server has asked it (`question.asked`); with none in the scenario, nobody answers.
    """

    name: str
    client: str = "web"
    route: str = "prompt_async"
    tools: int = 0
    instance: int = 0
    after: tuple[str, ...] = ()
    no_reply: bool = False  # noReply: true -- write the message as context, start no loop
    id: str = "server"  # who mints the message id: "server", "client" (its clock), "after-all"
    clock: float = 0  # id = "client": the client clock's offset from the server's, in ticks
    delivery: str = ""  # V2: "" the design's follow-up setting, "steer", "queue", "none" (field absent)
    resume: bool = True  # V2: resume = false admits the input without waking the drain
    parts: str = "text"  # "file" / "mcp": resolving the parts awaits I/O between mint and write
    hook: bool = False  # a plugin defines chat.message: createUserMessage awaits it before the write
    tool_kind: str = "plain"  # the kind of tool its turn calls: "plain", "question", "permission"
    provider: str = "ok"  # "error": every model call answering this prompt fails before its first content

    @property
    def id_clock(self) -> tuple | None:
        """The clock this prompt's messageID is read from: one client's clock at one offset (one
        process, one id counter); each after-all id is its own (its tail is random); None: the server's."""
        if self.id == "client":
            return (self.client, self.clock)
        return ("after-all", self.name) if self.id == "after-all" else None

    @property
    def gap(self) -> bool:
        """Does createUserMessage really await between fixing the id and writing the message?"""
        return self.hook or self.parts in ("file", "mcp")


@dataclass(frozen=True)
class Scenario:
    """Clients and their prompts on one session, the step granularity, and the exploration bound.

    `granularity`: "await" cuts steps only where the real code suspends on I/O (model stream,
    tool run, HTTP); "effect" adds the points where Effect's fiber runtime may also yield
    (between a SynchronizedRef update and the effect it returns, between a read and a write).
    `max_messages` bounds the store; states beyond it are counted as cut, never explored.
    `server`: the server clock's jumps (the 48-bit id wrap, a step back), none by default.
    """

    name: str
    prompts: tuple[Prompt, ...]
    description: str = ""
    granularity: str = "await"
    max_messages: int = 12
    server: ServerClock = ServerClock()
    path: str = field(default="", compare=False)  # the file it was loaded from

    def mints_apart(self, p: Prompt) -> bool:
        """Does the client mint `p`'s messageID in a step of its own before sending it? Only when
        ids come from two clocks or more: their readings may then fall in one tick in either
        order, and the order of the mint steps explores both (model/fibers.py, `client.mint`)."""
        return p.id_clock is not None and len({q.id_clock for q in self.prompts} - {None}) > 1

    @property
    def instances(self) -> int:
        return 1 + max((p.instance for p in self.prompts), default=0)

    def prompt(self, name: str) -> Prompt:
        for p in self.prompts:
            if p.name == name:
                return p
        raise KeyError(name)
