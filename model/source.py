"""Where each modelled step stands in opencode's source at tag v1.15.4 (file:line).

One table, so that a reviewer can hold the model next to the code and a test can check that
every step the model takes names a line here.
"""

from __future__ import annotations

from dataclasses import dataclass

TAG = "v1.15.4"
PKG = "packages/opencode/src/"


@dataclass(frozen=True)
class Ref:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def _r(file: str, line: int, what: str) -> Ref:
    return Ref(PKG + file, line, what)


REFS: dict[str, Ref] = {}


def ref(key: str) -> Ref:
    """The source anchor of a modelled step; a missing key is a bug in the model."""
    return REFS[key]
