"""A gated, scripted OpenAI-compatible chat-completions server on 127.0.0.1, for the real opencode.

Every call that offers tools is a turn of the prompt loop: it is logged, held at a gate until the
harness releases it, then answered from the script (the same script as the model's, see
docs/model.md "The environment, scripted"): answer the newest user prompt in the request with a
`bash` tool call while that prompt has had fewer tool round-trips after it than scripted, else
stop. The tool call's command waits for a file the harness creates, so tool runs are gated too.
Calls without tools (titles, summaries) are answered at once.

Prompts are recognised by a marker in their text, `[turnproof:U1]`, which survives opencode's
"The user sent the following message…" wrapping of mid-turn messages.
"""

from __future__ import annotations

import hashlib
import json
import re
import select
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from turnproof.conform import HarnessError

MARKER = re.compile(r"\[turnproof:([A-Za-z0-9_.-]+)\]")
MODEL_ID = "turnproof-fake"


def prompt_text(name: str) -> str:
    """The text a harness sends as prompt `name`; the fake LLM finds the marker in it."""
    return f"[turnproof:{name}] Conformance prompt {name}."


@dataclass
class Call:
    """One chat-completions request the fake LLM received."""

    n: int  # 1-based, in arrival order over all calls
    tooled: bool  # offered tools: a turn of the prompt loop (gated)
    roles: list[str]
    users: list[str]  # per user-role message: its marker(s) or a short digest of its text
    newest: str | None  # the newest prompt (marker) in the request
    rounds: int  # tool round-trips after that prompt in the request
    answer: str  # "tool" or "stop"
    tool: int | None = None  # the tool gate number, for a tool answer
    received: float = field(default_factory=time.monotonic)
    released: float | None = None
    answered: float | None = None
    dropped: bool = False  # opencode closed the request while it was held (an abort)
    gate: threading.Event = field(default_factory=threading.Event, repr=False)

    def summary(self) -> dict:
        return {
            "call": self.n,
            "tooled": self.tooled,
            "roles": self.roles,
            "users": self.users,
            "newest": self.newest,
            "answer": self.answer + (f" (tool {self.tool})" if self.tool else ""),
        }


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _digest(text: str) -> str:
    marks = MARKER.findall(text)
    if marks:
        wrapped = "reminder:" if "The user sent the following message" in text else ""
        return wrapped + "+".join(marks)
    short = " ".join(text.split())[:24]
    return f"{short!r}#{hashlib.sha1(text.encode()).hexdigest()[:6]}"


def analyse(body: dict, tools_for: dict[str, int]) -> tuple[list[str], list[str], str | None, int, str]:
    """Roles, user digests, newest prompt, tool round-trips after it, and the scripted answer."""
    msgs = body.get("messages") or []
    roles = [str(m.get("role")) for m in msgs]
    users, newest, at = [], None, -1
    for i, m in enumerate(msgs):
        if m.get("role") != "user":
            continue
        text = _text(m.get("content"))
        users.append(_digest(text))
        marks = MARKER.findall(text)
        if marks:
            newest, at = marks[-1], i
    rounds = sum(1 for m in msgs[at + 1 :] if m.get("role") == "tool") if newest else 0
    answer = "tool" if newest is not None and rounds < tools_for.get(newest, 0) else "stop"
    return roles, users, newest, rounds, answer


class FakeLLM:
    """The server; `with FakeLLM(gates, tools_for) as llm:` listens on 127.0.0.1:<free port>."""

    def __init__(self, gate_dir: Path, tools_for: dict[str, int] | None = None, gated: bool = True):
        self.gate_dir = Path(gate_dir)
        self.tools_for = dict(tools_for or {})
        self.gated = gated  # False: answer every call at once (smoke runs)
        self.calls: list[Call] = []
        self.cond = threading.Condition()
        self.tools = 0
        self.closed = False
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        self.gate_dir.mkdir(parents=True, exist_ok=True)
        llm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": MODEL_ID, "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._json(400, {"error": {"message": "bad json"}})
                    return
                llm._serve(self, body)

            def _json(self, code: int, doc: dict):
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fakellm", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.closed = True
            for c in self.calls:
                c.gate.set()
            self.cond.notify_all()
        for n in range(1, self.tools + 1):  # let any gated tool command end
            self.release_tool(n)
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self.httpd is not None
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- the harness side ------------------------------------------------------------------

    def held(self) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.tooled and not c.gate.is_set() and not c.dropped]

    def wait_call(self, timeout: float, after: int = 0) -> Call | None:
        """The oldest tooled call numbered above `after` that is held at its gate (None on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for c in self.calls:
                    if c.tooled and c.n > after and not c.gate.is_set() and not c.dropped:
                        return c
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self.cond.wait(left)

    def release(self, call: Call) -> None:
        with self.cond:
            call.released = time.monotonic()
            call.gate.set()
            self.cond.notify_all()

    def wait_answered(self, call: Call, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while call.answered is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def new_gate(self) -> int:
        """A fresh gate number for a command the harness runs itself (a shell route's command)."""
        with self.cond:
            self.tools += 1
            return self.tools

    def tool_started(self, n: int) -> bool:
        return (self.gate_dir / f"started-{n}").exists()

    def release_tool(self, n: int) -> None:
        (self.gate_dir / f"go-{n}").touch()

    def tool_command(self, n: int) -> str:
        """The gated command: touches `started-n`, then waits until `go-n` exists, the gate dir is
        gone, or 10 minutes have passed since it started. It has no `$` or backtick: the 1.15.4
        shell route runs a command as `eval` of its JSON-quoted text in `bash -l`, which expands
        them before the loop runs (a `$i` counter made the gate end at once)."""
        d = shlex.quote(str(self.gate_dir))
        started = f"{d}/started-{n}"
        # `find … -mmin -10` prints the started file while it is younger than 10 minutes, and
        # nothing once the gate dir is gone: the loop's bound, with no variable to expand
        cmd = (
            f"touch {started}; while [ ! -e {d}/go-{n} ] && find {started} -mmin -10 2>/dev/null | grep -q .; "
            f"do sleep 0.05; done; echo turnproof tool {n} done"
        )
        if "$" in cmd or "`" in cmd:
            raise HarnessError(
                f"gate folder {self.gate_dir}: a $ or backtick in its path would be expanded by the shell"
            )
        return cmd

    # --- serving ---------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler, body: dict) -> None:
        tooled = bool(body.get("tools"))
        roles, users, newest, rounds, answer = analyse(body, self.tools_for)
        if not tooled:
            answer = "stop"
        with self.cond:
            call = Call(len(self.calls) + 1, tooled, roles, users, newest, rounds, answer)
            if answer == "tool":
                self.tools += 1
                call.tool = self.tools
            if not tooled or not self.gated:
                call.gate.set()
                call.released = call.received
            self.calls.append(call)
            self.cond.notify_all()
        while not call.gate.wait(0.2):
            if self.closed:
                break
            if _hung_up(h):
                with self.cond:
                    call.dropped = True
                    self.cond.notify_all()
                return
        if self.closed and call.answered is None and call.released is None:
            return
        try:
            if body.get("stream"):
                self._stream(h, body, call)
            else:
                self._whole(h, body, call)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with self.cond:
            call.answered = time.monotonic()
            self.cond.notify_all()

    def _tool_args(self, call: Call) -> str:
        cmd = self.tool_command(call.tool or 0)
        return json.dumps({"command": cmd, "description": f"turnproof gated tool {call.tool}"})

    def _reply_text(self, call: Call) -> str:
        return f"Reply to {call.newest}." if call.tooled else "Turnproof title"

    def _whole(self, h, body: dict, call: Call) -> None:
        msg: dict = {"role": "assistant", "content": None}
        if call.answer == "tool":
            msg["tool_calls"] = [
                {
                    "id": f"call_{call.tool}",
                    "type": "function",
                    "function": {"name": "bash", "arguments": self._tool_args(call)},
                }
            ]
            reason = "tool_calls"
        else:
            msg["content"] = self._reply_text(call)
            reason = "stop"
        doc = {
            "id": f"chatcmpl-{call.n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", MODEL_ID),
            "choices": [{"index": 0, "message": msg, "finish_reason": reason}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        data = json.dumps(doc).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _stream(self, h, body: dict, call: Call) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        for chunk in sse_chunks(
            call, body.get("model", MODEL_ID), self._tool_args(call) if call.tool else "", self._reply_text(call)
        ):
            h.wfile.write(chunk)
            h.wfile.flush()


def sse_chunks(call: Call, model: str, tool_args: str, text: str) -> list[bytes]:
    """The SSE events of one streamed answer, ending with `data: [DONE]`."""

    def event(delta: dict, reason: str | None = None, usage: dict | None = None) -> bytes:
        doc = {
            "id": f"chatcmpl-{call.n}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }
        if usage:
            doc["usage"] = usage
        return b"data: " + json.dumps(doc).encode() + b"\n\n"

    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    out = [event({"role": "assistant", "content": ""})]
    if call.answer == "tool":
        tc = {"index": 0, "id": f"call_{call.tool}", "type": "function", "function": {"name": "bash", "arguments": ""}}
        out.append(event({"tool_calls": [tc]}))
        out.append(event({"tool_calls": [{"index": 0, "function": {"arguments": tool_args}}]}))
        out.append(event({}, "tool_calls", usage))
    else:
        out.append(event({"content": text}))
        out.append(event({}, "stop", usage))
    out.append(b"data: [DONE]\n\n")
    return out


def _hung_up(h: BaseHTTPRequestHandler) -> bool:
    """Has the client closed the connection of a held request (opencode aborted the stream)?"""
    try:
        readable, _, _ = select.select([h.connection], [], [], 0)
        return bool(readable) and h.connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def check_loopback(url: str) -> None:
    if not url.startswith("http://127.0.0.1:"):
        raise HarnessError(f"fake LLM must listen on 127.0.0.1, not {url}")
