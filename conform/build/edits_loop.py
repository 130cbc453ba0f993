"""The loop knobs' edits (binding, exit, order) on the bundle of `SessionPrompt.run`."""

from __future__ import annotations

from turnproof.conform.build.edits import Edit

EDITS: tuple[Edit, ...] = ()
