"""Signals to whole process groups (a marimo server and its helpers share one) and to the
processes below one, which a group misses: marimo makes each kernel a group leader."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time

import psutil

logger = logging.getLogger(__name__)


def kill_group(pgid: int, sig: signal.Signals) -> bool:
    """Signal a process group; False when it is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        logger.warning("not allowed to signal process group %s", pgid)
        return False
    return True


def live_members(pgid: int) -> list[int]:
    """Pids in the group that still run (zombies, already dead, don't count)."""
    members: list[int] = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


async def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll until no live process is left in the group; False if some still are."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while live_members(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def descendants(pid: int) -> list[psutil.Process]:
    """Every process below `pid` now (blocking: it reads /proc)."""
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def kill_all(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """SIGKILL those still running, and what they started since, and wait for them
    (blocking); the ones that outlived it.
    psutil checks each process's start time, so a pid reused since is never signalled. A
    zombie counts as gone: its reaper (not always Hexa) may take its time."""
    procs = list(procs)
    for proc in list(procs):
        with contextlib.suppress(psutil.Error):
            if proc.is_running():  # not a pid reused since: its children are not ours
                procs += proc.children(recursive=True)  # started since (a cell's subprocess)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return wait_gone(procs, timeout)


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to `timeout` for `procs` to end (blocking); those still running. A zombie
    counts as gone (psutil's own wait would wait out the timeout on one that is not our
    child: marimo reaps a kernel it killed only later)."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _running(p)]
    return alive


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
