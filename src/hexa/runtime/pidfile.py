"""Pid files of running marimo servers, so a crashed Hexa's children can be reaped."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import psutil

from hexa.runtime.groups import descendants, kill_all, kill_group

logger = logging.getLogger(__name__)


class PidFile:
    """One JSON file per notebook in the run dir: pid plus its start time.

    The start time guards against pid reuse: a recycled pid belongs to another program.
    """

    def __init__(self, run_dir: Path) -> None:
        self._dir = run_dir

    def _path(self, notebook_id: str) -> Path:
        return self._dir / f"{notebook_id}.pid"

    def write(self, notebook_id: str, pid: int) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        try:
            created = psutil.Process(pid).create_time()
        except psutil.Error:
            created = 0.0
        self._path(notebook_id).write_text(json.dumps({"pid": pid, "created": created}))

    def remove(self, notebook_id: str) -> None:
        self._path(notebook_id).unlink(missing_ok=True)

    def reap(self) -> list[int]:
        """Kill the servers left behind by an earlier run, their process groups and every
        process below them (marimo makes each kernel a group of its own, which the
        group's kill misses); the servers' pids."""
        reaped: list[int] = []
        below: list[psutil.Process] = []
        if not self._dir.is_dir():
            return reaped
        for path in self._dir.glob("*.pid"):
            try:
                record = json.loads(path.read_text())
                pid, created = int(record["pid"]), float(record["created"])
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if self._is_ours(pid, created):
                logger.warning("reaping marimo process group %s left by an earlier run", pid)
                below += descendants(pid)  # taken first: once the server dies they move away
                kill_group(pid, signal.SIGKILL)
                reaped.append(pid)
            path.unlink(missing_ok=True)
        # One wait for all of them (blocking; before Hexa serves anything).
        left = kill_all(below, timeout=5.0)
        if left:
            logger.warning("could not reap %s below the servers left behind", [p.pid for p in left])
        return reaped

    @staticmethod
    def _is_ours(pid: int, created: float) -> bool:
        try:
            proc = psutil.Process(pid)
            same_start = abs(proc.create_time() - created) < 1.0
            return same_start and "marimo" in " ".join(proc.cmdline())
        except psutil.Error:
            return False
