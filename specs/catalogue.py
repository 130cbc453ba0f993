"""Upstream's reports as built-in scenarios: which scenario tells each, and its symptom as a property.

One entry per opencode report about the turn machinery (docs/upstream-reports.md): the built-in
scenario `issue-N`, the release it was seen on and the design that stands for that release, the
symptom in a line, and a property that is violated exactly when the symptom shows (a prompt never
answered, two final answers under one parent, a follow-up folded into the running turn). Which
designs stand for the newest release lives in NEWEST alone, so the catalogue moves to a newer
release by changing that table.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.model.inbox import history
from turnproof.model.store import ASSISTANT, USER
from turnproof.model.world import World
from turnproof.specs.properties import PROPERTIES, Property, Violation

# The designs of the newest release the model has, by the engine and delivery a report's client
# uses: the legacy routes (TUI, shipped web app, plugins), or the V2 inbox in either delivery.
NEWEST = {"legacy": "upstream-1.19.5", "steer": "upstream-1.19.5-steer", "queue": "upstream-1.19.5-queue"}
NEWEST_RELEASE = "1.19.5"


@dataclass(frozen=True)
class Unanswered:
    """The symptom "stored but never answered", for one prompt: at rest, the server accepted it and
    no reply follows it (legacy: no completed non-tool-call child, an error reply counting as the
    failure its client sees; V2: still pending, or no completed reply after its row in seq order).
    Unlike prompt-answered it excuses nothing: the report's complaint is the silence itself."""

    prompt: str

    def __call__(self, w: World) -> Violation | None:
        p = self.prompt
        if p not in w.sent:
            return None
        if w.inbox.on:
            row = w.inbox.row(p)
            if row is None or row.pending:
                return Violation(f"{p} was admitted (200) but never promoted: it sits in session_input", ())
            msgs = history(w)
            mine = next(m for m in msgs if m.role == USER and m.label == p)
            if any(n.role == ASSISTANT and n.seq > mine.seq and n.completed and n.finish != "tool-calls" for n in msgs):
                return None
            return Violation(f"{p} was promoted, but no reply follows it", (mine.id,))
        mine = next((m for m in w.store.messages if m.role == USER and m.label == p and not m.synthetic), None)
        if mine is None:
            return Violation(f"{p} was accepted, but its user message was never written", ())
        if any(c.answers for c in w.store.children(mine.id)):
            return None
        return Violation(f"{p} is stored but never answered", (mine.id,))


def unanswered(prompt: str) -> Property:
    """The report's symptom for `prompt`, as an at-rest property."""
    says = f"At rest, {prompt} was answered (the symptom: stored, never answered)."
    return Property(f"{prompt}-unanswered", "at_rest", says, Unanswered(prompt))


def _standard(name: str) -> Property:
    return next(p for p in PROPERTIES if p.name == name)


@dataclass(frozen=True)
class Report:
    number: int
    release: str  # the release it was seen on, as reported
    reported: str  # the design that stands for that release
    engine: str  # the newest design for its client: a key of NEWEST
    symptom: str  # what the reporter saw, in a line
    prop: Property  # violated exactly when the symptom shows

    @property
    def scenario(self) -> str:
        return f"issue-{self.number}"

    @property
    def url(self) -> str:
        return f"https://github.com/anomalyco/opencode/issues/{self.number}"

    @property
    def newest(self) -> str:
        return NEWEST[self.engine]


REPORTS = (
    Report(32010, "1.17.4", "v1.15.4", "legacy", "a plugin's wake to a session ending its turn: stored, never run",
           unanswered("W1")),
    Report(40955, "1.18.14", "change-87c33b3", "legacy", "a message queued in a turn is dropped when it is interrupted",
           unanswered("U2")),
    Report(49740, "v2.0.8", "upstream-1.18.34-steer", "steer", "a drain that fails is only logged: the session freezes",
           unanswered("U1")),
    Report(46135, "1.18.18", "upstream-1.18.34", "legacy", "a message sent while a question tool waits is swallowed",
           unanswered("U2")),
    Report(30809, "1.15.13", "v1.15.4", "legacy", "several final answers under one parent from overlapping loops",
           _standard("no-terminal-siblings")),
    Report(29478, "1.17.13", "change-87c33b3", "legacy", "a client id ahead of the server's: two final answers",
           _standard("no-terminal-siblings")),
    Report(35399, "1.17.11", "change-87c33b3", "legacy", "same-parent assistant siblings when a prompt lands mid-tool",
           _standard("no-terminal-siblings")),
    Report(44108, "1.18.21", "upstream-1.18.34", "legacy", "the web UI cannot queue: a follow-up steers the turn",
           _standard("turn-serialization")),
)  # fmt: skip
