"""The session's message store: messages kept in id order, each with its time.created.

Ids are opaque sortable values (MessageID.ascending at the server, or a client's messageID);
`created` is the server's clock when the message was built (model/ids.py). opencode 1.15.4 reads
the session oldest-first by (time_created, id) (`MessageV2.page`, `filterCompacted`), and that is
the order of the model request; `MessageV2.latest` and the loop's exit test compare ids.
`seq` is the order in which messages were written, a ghost field the specs use to tell "written
mid-turn" from "sorted later".
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.model.ids import Created, Id
from turnproof.model.values import kept, replace, value

USER = "user"
ASSISTANT = "assistant"
TOOL_CALLS = "tool-calls"
STOP = "stop"


@value
class ToolPart:
    """A tool part of an assistant message: pending -> running -> completed | error."""

    call: int
    status: str


@value
class Message:
    """A user or assistant message, with the fields the turn machinery reads."""

    id: Id
    seq: int
    role: str
    label: str
    parent: Id | None = None  # parentID, assistants only
    finish: str | None = None  # assistant finish reason once the step ended
    completed: bool = False  # assistant time.completed is set
    error: str | None = None  # e.g. "aborted" when its run was interrupted
    tools: tuple[ToolPart, ...] = ()
    asks: int = 0  # user only: tool round-trips the scripted model performs for it
    source: str = ""  # who wrote it: a prompt's client, a run ("r1"), a shell ("s1")
    synthetic: bool = False  # user message written by the shell route, not typed
    no_reply: bool = False  # user message injected with noReply: context, not a prompt
    created: Created = (0, 0)  # time.created: the server clock when the message was built

    @property
    def when(self) -> tuple[Created, Id]:
        """The key opencode reads messages by: (time_created, id)."""
        return (self.created, self.id)

    @property
    def terminal(self) -> bool:
        """A finished step that is not a tool round-trip: what the turn ends on."""
        return self.role == ASSISTANT and self.finish is not None and self.finish != TOOL_CALLS

    @property
    def answers(self) -> bool:
        """Counts as a reply to its parent: completed and not waiting on a tool continuation."""
        return self.role == ASSISTANT and self.completed and self.finish != TOOL_CALLS

    @property
    def has_tools(self) -> bool:
        """Carries tool parts: the loop's exit test refuses to stop on such an assistant."""
        return bool(self.tools)


@dataclass(frozen=True)
class Latest:
    """What `MessageV2.latest` resolves from one read: lastUser, lastAssistant, lastFinished."""

    user: Message | None
    assistant: Message | None
    finished: Message | None


@value
class Store:
    """Messages of one session, sorted by id, plus the write counter."""

    messages: tuple[Message, ...] = ()
    writes: int = 0

    def add(self, msg: Message) -> Store:
        """Insert a new message at its id's place (ids need not arrive in order)."""
        msgs = tuple(sorted(self.messages + (msg,), key=lambda m: m.id))
        return Store(msgs, self.writes + 1)

    def size(self) -> int:
        """How many messages the session holds."""
        return len(self.messages)

    def get(self, mid: Id) -> Message:
        for m in self.messages:
            if m.id == mid:
                return m
        raise KeyError(mid)

    def update(self, mid: Id, **changes) -> Store:
        """Rewrite one message (Session.updateMessage / updatePart on it)."""
        msgs = tuple(replace(m, **changes) if m.id == mid else m for m in self.messages)
        return Store(msgs, self.writes)

    def by_created(self) -> tuple[Message, ...]:
        """Oldest first by (time_created, id): how the loop's read returns them (MessageV2.page).
        Sorted once per store: every world that shares the store shares the order."""
        return kept(self, "_by_created", _by_created)

    def request(self) -> tuple[Message, ...]:
        """The messages the model request carries, in the loop's read order (toModelMessages):
        messages without parts are skipped, i.e. an assistant before its first tool call or text
        (an aborted one without parts too); every user message has its text part."""
        return tuple(m for m in self.by_created() if m.role == USER or m.tools or m.finish is not None)

    def newest_reply(self) -> Message | None:
        """Session.findMessage(role != user): the newest non-user message by (time_created, id),
        else the newest message; what the loop returns and a cancelled run's waiters get."""
        return kept(self, "_newest", _newest_reply)[0]

    def latest(self, order: str = "id") -> Latest:
        """Newest user, assistant and finished assistant: the loop's per-iteration resolution.

        opencode v1.15.4 takes the highest id (`order="id"`); later releases take the newest by
        (time.created, id), the server's clock when it built the message (`order="created"`).
        Resolved once per store and order.
        """
        if order == "id":
            return kept(self, "_latest_id", lambda store: _latest(store.messages))
        return kept(self, "_latest_created", lambda store: _latest(store.by_created()))

    def children(self, parent: Id) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role == ASSISTANT and m.parent == parent)

    def count(self, role: str) -> int:
        return sum(1 for m in self.messages if m.role == role)


def _by_created(store: Store) -> tuple[Message, ...]:
    return tuple(sorted(store.messages, key=lambda m: m.when))


def _newest_reply(store: Store) -> tuple[Message | None]:
    """Kept as a 1-tuple: a store without messages has no reply, and None means "not computed"."""
    msgs = store.by_created()
    replies = [m for m in msgs if m.role != USER]
    return (replies[-1] if replies else (msgs[-1] if msgs else None),)


def _latest(msgs: tuple[Message, ...]) -> Latest:
    users = [m for m in msgs if m.role == USER]
    assistants = [m for m in msgs if m.role == ASSISTANT]
    finished = [m for m in assistants if m.finish is not None]
    return Latest(
        users[-1] if users else None,
        assistants[-1] if assistants else None,
        finished[-1] if finished else None,
    )
