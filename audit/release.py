"""The prompt loop's exit test of the release that wrote a session: what an id/creation order
disagreement can mislead. Read from the session's `version` field, or given with `audit --release`.

* up to 1.18.14: `lastUser.id < lastAssistant.id`, by id (v1.15.4 `session/prompt.ts:1672`);
* from 1.18.15 (#40990): `lastAssistant.parentID === lastUser.id`, with `MessageV2.latest` ordering
  by `time.created`, ties by id (bundle: `SessionPrompt.run`, log "exiting loop"; docs/newest.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARENT_EXIT = (1, 18, 15)  # the first release with #40990's parent exit


@dataclass(frozen=True)
class ExitTest:
    release: str  # the version it was chosen for ("": none known, v1.15.4's is assumed)
    by_id: bool  # the test compares ids, so an order disagreement can mislead it
    text: str  # the test and where it stands, to cite

    def misread(self) -> str:
        """Why the test is not misled by an id/creation disagreement ("" when it can be)."""
        if self.by_id:
            return ""
        return (
            f"no: opencode {self.release} orders by time.created and exits when the last assistant's parentID is "
            "the last user (#40990): the id order does not enter its exit test"
        )


def parse(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of an opencode version like 1.18.34 (a pre-release tail ignored), or None."""
    m = re.fullmatch(r"v?(\d{1,4})\.(\d{1,4})\.(\d{1,6})(?:[-+][0-9A-Za-z.-]*)?", version.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def exit_test(version: str) -> ExitTest:
    v = parse(version or "")
    if v is not None and v >= PARENT_EXIT:
        return ExitTest(
            version,
            False,
            f"lastAssistant.parentID === lastUser.id, SessionPrompt.run of opencode {version} (#40990, since 1.18.15)",
        )
    if v == (1, 15, 4):
        return ExitTest(version, True, "lastUser.id < lastAssistant.id, prompt.ts:1672")
    which = f"opencode {version}" if v else "no release known: v1.15.4's"
    return ExitTest(
        version if v else "",
        True,
        f"lastUser.id < lastAssistant.id, by id until 1.18.15 ({which}; prompt.ts:1672 in v1.15.4)",
    )
