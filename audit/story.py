"""An audit told as a story: short labels, what probably happened, what to do next, and a picture
with each finding in its own colour.

Labels: U1, U2 … and A1, A2 … in id order (the order opencode reads a session back), or the
model's own labels when the session was exported from a model counterexample; the real ids are
in a legend. Likely causes are read from the evidence alone:

* **two loops at once**: a reply created while another reply was still being written. One prompt
  loop writes its next assistant only after the last one's stream ended (`prompt.ts` runLoop), so
  interleaved replies mean two loops ran on the session (the model's `two-instances` scenario).
* **a client clock ahead**: a user message whose id reads a clock ahead of its time.created: the
  client minted the id (`messageID`) on its own clock; the loop's exit test compares ids
  (prompt.ts:1672), so the model's `client-clock-ahead` scenario.
* **a prompt during a tool round-trip**: the continuation after a tool round-trip parented to a
  user created between the round-trip and the continuation: the loop re-resolved lastUser (`tool-race`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from turnproof.audit.records import Msg, Session, id_time

SKEW_MS = 50  # as audit/check.py: a user id this far ahead of its time.created was minted elsewhere
MAX_DRAWN = 80  # messages in a picture; larger sessions are drawn around their violations
PALETTE = ("#dc2626", "#2563eb", "#d97706", "#7c3aed", "#059669", "#db2777", "#0891b2", "#65a30d")
UPSTREAM = "opencode issue #28202 (duplicate stop replies, a tool branch left unanswered)"


def labels(s: Session) -> dict[str, str]:
    """{message id: short label}: the model's labels when every message has a distinct one, else
    U1, U2 … and A1, A2 … in id order."""
    msgs = s.ordered()
    own = [m.label for m in msgs]
    if msgs and all(own) and len(set(own)) == len(own):
        return {m.id: m.label for m in msgs}
    seen = {"user": 0, "assistant": 0}
    out = {}
    for m in msgs:
        seen[m.role] = seen.get(m.role, 0) + 1
        out[m.id] = ("U" if m.role == "user" else "A") + str(seen[m.role])
    return out


class Relabel:
    """Replaces every message id in a text by its short label (with a model label after it, once)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        ids = sorted(names, key=len, reverse=True)
        alt = "|".join(re.escape(i) for i in ids) or r"(?!x)x"
        self.pattern = re.compile(rf"(?<![A-Za-z0-9_])({alt})(?![A-Za-z0-9_])(?: \[[A-Za-z0-9_]{{1,16}}\])?")
        self.used: list[str] = []

    def __call__(self, text: str) -> str:
        return self.pattern.sub(self._one, text)

    def _one(self, m: re.Match) -> str:
        mid = m.group(1)
        if mid not in self.used:
            self.used.append(mid)
        return self.names[mid]

    def legend(self, width: int = 3) -> list[str]:
        """The labels used so far with their real ids, `width` to a line, in label order."""
        used = sorted(self.used, key=lambda i: list(self.names).index(i))
        pairs = [f"{self.names[i]} = {i}" for i in used]
        lines = [", ".join(pairs[k : k + width]) for k in range(0, len(pairs), width)]
        return [line + ("," if i < len(lines) - 1 else "") for i, line in enumerate(lines)]


@dataclass(frozen=True)
class Cause:
    """A likely cause read from the evidence, and where the model shows it."""

    key: str  # "two-loops", "client-clock", "prompt-during-tool"
    says: str
    scenario: str
    shape: str = ""  # the seed shape to ask for, when the findings show one


def causes(a, names: dict[str, str]) -> list[Cause]:
    """What probably happened in a session with findings, from its messages' times and ids."""
    if not a.violations:
        return []
    s = a.session
    kinds = {v.kind for v in a.violations}
    shape = _shape(a)
    out = []
    pair = _interleaved(s)
    if pair:
        first, then = pair
        out.append(
            Cause(
                "two-loops",
                f"two loops ran at once: {names[then.id]} was created at {_clock(then.created)} while "
                f"{names[first.id]} was still being written ({_clock(first.created)} to {_clock(first.completed)}); "
                "one prompt loop writes its next reply only after the last one ended",
                "two-instances",
                shape,
            )
        )
    ahead = _ahead(s)
    if ahead:
        u, ms = ahead
        out.append(
            Cause(
                "client-clock",
                f"a client clock ahead: {names[u.id]}'s id reads {ms} ms ahead of its time.created, so the client "
                "minted it on its own clock; the loop's exit test (lastUser.id < lastAssistant.id, prompt.ts:1672) "
                "does not end the turn on a reply whose id sorts below it, so the loop goes round",
                "client-clock-ahead",
                shape,
            )
        )
    tool = _during_tool(a, names)
    if tool and kinds & {"turn-binding", "tool-followup", "unanswered"}:
        out.append(Cause("prompt-during-tool", tool, "tool-race"))  # (one loop: the seed shapes need two)
    return out


def next_steps(found: list[Cause]) -> list[str]:
    """What to do next: per cause the matching scenario and the command for its smallest trace, then
    the upstream report."""
    if not found:
        return []
    out = []
    for c in found:
        ask = f" --shape {c.shape}" if c.shape else ""
        out.append(
            f"see it in the model: scenario {c.scenario}; the smallest trace: "
            f"./run.sh check --design v1.15.4 --scenario {c.scenario}{ask} --minimize"
        )
    out.append(f"report it upstream: {UPSTREAM}, with audit.json and that trace")
    return out


def _shape(a) -> str:
    """The seed shape the findings show: four terminal siblings, or the U2 pair."""
    kinds = {v.kind for v in a.violations}
    siblings = [v for v in a.violations if v.kind == "terminal-siblings"]
    if any(len(v.nodes) >= 5 for v in siblings):  # the user and four assistants
        return "four-siblings"
    if siblings and "turn-binding" in kinds:
        return "u2-pair"
    return ""


def _interleaved(s: Session) -> tuple[Msg, Msg] | None:
    """The first pair of replies whose lifetimes overlap: `then` created while `first` was open."""
    replies = sorted(
        (m for m in s.messages.values() if m.role == "assistant" and m.created is not None and m.completed is not None),
        key=lambda m: (m.created, m.id),
    )
    for i, first in enumerate(replies):
        for then in replies[i + 1 :]:
            if then.created >= first.completed:
                break
            return first, then
    return None


def _ahead(s: Session) -> tuple[Msg, int] | None:
    """The user message whose id reads furthest ahead of its time.created (at least SKEW_MS)."""
    best = None
    for u in s.messages.values():
        t = id_time(u.id)
        if u.role != "user" or t is None or u.created is None:
            continue
        d = (t - u.created % (1 << 36) + (1 << 35)) % (1 << 36) - (1 << 35)
        if d >= SKEW_MS and (best is None or d > best[1]):
            best = (u, d)
    return best


def _during_tool(a, names: dict[str, str]) -> str:
    """A turn-binding finding whose newer user was created during the tool round-trip: after the
    tool-calls assistant, before the continuation the loop wrote at its next read."""
    s = a.session
    for v in a.violations:
        if v.kind != "turn-binding":
            continue
        rebound, tool, _, newer = (s.messages.get(n) for n in v.nodes)
        if None in (rebound, tool, newer) or None in (tool.created, newer.created, rebound.created):
            continue
        if tool.created <= newer.created <= rebound.created:
            return (
                f"a prompt during a tool round-trip: {names[newer.id]} was created at {_clock(newer.created)}, "
                f"after {names[tool.id]} ({tool.finish}, created {_clock(tool.created)}) and before its "
                f"continuation {names[rebound.id]} ({_clock(rebound.created)}); the loop re-resolved lastUser at "
                f"its next read and wrote {names[rebound.id]} under {names[newer.id]}"
            )
    return ""


def _clock(ms: int | None) -> str:
    if ms is None:
        return "—"
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    except (OverflowError, OSError, ValueError):
        return str(ms)


# --------------------------------------------------------------------------------------------
# the picture: each finding its own colour, a legend of findings and labels


def colours(a) -> dict[int, str]:
    """{finding number (1-based): its colour}."""
    return {i: PALETTE[(i - 1) % len(PALETTE)] for i in range(1, len(a.violations) + 1)}


def tree(a, names: dict[str, str]):
    """The message tree as a networkx graph: users in a row, assistants under their parentID, each
    node its short label; a large session is drawn around its findings ((graph, what was cut))."""
    import networkx as nx

    s = a.session
    hot = {n for v in a.violations for n in v.nodes}
    msgs = s.ordered()
    cut = ""
    if len(msgs) > MAX_DRAWN:
        keep_users = {n for n in hot if n in s.messages and s.messages[n].role == "user"}
        keep_users |= {s.messages[n].parent for n in hot if n in s.messages and s.messages[n].role == "assistant"}
        if not keep_users:
            keep_users = {m.id for m in msgs if m.role == "user"}
            keep_users = set(sorted(keep_users)[-10:])
        msgs = [m for m in msgs if m.id in keep_users or (m.role == "assistant" and m.parent in keep_users)]
        msgs = msgs[: MAX_DRAWN * 2]
        cut = f"{len(msgs)} of {len(s.messages)} messages: the users involved and their replies"
    g = nx.DiGraph(name="message tree")
    node = {m.id: f"m{i}" for i, m in enumerate(msgs)}
    for m in msgs:
        if m.role == "user":
            note = "\\n(synthetic)" if m.synthetic else "\\n(compaction)" if m.compaction else ""
            kind, text = "user", f"{names[m.id]} · user{note}\\ncreated {_clock(m.created)}"
        else:
            if m.error:
                kind = "aborted"
            elif m.finish == "tool-calls" or (m.finish and m.loop_tools):
                kind = "tool-calls"
            elif m.finish:
                kind = "stop"
            else:
                kind = "open"
            tools = "".join(f"\\ntool {t.name}: {t.status}" for t in m.tools[:4])
            err = f"\\nerror: {m.error}" if m.error else ""
            text = (
                f"{names[m.id]} · assistant\\nfinish: {m.finish or '—'}{tools}{err}"
                f"\\ncreated {_clock(m.created)}\\ncompleted {_clock(m.completed)}"
            )
        g.add_node(node[m.id], label=text, kind=kind, role=m.role, hot=m.id in hot, mid=m.id)
    for m in msgs:
        if m.role == "assistant" and m.parent in node:
            g.add_edge(node[m.parent], node[m.id], label="parentID")
    return g, cut


def picture(a, title: str):
    """The session's message tree drawn with graphviz: short labels, each finding's messages
    outlined in its colour (a message in several: the first's, all numbered), and a legend naming
    the findings and the real ids. Returns (graph, what was cut)."""
    import graphviz
    from turnproof.explore.views.graphs import FILL

    names = labels(a.session)
    g, cut = tree(a, names)
    paint = colours(a)
    member: dict[str, list[int]] = {}
    for i, v in enumerate(a.violations, 1):
        for n in v.nodes:
            member.setdefault(n, []).append(i)
    title += f" ({cut})" if cut else ""
    d = graphviz.Digraph(
        "message_tree", graph_attr={"rankdir": "TB", "label": title, "labelloc": "t", "fontname": "Helvetica"}
    )
    d.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="11")
    row = graphviz.Digraph()
    row.attr(rank="same")
    users, drawn = [], []
    for n, x in g.nodes(data=True):
        mid = x["mid"]
        drawn.append(mid)
        marks = member.get(mid, [])
        style = {"color": paint[marks[0]], "penwidth": "3"} if marks else {}
        text = x["label"] + ("\\nfinding " + ", ".join(map(str, marks)) if marks else "")
        if x["role"] == "user":
            users.append(n)
        (row if x["role"] == "user" else d).node(n, text, fillcolor=FILL[x["kind"]], tooltip=mid, **style)
    d.subgraph(row)
    for a_, b in zip(users, users[1:], strict=False):
        d.edge(a_, b, style="invis")
    for a_, b, x in g.edges(data=True):
        d.edge(a_, b, label=x.get("label", ""), fontsize="9")
    rows = [
        f'<tr><td bgcolor="{paint[i]}" width="18"> </td><td align="left">finding {i}: {html.escape(v.kind)}</td></tr>'
        for i, v in enumerate(a.violations, 1)
    ]
    order = list(names)
    rows += [
        f'<tr><td>{html.escape(names[mid])}</td><td align="left">{html.escape(mid)}</td></tr>'
        for mid in sorted(drawn, key=order.index)
    ]
    legend = '<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">' + "".join(rows) + "</table>>"
    d.node("legend", legend, shape="plaintext", style="", fontsize="10")
    return d, cut
