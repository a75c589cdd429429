"""Signals to whole process groups: a marimo server, its kernels and helpers share one."""

from __future__ import annotations

import logging
import os
import signal

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


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
