"""How long `turnproof audit` takes on large tool-heavy sessions (issue 24: linear in the session).

Writes opencode exports of N messages (turns of a user, assistants ending in tool calls, and a
final answer, each tool part completed: a clean session) and times the audit of each, reading
included, drawing left out (the picture of a large session is cut to its violations). Prints a
Markdown table and writes it to bench/AUDIT.md.

    .venv/bin/python bench/audit.py [N …]      (default: 5000 21000 100000)
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from turnproof.audit import audit_paths

TOOLS_PER_TURN = 5  # assistants ending in tool calls before the answer: 7 messages a turn
START_MS = 1_779_111_000_000


def message_id(n: int) -> str:
    """An ascending opencode id: 12 hex digits of ms × 4096 plus a counter, then 14 characters."""
    return f"msg_{(START_MS * 4096 + n) % (1 << 48):012x}{n:014d}"


def session(n: int, sid: str = "ses_benchaudit000000000000") -> dict:
    """A clean export of about `n` messages: every user answered, every tool round-trip followed."""
    messages: list[dict] = []
    k = 0

    def add(info: dict, parts: list[dict]) -> None:
        messages.append({"info": info, "parts": parts})

    while len(messages) < n:
        uid = message_id(k)
        add({"id": uid, "sessionID": sid, "role": "user", "time": {"created": START_MS + k}}, [])
        k += 1
        for t in range(TOOLS_PER_TURN + 1):
            mid = message_id(k)
            finish = "tool-calls" if t < TOOLS_PER_TURN else "stop"
            parts = []
            if finish == "tool-calls":
                tool = {"status": "completed", "input": {}, "output": "", "time": {"start": 0, "end": 1}}
                parts.append({"id": f"prt_{k}", "sessionID": sid, "messageID": mid, "type": "tool", "state": tool})
            add(
                {
                    "id": mid,
                    "sessionID": sid,
                    "role": "assistant",
                    "parentID": uid,
                    "time": {"created": START_MS + k, "completed": START_MS + k},
                    "finish": finish,
                },
                parts,
            )
            k += 1
    return {"info": {"id": sid, "version": "1.15.4"}, "messages": messages}  # (whole turns: n rounded up)


def timed(n: int, folder: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of `audit_paths` on a fresh export of about n messages, and its verdict."""
    path = folder / f"session-{n}.json"
    path.write_text(json.dumps(session(n)), encoding="utf-8")
    started, cpu = time.perf_counter(), time.process_time()
    report = audit_paths([path])
    return time.perf_counter() - started, time.process_time() - cpu, report.verdict


def main(sizes: list[int]) -> None:
    lines = [
        "# turnproof audit: time on large tool-heavy sessions",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores (the machine is shared: compare per-message times, not runs).",
        "Reading and judging one export (no drawing); a clean session, 7 messages a turn (5 tool round-trips).",
        "",
        "| messages (rounded up to whole turns) | seconds | CPU seconds | µs per message | verdict |",
        "|---:|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            seconds, cpu, verdict = timed(n, Path(tmp))
            lines.append(f"| {n:,} | {seconds:.2f} | {cpu:.2f} | {seconds / n * 1e6:.0f} | {verdict} |")
            print(lines[-1], flush=True)
    Path(__file__).with_name("AUDIT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5000, 21000, 100000])
