"""Write a model world's message store as the JSON `opencode export <sessionID>` prints.

The shape is opencode's (`{info: Session.Info, messages: [{info, parts}]}`, message and part
fields as `session/message-v2.ts` declares them at v1.15.4), so `turnproof audit` — or opencode's
own `import` — reads it like a real session. What the model does not have is made up plainly:

* ids: `msg_` + 12 hex digits of (ms × 0x1000 + counter) + 14 base62 characters, as `id/id.ts`
  mints them. A model id (tick, origin) becomes ms = T0 + 1000 × tick and counter = origin, so the
  ids sort exactly as the model's do (a client id at the same tick sorts just after the server's);
  an id that sorts after every other (`AFTER_ALL`) becomes `msg_zzzzzzzzzzzz…`.
* time: created = the server's clock when the model built the message (`Message.created`: the
  id's ms for a server id, not for a client's); completed = created + 1 ms (completions are not timed).
* no text: a user message's part is a text part `[U1]` (synthetic for noReply and shell messages),
  and every message's first part carries the model label in `metadata.turnproof.label`.
* tool parts: tool `bash`, state as in the model (running, completed, error), empty input.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from turnproof.model.ids import AFTER_ALL, Id
from turnproof.model.store import ASSISTANT, TOOL_CALLS, Message
from turnproof.model.world import World

T0 = 1779111000000  # ms: 2026-05-18, the seed's day
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MODEL = {"providerID": "turnproof", "modelID": "scripted"}
TOKENS = {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}}


def _ms(mid: Id) -> int:
    tick, _ = mid
    return T0 + int(round(tick * 1000))


def _suffix(n: int, tag: str) -> str:
    s = "".join(c for c in tag if c.isalnum())
    digits = ""
    while True:
        digits = B62[n % 62] + digits
        n //= 62
        if not n:
            break
    return (s + "z" * 14)[: 14 - len(digits)] + digits


def message_id(mid: Id, seq: int, label: str) -> str:
    tick, origin = mid
    if tick == AFTER_ALL or (isinstance(tick, float) and math.isinf(tick)):
        return "msg_zzzzzzzzzzzz" + _suffix(seq, label)
    value = (_ms(mid) * 0x1000 + int(origin)) & ((1 << 48) - 1)
    return f"msg_{value:012x}{_suffix(seq, label)}"


def session_id(name: str = "turnproofmodel") -> str:
    """A descending session id (as opencode mints them) whose tail spells `name`, so that exports
    of different counterexamples are different sessions (for `opencode import` too)."""
    value = ~(T0 * 0x1000 + 1) & ((1 << 48) - 1)
    return f"ses_{value:012x}" + _suffix(0, name or "turnproofmodel")


def session_document(world: World, title: str = "turnproof counterexample", name: str = "") -> dict:
    """The export JSON for one world's store, as a dict; `name` goes into the session id."""
    sid = session_id(name)
    msgs = world.store.messages
    ids = {m.id: message_id(m.id, m.seq, m.label) for m in msgs}
    times = {m.id: T0 + int(round(m.created[0] * 1000)) for m in msgs}  # the server's clock, whoever minted the id
    if len(set(ids.values())) != len(ids):
        raise ValueError("two model messages map to one opencode id")
    out = []
    for m in msgs:
        out.append(_user(m, sid, ids, times) if m.role != ASSISTANT else _assistant(m, sid, ids, times))
    created = min(times.values(), default=T0)
    updated = max(times.values(), default=T0) + 1
    info = {
        "id": sid,
        "slug": "turnproof-counterexample",
        "projectID": "global",
        "directory": "/turnproof",
        "title": title,
        "version": "1.15.4",
        "time": {"created": created, "updated": updated},
    }
    return {"info": info, "messages": out}


def export_session(world: World, path: str | Path, title: str = "turnproof counterexample", name: str = "") -> Path:
    """Write the world's store as an opencode export: to `path` if it ends in .json, else into the
    directory `path` as `<sessionID>.json`. Returns the file written."""
    doc = session_document(world, title, name)
    p = Path(path)
    if p.suffix != ".json":
        p.mkdir(parents=True, exist_ok=True)
        p = p / f"{doc['info']['id']}.json"
    else:
        p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return p


def export_findings(res, out: str | Path) -> dict[str, Path]:
    """`turnproof check --export-session`: each violated property's counterexample final store,
    as `out/<property>.json` in opencode's export format. Returns {property: file}."""
    run = f"{res.system.design.name} × {res.system.scenario.name}"
    names = [p.name for p in res.properties if p.name in res.findings]  # in the properties' order
    out = Path(out)
    return {
        name: export_session(res.findings[name].trace.final, out / f"{name}.json", f"turnproof: {run}: {name}", name)
        for name in names
    }


def _part(sid: str, mid: str, n: int, body: dict, label: str = "") -> dict:
    part = {"id": f"prt_{mid[4:16]}{_suffix(n, 'p')}", "sessionID": sid, "messageID": mid, **body}
    if label:
        part["metadata"] = {**part.get("metadata", {}), "turnproof": {"label": label}}
    return part


def _user(m: Message, sid: str, ids: dict, times: dict) -> dict:
    mid = ids[m.id]
    info = {
        "id": mid,
        "sessionID": sid,
        "role": "user",
        "time": {"created": times[m.id]},
        "agent": "build",
        "model": dict(MODEL),
    }
    text = {"type": "text", "text": f"[{m.label}]"}
    if m.no_reply or m.synthetic:
        text["synthetic"] = True
    return {"info": info, "parts": [_part(sid, mid, 0, text, m.label)]}


def _assistant(m: Message, sid: str, ids: dict, times: dict) -> dict:
    mid = ids[m.id]
    t = times[m.id]
    time = {"created": t}
    if m.completed:
        time["completed"] = t + 1
    info = {
        "id": mid,
        "sessionID": sid,
        "role": "assistant",
        "time": time,
        "parentID": ids.get(m.parent, "msg_missing"),
        "modelID": MODEL["modelID"],
        "providerID": MODEL["providerID"],
        "mode": "build",
        "agent": "build",
        "path": {"cwd": "/turnproof", "root": "/turnproof"},
        "cost": 0,
        "tokens": json.loads(json.dumps(TOKENS)),
    }
    if m.finish is not None:
        info["finish"] = m.finish
    if m.error:  # an interrupted assistant, or a provider's error (model/fibers.py)
        name = "APIError" if m.error == "provider" else "MessageAbortedError"
        info["error"] = {"name": name, "data": {"message": m.error}}
    parts = [_part(sid, mid, 0, {"type": "step-start"}, m.label)]
    for i, tool in enumerate(m.tools, 1):
        rejected = tool.status == "rejected"  # the model's name for an error by RejectedError
        state: dict = {"status": "error" if rejected else tool.status, "input": {}}
        if rejected:
            state.update(error="The user dismissed this question", time={"start": t, "end": t + 1})
        elif tool.status == "running":
            state["time"] = {"start": t}
        elif tool.status == "completed":
            state.update(output="", title="bash", metadata={}, time={"start": t, "end": t + 1})
        elif tool.status == "error":
            state.update(error="Tool execution aborted", time={"start": t, "end": t + 1})
        elif tool.status == "pending":
            state["raw"] = ""
        parts.append(
            _part(
                sid, mid, i, {"type": "tool", "callID": f"call_{m.label}_{tool.call}", "tool": "bash", "state": state}
            )
        )
    if m.finish is not None:
        if m.finish != TOOL_CALLS:
            parts.append(_part(sid, mid, len(parts), {"type": "text", "text": f"[{m.label}]"}))
        parts.append(
            _part(
                sid,
                mid,
                len(parts),
                {"type": "step-finish", "reason": m.finish, "cost": 0, "tokens": json.loads(json.dumps(TOKENS))},
            )
        )
    return {"info": info, "parts": parts}
