"""Message trees: the model's final store and the real server's persisted messages, each as the
harness compares them, and their difference. The legacy route compares trees (parent, finish,
tools per message); the V2 route compares seq-ordered rows and the inputs still pending.
"""

from __future__ import annotations

import json

from turnproof.conform.fakellm import MARKER
from turnproof.model.inbox import history
from turnproof.model.store import ASSISTANT
from turnproof.model.world import World

# --- the legacy route: trees ---------------------------------------------------------------


def model_tree(w: World) -> dict[str, dict]:
    out = {}
    for m in w.store.messages:
        node = {"role": m.role}
        if m.role == ASSISTANT:
            node |= {
                "parent": w.store.get(m.parent).label if m.parent is not None else None,
                "finish": m.finish,
                "completed": m.completed,
                "error": m.error,
                "tools": [p.status for p in m.tools],
            }
        out[m.label] = node
    return out


def model_order(w: World) -> list[str]:
    return [m.label for m in w.store.messages]


def real_tree(msgs: list[dict]) -> tuple[dict[str, dict], list[str], dict[str, str]]:
    """The persisted messages as the model's tree: users named by their marker, assistants A1…
    in creation order. Returns (tree, labels in id order, real id -> label)."""
    label: dict[str, str] = {}
    infos = [m["info"] for m in msgs]
    shells: dict[str, str] = {}  # a shell's user message has no marker: its bash part's command does
    for m in msgs:
        for p in m.get("parts", []):
            command = str((p.get("state") or {}).get("input", {}).get("command", "")) if p.get("type") == "tool" else ""
            marks = MARKER.findall(command)
            if marks and m["info"].get("parentID"):
                shells[m["info"]["parentID"]] = marks[0]
    n = 0
    for m in sorted(msgs, key=lambda m: (m["info"].get("time", {}).get("created", 0), m["info"]["id"])):
        info = m["info"]
        if info["role"] == "user":
            text = " ".join(p.get("text", "") for p in m.get("parts", []) if p.get("type") == "text")
            marks = MARKER.findall(text) or [shells.get(info["id"], f"user?{info['id'][-6:]}")]
            label[info["id"]] = marks[0]
        else:
            n += 1
            label[info["id"]] = f"A{n}"
    tree = {}
    for m in msgs:
        info = m["info"]
        node = {"role": info["role"]}
        if info["role"] == "assistant":
            err = info.get("error")
            err_name = None
            if err:
                err_name = "aborted" if err.get("name") == "MessageAbortedError" else err.get("name", "error")
            node |= {
                "parent": label.get(info.get("parentID"), info.get("parentID")),
                "finish": info.get("finish"),
                "completed": bool(info.get("time", {}).get("completed")),
                "error": err_name,
                "tools": [p.get("state", {}).get("status") for p in m.get("parts", []) if p.get("type") == "tool"],
            }
        tree[label[info["id"]]] = node
    order = [label[i["id"]] for i in sorted(infos, key=lambda i: i["id"])]
    return tree, order, label


FIELDS = ("role", "parent", "finish", "completed", "error", "tools")


def show_node(node: dict | None) -> str:
    if node is None:
        return "—"
    if node["role"] == "user":
        return "user"
    s = f"assistant ← {node['parent']} finish={node['finish'] or '-'}"
    if not node["completed"]:
        s += " (not completed)"
    if node["error"]:
        s += f" error={node['error']}"
    if node["tools"]:
        s += f" tools={','.join(node['tools'])}"
    return s


def diff(model: dict, real: dict, morder: list[str], rorder: list[str]) -> list[str]:
    """Side-by-side lines (label, model, real) for every label that differs; [] when equal."""
    labels = list(dict.fromkeys(list(model) + list(real)))
    rows = [
        (lab, show_node(model.get(lab)), show_node(real.get(lab))) for lab in labels if model.get(lab) != real.get(lab)
    ]
    out = []
    if rows:
        w1 = max(len(r[0]) for r in rows)
        w2 = max(max(len(r[1]) for r in rows), len("model"))
        out.append(f"{'':<{w1}}  {'model':<{w2}}  real")
        out += [f"{a:<{w1}}  {b:<{w2}}  {c}" for a, b, c in rows]
    if morder != rorder and not rows:
        out.append(f"id order: model {' '.join(morder)} · real {' '.join(rorder)}")
    return out


def tree_lines(tree: dict, order: list[str]) -> list[str]:
    return [f"{lab}: {show_node(tree[lab])}" for lab in order if lab in tree]


# --- the V2 route: rows in seq order, and pending inputs -----------------------------------


def model_view(w: World) -> tuple[list[str], list[str]]:
    """The final store as the harness compares it: each message in seq order, and pending inputs."""
    rows = []
    for m in history(w):
        if m.role == ASSISTANT:
            tools = f" tools={','.join(p.status for p in m.tools)}" if m.tools else ""
            rows.append(f"assistant finish={m.finish or 'none'}{tools}{' error' if m.error else ''}")
        else:
            rows.append(f"user {m.label}")
    pending = sorted(r.name for r in w.inbox.rows if r.pending)
    return rows, pending


def real_view(msgs: list[dict], events: list[dict]) -> tuple[list[str], list[str]]:
    """The V2 messages (`?order=asc`) as rows like `model_view`'s, and the inputs `/history` admitted
    but never promoted."""
    rows = []
    for m in msgs:
        if m.get("type") == "user":
            marks = MARKER.findall(str(m.get("text", "")))
            rows.append(f"user {marks[-1] if marks else '?'}")
        elif m.get("type") == "assistant":
            tools = [c.get("state", {}).get("status") for c in m.get("content") or [] if c.get("type") == "tool"]
            finish = m.get("finish") or "none"
            err = " error" if m.get("error") else ""
            rows.append(f"assistant finish={finish}{f' tools={chr(44).join(tools)}' if tools else ''}{err}")
    admitted, promoted = {}, set()
    for e in events:
        d = e.get("data") or {}
        if e.get("type") == "session.next.prompt.admitted":
            marks = MARKER.findall(json.dumps(d.get("prompt")))
            admitted[d.get("messageID")] = marks[-1] if marks else "?"
        elif e.get("type") == "session.next.prompted":
            promoted.add(d.get("messageID"))
    return rows, sorted(name for mid, name in admitted.items() if mid not in promoted)
