"""Exit codes that cannot lie, for every subcommand: input errors, interrupts, internal errors.

A verdict exits 0 (holds), 1 (violated) or 3 (undecided); `Cli`, the command group, turns the
rest into codes no verdict uses: an input error into one line and 2, Ctrl-C into 130 (the
shell's 128 + SIGINT), any other exception into one line and 70 (EX_SOFTWARE, sysexits.h) that
says how to see the traceback: `turnproof --debug …` or TURNPROOF_DEBUG=1. Output paths are
checked here too, before any search, so a path that cannot be written never costs a search.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path

import click
from turnproof.specs.loader import InputError

HOLDS, VIOLATED, INPUT_ERROR, UNDECIDED = 0, 1, 2, 3
INTERNAL_ERROR = 70  # EX_SOFTWARE
INTERRUPTED = 130  # 128 + SIGINT
BROKEN_PIPE = 141  # 128 + SIGPIPE: whoever read the output stopped reading (`| head`)

EXIT_CODES = f"""Exit codes: {HOLDS} every property holds (audit: clean), {VIOLATED} a violation (or a --shape
reached), {INPUT_ERROR} a usage or input error (one line naming the file and field), {UNDECIDED} undecided (a
property not judged, or a budget spent: --max-states, --max-seconds, --max-memory), {INTERRUPTED}
interrupted (Ctrl-C; SIGTERM 143, SIGHUP 129), {INTERNAL_ERROR} an internal error (a bug: --debug or
TURNPROOF_DEBUG=1 shows the traceback)."""


def debugging(ctx: click.Context | None = None) -> bool:
    """--debug on the group, or TURNPROOF_DEBUG set to anything but "" or "0"."""
    root = ctx.find_root() if ctx is not None else None
    flag = bool(root and (root.obj or {}).get("debug"))
    return flag or os.environ.get("TURNPROOF_DEBUG", "") not in ("", "0")


class Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, taken the way Ctrl-C is: the same unwinding, exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _raise_signalled(signum, frame):
    raise Signalled(signum)


@contextmanager
def signals_as_interrupts():
    """SIGTERM and SIGHUP raise `Signalled` in the main thread meanwhile (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise_signalled) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _interrupted(e: BaseException | None = None) -> click.exceptions.Exit:
    click.echo("\nturnproof: interrupted", err=True)
    return click.exceptions.Exit(128 + e.signum if isinstance(e, Signalled) else INTERRUPTED)


def _asks_help(e: click.UsageError) -> bool:
    """`turnproof` alone: click shows the help (its usage block is the answer, not an error)."""
    return type(e).__name__ == "NoArgsIsHelpError"


def _usage(e: click.UsageError) -> click.exceptions.Exit:
    """A usage error on one line (click prints a three-line usage block): what was wrong, and --help."""
    where = " ".join(["turnproof", *(e.ctx.command_path.split()[1:] if e.ctx is not None else [])])
    click.echo(f"turnproof: error: {' '.join(e.format_message().split())} (see {where} --help)", err=True)
    return click.exceptions.Exit(INPUT_ERROR)


class Cli(click.Group):
    """The command group: InputError is one line and exit 2, Ctrl-C exit 130, anything else one
    line and exit 70 (the traceback with --debug or TURNPROOF_DEBUG=1); never a traceback and
    exit 1, which would read as "violated"."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as e:
            if _asks_help(e):
                raise
            raise _usage(e) from None
        except KeyboardInterrupt as e:
            raise _interrupted(e) from None

    def invoke(self, ctx: click.Context):
        try:
            with signals_as_interrupts():
                return super().invoke(ctx)
        except InputError as e:
            click.echo(f"turnproof: error: {e}", err=True)
            ctx.exit(INPUT_ERROR)
        except KeyboardInterrupt as e:
            raise _interrupted(e) from None
        except click.UsageError as e:
            if _asks_help(e):
                raise
            raise _usage(e) from None
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # stdout closed early (`| head`): nothing left to say, and no verdict
            _quiet_stdout()
            ctx.exit(BROKEN_PIPE)
        except Exception as e:
            if debugging(ctx):
                traceback.print_exc(file=sys.stderr)
            what = " ".join(str(e).split())[:200]
            click.echo(
                f"turnproof: internal error: {type(e).__name__}{': ' + what if what else ''} "
                f"(a bug in turnproof; exit {INTERNAL_ERROR}; the traceback: turnproof --debug … or TURNPROOF_DEBUG=1)",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so Python's exit flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def writable_dir(path: Path, flag: str) -> None:
    """InputError unless `path` is a directory that can be written, or can be made one."""
    _writable(path, flag, want_dir=True)


def writable_file(path: Path, flag: str) -> None:
    """InputError unless a file can be written at `path` (its folder existing or creatable)."""
    _writable(path, flag, want_dir=False)


def _writable(path: Path, flag: str, want_dir: bool) -> None:
    def fail(code: int) -> None:
        raise InputError(f"{flag} {path}: cannot write: {os.strerror(code)}")

    if str(path) == "" or "\x00" in str(path):
        raise InputError(f"{flag} {str(path)!r}: not a usable path")
    try:
        _check_path(Path(path), want_dir, fail)
    except OSError as e:  # a name too long, a loop of links, …
        fail(e.errno or errno.EINVAL)


def _check_path(p: Path, want_dir: bool, fail) -> None:
    if p.exists():
        if want_dir and not p.is_dir():
            fail(errno.ENOTDIR)
        if not want_dir and p.is_dir():
            fail(errno.EISDIR)
        if not os.access(p if p.is_dir() else p.parent, os.W_OK | os.X_OK) or (
            not p.is_dir() and not os.access(p, os.W_OK)
        ):
            fail(errno.EROFS if _read_only(p) else errno.EACCES)
        return
    parent = p.parent
    while not parent.exists():  # the nearest folder that exists must be a writable folder
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        fail(errno.ENOTDIR)
    if not os.access(parent, os.W_OK | os.X_OK):
        fail(errno.EROFS if _read_only(parent) else errno.EACCES)


def _read_only(p: Path) -> bool:
    try:
        return bool(os.statvfs(p).f_flag & os.ST_RDONLY)
    except OSError:
        return False
