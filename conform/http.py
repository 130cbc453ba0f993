"""The one HTTP client both drivers talk to the real server with: JSON calls that raise
HarnessError on any failure, blocking requests sent from a thread, and polling for a condition.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from turnproof.conform import HarnessError

POLL = 0.05  # seconds between looks at the real server


class Http:
    """JSON over HTTP to one server: `call` returns (status, decoded body) or raises HarnessError
    (an HTTP error status included, with the start of its body)."""

    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body=None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw.strip() else None)
        except urllib.error.HTTPError as e:
            detail = " ".join(e.read().decode(errors="replace").split())[:200]
            raise HarnessError(f"{method} {path}: HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
            raise HarnessError(f"{method} {path}: {e}") from None


class Request:
    """A request that blocks (a prompt, shell, abort or interrupt), sent from a thread of its own:
    once it has returned, `result` holds the decoded body or `error` the HarnessError's text."""

    def __init__(self, http: Http, name: str, method: str, path: str, body=None, timeout: float = 30):
        self.result = None
        self.error: str | None = None
        self.thread = threading.Thread(
            target=self._send, args=(http, method, path, body, timeout), name=f"request-{name}", daemon=True
        )
        self.thread.start()

    def _send(self, http: Http, method: str, path: str, body, timeout: float) -> None:
        try:
            self.result = http.call(method, path, body, timeout=timeout)[1]
        except HarnessError as e:
            self.error = str(e)

    @property
    def open(self) -> bool:
        """Has the request not returned yet?"""
        return self.thread.is_alive()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the request to return; did it?"""
        self.thread.join(timeout)
        return not self.open


def poll(pred, timeout: float) -> bool:
    """Look at `pred` until it holds or `timeout` seconds have passed; does it hold?"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(POLL)
    return bool(pred())
