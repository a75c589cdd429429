"""Signals to whole process groups: a marimo server, its kernels and helpers share one."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

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
