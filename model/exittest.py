"""The prompt loop's exit test as values: what it compares at the loop head, and its verdict.

opencode 1.15.4 stops the loop when lastAssistant has a finish other than tool-calls, no tool
parts, and lastUser.id < lastAssistant.id (session/prompt.ts:1672). The `exit = "parent"` designs
(#40990 in v1.18.15, PR #28488) keep the finish and tool-part checks and compare
lastAssistant.parentID with the user the turn answers instead. `_iterate` (model/fibers.py)
decides with this; `explain` says it in words.
"""

from __future__ import annotations

from typing import NamedTuple

from turnproof.model.ids import Id
from turnproof.model.store import TOOL_CALLS, Latest, Message


class ExitTest(NamedTuple):
    """The exit test's inputs at one loop head, and what each part of it gave."""

    rule: str  # the design's exit knob: "id-order" or "parent"
    user: Message  # lastUser
    assistant: Message | None  # lastAssistant (None: no assistant yet)
    bound: Id | None  # the user the turn answers (compared with parentID under "parent")
    ended: bool  # lastAssistant has a finish, not tool-calls, and no tool parts
    matches: bool  # lastUser.id < lastAssistant.id, or lastAssistant.parentID == bound

    @property
    def exits(self) -> bool:
        return self.ended and self.matches


def exit_test(rule: str, latest: Latest, bound: Id | None) -> ExitTest:
    """The test of prompt.ts:1672 (or its parentID variant) on one read of the session."""
    user, last = latest.user, latest.assistant
    ended = bool(last and last.finish and last.finish != TOOL_CALLS and not last.has_tools)
    if last is None:
        matches = False
    elif rule == "parent":
        matches = last.parent == bound
    else:
        matches = user.id < last.id
    return ExitTest(rule, user, last, bound, ended, matches)
