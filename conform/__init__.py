"""Conformance: drive the real opencode server through the model's schedules and compare trees.

`conform.server` fetches and runs the published `opencode-linux-x64` binary in isolation,
`conform.fakellm` is the gated OpenAI-compatible model it talks to, `conform.clock` paces
client-minted ids. A case: `conform.schedule` is the model side (what can be driven, the schedule
completed to rest, what the model violates), `conform.drive` maps it to real requests on the
legacy route and `conform.inbox` on the V2 route, both through the one client of `conform.http`;
`conform.tree` holds the message trees and their diff, `conform.report` the reports, and
`conform.harness` runs a case end to end. `conform.suite` drives every built-in scenario.
`conform.target` names what ran (a release, a patched build, any `--opencode-binary`),
`conform.build` builds a design into opencode (docs/fixes.md), `conform.fixes` drives the fix designs.

May import: `turnproof.model`, `turnproof.specs`, `turnproof.explore.search` and `.views`; never the CLI.
"""

from __future__ import annotations


class HarnessError(Exception):
    """The harness could not do its job (bad input, server or fake LLM failure): one line, exit 2."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class Agreement:
    """A report over runs of one schedule: it conforms when there was a run and every run did."""

    runs: list  # each with a `conforms` flag

    @property
    def agree(self) -> int:
        return sum(1 for r in self.runs if r.conforms)

    @property
    def conforms(self) -> bool:
        return bool(self.runs) and self.agree == len(self.runs)

    @property
    def exit_code(self) -> int:
        """0 when real and model agree in every run, 1 when not (harness errors are HarnessError's 2)."""
        return 0 if self.conforms else 1


class NotJudged(HarnessError):
    """A run whose paced clock or shell gate did not hold in any of its drives: no verdict (exit 2)."""


class RegistryUnavailable(HarnessError):
    """The npm registry (or npm itself) cannot be reached: conformance was not checked."""


def conform(*args, **kwargs):
    """See `conform.harness.conform` (imported lazily to keep `import conform` light)."""
    from turnproof.conform.harness import conform as run

    return run(*args, **kwargs)


__all__ = ["Agreement", "HarnessError", "NotJudged", "RegistryUnavailable", "conform"]
