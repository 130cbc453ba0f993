"""One edit of a release's bundled JavaScript: the shared format of the loop and runner edits.

Its own module so that `edits_loop` and `edits_runner` can import it while `edits` imports them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    knob: str  # design knob, e.g. "binding"
    value: str  # its value, e.g. "turn"
    name: str  # short id of this edit within the knob, e.g. "keep-turn-user"
    find: str  # a regular expression; must match exactly once in the whole bundle's JavaScript
    replace: str  # an re template (\g<name> for the minified identifiers that `find` captures)
    stands_for: str  # the opencode function / Effect.fn span it changes, e.g. "SessionPrompt.run (the loop)"
    why: str  # one line: what it changes, in the words the model uses for the knob value
    releases: tuple[str, ...] = ("1.15.4",)  # releases it was verified on
