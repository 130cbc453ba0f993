"""Conformance reports, as text and as JSON: per run what the real server did, and per case the
model's side beside the real one. The legacy route's `ConformReport` compares message trees;
the V2 route's `InboxReport` compares seq-ordered rows and pending inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from turnproof.conform import Agreement
from turnproof.conform.schedule import UNCONTROLLED_V2
from turnproof.conform.target import Target
from turnproof.conform.tree import tree_lines


def side_by_side(left: list[str], right: list[str], title: str, what: str) -> list[str]:
    """The model's lines beside the real server's (first run), under `title` and what ran
    (`opencode 1.15.4`, or a patched build's label)."""
    width = max([len(title) + 2] + [len(x) + 2 for x in left])
    out = [f"  {title.ljust(width)}| real {what} (run 1)"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        out.append(f"  {a.ljust(width)}| {b}")
    return out


# --- the legacy route ----------------------------------------------------------------------


@dataclass
class Run:
    """One drive of the real server through the schedule."""

    n: int
    conforms: bool = False
    tree: dict = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    late: list[str] = field(default_factory=list)  # server ids minted after their paced window
    unheld: list[str] = field(default_factory=list)  # what the harness meant to hold but did not

    def to_json(self) -> dict:
        return {
            "run": self.n,
            "conforms": self.conforms,
            "messages": [{"label": lab} | self.tree[lab] for lab in self.order if lab in self.tree],
            "diff": self.diff,
            "deviations": self.deviations,
            "steps": self.steps,
            "model_calls": self.calls,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class ConformReport(Agreement):
    design: str
    scenario: str
    version: str
    schedule: str
    origin: str  # where the schedule came from
    completion: str  # what the model adds to bring it to rest
    model_violations: list[str]
    model_tree: dict
    model_order: list[str]
    runs: list[Run]
    uncontrolled: list[str]
    not_driveable: str | None = None  # why the real server cannot be held to the schedule
    note: str = ""  # e.g. a design driven against another release than the one it describes
    discarded: list[str] = field(default_factory=list)  # drives redone: a paced clock or shell gate did not hold
    target: Target | None = None  # the executable driven, when not the release fetched by version

    def what(self) -> str:
        """What ran: `opencode 1.15.4`, or `opencode 1.15.4 patched with D (knobs ...)`."""
        return self.target.label() if self.target else f"opencode {self.version}"

    def to_json(self) -> dict:
        return {
            "design": self.design,
            "scenario": self.scenario,
            "opencode": self.version,
            "schedule": self.schedule,
            "schedule_origin": self.origin,
            "completion": self.completion,
            "verdict": "conforms" if self.conforms else "disagrees",
            "driveable": self.not_driveable is None,
            **({"not_driveable": self.not_driveable} if self.not_driveable else {}),
            "agreement": {"runs": len(self.runs), "conform": self.agree},
            "model": {
                "violations": self.model_violations,
                "messages": [{"label": lab} | self.model_tree[lab] for lab in self.model_order],
            },
            "uncontrolled": self.uncontrolled,
            **({"note": self.note} if self.note else {}),
            **({"discarded": self.discarded} if self.discarded else {}),
            "runs": [r.to_json() for r in self.runs],
            **({"opencode_binary": self.target.to_json()} if self.target else {}),
        }

    def text(self) -> str:
        full = ",".join(x for x in (self.schedule, self.completion) if x)
        lines = [f"design {self.design} × scenario {self.scenario} against the real {self.what()}"]
        if self.target:
            t = self.target
            lines.append(f"  ran: {t.path} (--version {t.version}, sha256 {t.sha256[:16]}…)")
        lines.append(f"schedule: {self.schedule or '(empty)'} ({self.origin})")
        if self.completion:
            to = "to the bound" if any(v.startswith("runs away") for v in self.model_violations) else "to rest"
            lines.append(f"  completed {to} by the model with {self.completion}: {full}")
        if self.not_driveable:
            lines.append(f"  ⚠ not driveable as written: {self.not_driveable}")
        if self.note:
            lines.append(f"  note: {self.note}")
        if self.model_violations:
            lines.append("model: violated")
            lines += [f"  ✗ {v}" for v in self.model_violations]
        else:
            lines.append("model: clean (no property violated)")
        right = tree_lines(self.runs[0].tree, self.runs[0].order) if self.runs else []
        lines += side_by_side(tree_lines(self.model_tree, self.model_order), right, "model", self.what())
        for r in self.runs:
            if r.conforms:
                lines.append(f"run {r.n}: conforms ({r.seconds:.1f}s)")
            else:
                lines.append(f"run {r.n}: DIFFERS ({r.seconds:.1f}s)")
                lines += [f"  {x}" for x in r.diff]
                lines.append("  real message tree:")
                lines += [f"    {x}" for x in tree_lines(r.tree, r.order)]
            lines += [f"  note: {d}" for d in r.deviations]
        verdict = "real and model agree" if self.conforms else "real and model DISAGREE"
        if self.not_driveable and not self.conforms:
            verdict += " (the schedule could not be held on the real server, see above)"
        lines.append(f"agreement: {self.agree}/{len(self.runs)} runs conform — {verdict}")
        if self.discarded:
            lines.append("drives discarded and redone, a paced clock or shell gate not held (not counted):")
            lines += [f"  - {d}" for d in self.discarded]
        if self.uncontrolled:
            lines.append("not controllable on the real server (waited for, not held):")
            lines += [f"  - {u}" for u in self.uncontrolled]
        return "\n".join(lines)


# --- the V2 route --------------------------------------------------------------------------


@dataclass
class InboxRun:
    """One drive of the V2 route through the schedule: the rows and pending inputs it left."""

    n: int
    rows: list[str]
    pending: list[str]
    seconds: float
    diff: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0  # model calls whose prompts were compared with the model's request
    late: list[str] = field(default_factory=list)  # never set: the V2 route mints its own ids
    unheld: list[str] = field(default_factory=list)  # never set: the V2 route drives no clock or shell

    @property
    def conforms(self) -> bool:
        return not self.diff

    def to_json(self) -> dict:
        return {
            "run": self.n,
            "conforms": self.conforms,
            "seconds": round(self.seconds, 2),
            "messages": self.rows,
            "pending": self.pending,
            "requests_compared": self.requests,
            "diff": self.diff,
            "notes": self.notes,
        }


@dataclass
class InboxReport(Agreement):
    design: str
    scenario: str
    version: str
    schedule: str
    origin: str
    completion: str
    model_violations: list[str]
    model_rows: list[str]
    model_pending: list[str]
    runs: list[InboxRun]
    discarded: list[str] = field(default_factory=list)  # never filled: no V2 drive is redone (InboxRun.unheld)

    def to_json(self) -> dict:
        return {
            "design": self.design,
            "scenario": self.scenario,
            "opencode": self.version,
            "engine": "inbox",
            "schedule": self.schedule,
            "schedule_origin": self.origin,
            "completion": self.completion,
            "verdict": "conforms" if self.conforms else "disagrees",
            "agreement": {"runs": len(self.runs), "conform": self.agree},
            "model": {"violations": self.model_violations, "messages": self.model_rows, "pending": self.model_pending},
            "uncontrolled": list(UNCONTROLLED_V2.values()),
            "runs": [r.to_json() for r in self.runs],
        }

    def text(self) -> str:
        full = ",".join(x for x in (self.schedule, self.completion) if x)
        lines = [
            f"design {self.design} × scenario {self.scenario} against the real opencode {self.version} (V2 route)",
            f"schedule: {self.schedule} ({self.origin})",
        ]
        if self.completion:
            lines.append(f"  completed to rest by the model with {self.completion}: {full}")
        lines.append("model: violated" if self.model_violations else "model: clean (no property violated)")
        lines += [f"  ✗ {v}" for v in self.model_violations]
        right = self.runs[0].rows if self.runs else []
        lines += side_by_side(self.model_rows, right, "model (seq order)", f"opencode {self.version}")
        real_pending = self.runs[0].pending if self.runs else []
        lines.append(
            f"  pending in session_input: model {self.model_pending or 'none'} | real {real_pending or 'none'}"
        )
        for r in self.runs:
            said = f"{r.requests} model request(s) compared"
            lines.append(f"run {r.n}: {'conforms' if r.conforms else 'DIFFERS'} ({r.seconds:.1f}s; {said})")
            lines += [f"  {d}" for d in r.diff] + [f"  note: {x}" for x in r.notes]
        verdict = "real and model agree" if self.conforms else "real and model DISAGREE"
        lines.append(f"agreement: {self.agree}/{len(self.runs)} runs conform — {verdict}")
        lines.append("not controllable on the real server (waited for, not held):")
        lines += [f"  - {u}" for u in UNCONTROLLED_V2.values()]
        return "\n".join(lines)
