"""The real opencode server: fetched from the npm registry, run isolated on 127.0.0.1, always stopped.

`fetch_binary(version)` runs `npm pack opencode-linux-x64@<version>` into the cache directory
(`$TURNPROOF_CACHE/opencode/<version>/`, default `~/.cache/turnproof/opencode/<version>/`) and
extracts `package/bin/opencode`; a cached binary is reused. `OpencodeServer` starts
`opencode serve` in its own process group with HOME and XDG dirs in a temp dir, scratch
project directories (the server's cwd, and more for scenarios with several directory contexts)
whose opencode.json points the only provider at the fake LLM, and everything that could phone
home switched off; it stops the whole group on exit, error, Ctrl-C or interpreter
exit.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from turnproof.conform import HarnessError, RegistryUnavailable

DEFAULT_VERSION = "1.15.4"
PACKAGE = "opencode-linux-x64"
PROVIDER = "turnproof"
MODEL = "turnproof-fake"

# Switches that keep the server from reaching anything but the fake LLM on loopback.
QUIET_ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",
    "OPENCODE_DISABLE_AUTOCOMPACT": "1",
    "OPENCODE_DISABLE_PRUNE": "1",
    "OPENCODE_EXPERIMENTAL_DISABLE_FILEWATCHER": "1",
    "OPENCODE_PURE": "1",
}


# A stand-in for ripgrep (only used when no real `rg` is installed): lists files for `--files`,
# finds nothing otherwise. The conformance runs never search files; it only keeps opencode from
# fetching ripgrep from github.com.
RG_STUB = """#!/bin/sh
for a in "$@"; do
  if [ "$a" = "--version" ]; then echo "ripgrep 15.1.0 (turnproof stand-in)"; exit 0; fi
  if [ "$a" = "--files" ]; then find . -type f -not -path './.git/*' | sed 's|^\\./||'; exit 0; fi
done
exit 1
"""


def cache_root() -> Path:
    env = os.environ.get("TURNPROOF_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "turnproof"


def binary_path(version: str = DEFAULT_VERSION) -> Path:
    return cache_root() / "opencode" / version / "opencode"


def fetch_binary(version: str = DEFAULT_VERSION, timeout: float = 300) -> Path:
    """The cached `opencode` binary of `version`, fetched with `npm pack` if not there yet."""
    return fetch_npm(PACKAGE, version, "package/bin/opencode", binary_path(version), timeout)


def fetch_npm(package: str, version: str, member: str, target: Path, timeout: float = 300) -> Path:
    """`target`: the file `member` of the npm package `package@version`, fetched with `npm pack`
    and made executable, unless it is there already (opencode's binary, the Bun that runs a build)."""
    if not version or any(c not in "0123456789.abcdefghijklmnopqrstuvwxyz-" for c in version.lower()):
        raise HarnessError(f"--opencode-version: {version!r} is not a version")
    if target.is_file() and os.access(target, os.X_OK):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RegistryUnavailable(f"npm is not installed: cannot fetch {package} from the npm registry")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="turnproof-npm-", dir=target.parent) as tmp:
        try:
            p = subprocess.run(
                [npm, "pack", f"{package}@{version}", "--pack-destination", tmp, "--loglevel=error"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise RegistryUnavailable(f"npm pack {package}@{version} timed out after {timeout:.0f}s") from None
        if p.returncode != 0:
            err = " ".join((p.stderr or p.stdout).split())[-300:] or f"exit code {p.returncode}"
            if "E404" in err or "No matching version" in err or "ETARGET" in err:
                raise HarnessError(f"npm registry has no {package}@{version}: {err}")
            raise RegistryUnavailable(f"npm pack {package}@{version} failed: {err}")
        tgz = next(Path(tmp).glob("*.tgz"), None)
        if tgz is None:
            raise HarnessError(f"npm pack {package}@{version} wrote no tarball")
        try:
            with tarfile.open(tgz) as tar:
                src = tar.extractfile(tar.getmember(member))
                if src is None:
                    raise KeyError(member)
                part = target.with_suffix(".part")
                with src, open(part, "wb") as out:
                    shutil.copyfileobj(src, out)
        except (KeyError, tarfile.TarError) as e:
            raise HarnessError(f"{tgz.name}: no {member} in the tarball ({e})") from None
        part.chmod(0o755)
        part.replace(target)
    return target


def _prefill_config_dir(d: Path, version: str) -> None:
    """opencode installs `@opencode-ai/plugin` into its config dir from the npm registry unless
    that dir already has node_modules and a lock naming every dependency (Npm.install's
    checkNodeModules / checkDirty). Nothing here loads plugins (--pure), so an empty install that
    satisfies the check keeps the server off the network."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "node_modules").mkdir(exist_ok=True)
    deps = {"@opencode-ai/plugin": version}
    (d / "package.json").write_text(json.dumps({"dependencies": deps}, indent=2) + "\n", encoding="utf-8")
    lock = {"name": "opencode", "lockfileVersion": 3, "requires": True, "packages": {"": {"dependencies": deps}}}
    (d / "package-lock.json").write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def project_config(llm_base_url: str) -> dict:
    """The scratch project's opencode.json: the fake provider as the only model."""
    if not llm_base_url.startswith("http://127.0.0.1:"):
        raise HarnessError(f"the fake LLM must be on 127.0.0.1, not {llm_base_url}")
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "snapshot": False,
        "model": f"{PROVIDER}/{MODEL}",
        "small_model": f"{PROVIDER}/{MODEL}",
        "enabled_providers": [PROVIDER],
        "permission": {"bash": "allow", "edit": "allow", "external_directory": "allow"},
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "turnproof fake LLM",
                "options": {"baseURL": llm_base_url, "apiKey": "turnproof"},
                "models": {
                    MODEL: {"name": "turnproof fake", "tool_call": True, "limit": {"context": 100000, "output": 4096}}
                },
            }
        },
    }


_LIVE: set[int] = set()  # process-group ids still to be killed at interpreter exit


def _kill_group(pgid: int, grace: float = 3.0) -> None:
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        _LIVE.discard(pgid)
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _LIVE.discard(pgid)


def _descendants(root: int) -> list[int]:
    """Every live process below `root` (by parent pid, read from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


@atexit.register
def _kill_all() -> None:
    for pgid in list(_LIVE):
        _kill_group(pgid, grace=1.0)


class OpencodeServer:
    """`with OpencodeServer(binary, llm_base_url) as srv:` — a running server at `srv.url`."""

    def __init__(
        self,
        binary: Path,
        llm_base_url: str,
        ready_timeout: float = 60,
        keep: bool = False,
        version: str = DEFAULT_VERSION,
        directories: int = 2,
    ):
        self.binary = Path(binary)
        self.version = version
        self.config = project_config(llm_base_url)
        self.ready_timeout = ready_timeout
        self.keep = keep  # keep the temp dir (for debugging)
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None
        self.port = 0
        self.log_path: Path | None = None
        self.directories = max(1, directories)  # project directories with the same config

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def project(self) -> Path:
        assert self.tmp is not None
        return self.tmp / "project"

    def directory(self, k: int) -> Path:
        """Project directory `k`: 0 is the server's cwd; k > 0 is another project directory with the
        same opencode.json, which a request selects with `?directory=` (one directory context, so
        one instance and one runner map each in 1.15.4)."""
        return self.project if k == 0 else self.tmp / f"project-{k}"

    def start(self) -> OpencodeServer:
        self.tmp = Path(tempfile.mkdtemp(prefix="turnproof-oc-"))
        home = self.tmp / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCODE", "XDG_"))}
        for k in list(env):  # no real provider keys or proxies leak into the isolated server
            if k.endswith(("_API_KEY", "_TOKEN")) or k.lower() in ("http_proxy", "https_proxy", "all_proxy"):
                del env[k]
        dirs = {
            "XDG_CONFIG_HOME": "config",
            "XDG_DATA_HOME": "data",
            "XDG_CACHE_HOME": "cache",
            "XDG_STATE_HOME": "state",
        }
        for var, sub in dirs.items():
            (home / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(home / sub)
        _prefill_config_dir(home / "config" / "opencode", self.version)
        env |= QUIET_ENV | {"HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        if shutil.which("rg", path=env.get("PATH")) is None:
            # opencode downloads ripgrep from github.com when no `rg` is on PATH: give it a stand-in
            bindir = self.tmp / "bin"
            bindir.mkdir()
            (bindir / "rg").write_text(RG_STUB, encoding="utf-8")
            (bindir / "rg").chmod(0o755)
            env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        for k in range(self.directories):
            self.directory(k).mkdir(parents=True)
            (self.directory(k) / "opencode.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        self.port = free_port()
        self.log_path = self.tmp / "server.log"
        log = open(self.log_path, "wb")
        cmd = [str(self.binary), "serve", "--hostname", "127.0.0.1", "--port", str(self.port), "--pure"]
        if os.environ.get("TURNPROOF_SERVER_LOGS"):
            cmd += ["--print-logs", "--log-level", "DEBUG"]
        try:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.project,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            log.close()
            raise HarnessError(f"cannot start {self.binary}: {e}") from None
        finally:
            log.close()
        _LIVE.add(self.proc.pid)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"opencode serve exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/session", timeout=2) as r:
                    if r.status == 200:
                        self._warm()
                        return
            except (urllib.error.URLError, OSError) as e:
                last = str(e)
            time.sleep(0.1)
        raise HarnessError(f"opencode serve not ready after {self.ready_timeout:.0f}s ({last}): {self.log_tail()}")

    def _warm(self) -> None:
        """Load every directory's instance once, so a drive never waits on a first instance load."""
        for k in range(1, self.directories):
            q = urllib.parse.quote(str(self.directory(k)), safe="")
            with urllib.request.urlopen(f"{self.url}/session?directory={q}", timeout=30) as r:
                r.read()

    def log_tail(self, n: int = 300) -> str:
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            text = ""
        return " ".join(text.split())[-n:] or "(no output)"

    def stop(self) -> None:
        if self.proc is not None:
            # opencode runs each bash tool detached, in a session of its own: find every
            # descendant first, then stop the server's group and each descendant's group.
            groups = {_pgid(p) for p in _descendants(self.proc.pid)} - {None, self.proc.pid, os.getpgid(0)}
            _kill_group(self.proc.pid)
            for g in groups:
                _kill_group(g, grace=1.0)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        if self.tmp is not None and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self) -> OpencodeServer:
        # Ctrl-C arrives as KeyboardInterrupt in the main thread; __exit__ then stops the group.
        # SIGTERM to the harness is turned into the same path.
        if hasattr(signal, "SIGTERM") and _main_thread():
            self._old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self.start()

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            if getattr(self, "_old_term", None) is not None:
                signal.signal(signal.SIGTERM, self._old_term)
                self._old_term = None


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
