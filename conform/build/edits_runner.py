"""The runner knobs' edits (guard, overlap, cancel, on_idle, runner_map): filled in by their own change."""

from __future__ import annotations

from turnproof.conform.build.edit import Edit

EDITS: tuple[Edit, ...] = ()
