"""Process plumbing: tie a child to its parent's life, tell if a pid lives, stop it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` that makes the child get SIGKILL when its parent dies (Linux only).

    The kernel ties this to the parent *thread*: start the child from a thread that
    lives as long as the child should (pytest fixtures run on the main thread).
    """
    parent = os.getpid()
    if not sys.platform.startswith("linux"):
        return _nothing
    # Resolve prctl before fork: the child of a threaded parent must not call dlopen.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def _preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody will signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return _preexec


def _nothing() -> None:
    return None


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, killed but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # No procfs: trust kill(0).
    # The state letter follows the command name, which is in parentheses.
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


def pid_cmdline(pid: int) -> list[str]:
    """The command line of `pid`, or [] when it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def wait_gone(pid: int, timeout: float) -> bool:
    """Poll until `pid` is gone; return whether it went within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pid: int, *, grace: float) -> bool:
    """SIGTERM `pid`, wait up to `grace` seconds, then SIGKILL. Return whether SIGKILL was needed.

    For processes that are not our children (a detached broker started by an earlier
    command); for children use `subprocess.Popen` so they get reaped.
    """
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if wait_gone(pid, grace):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    wait_gone(pid, 10.0)
    return True


__all__ = [
    "die_with_parent",
    "pid_alive",
    "pid_cmdline",
    "terminate",
    "wait_gone",
]
