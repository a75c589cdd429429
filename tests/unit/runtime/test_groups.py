"""Waiting for processes to end (real processes: a parent that never reaps its child)."""

from __future__ import annotations

import subprocess
import sys

import psutil

from hexa.runtime.groups import kill_all, wait_gone

# A parent that kills its child and never reaps it, as marimo leaves a kernel it closed
# until later: the child stays a zombie, and Hexa, not its parent, cannot reap it.
NEGLECTFUL_PARENT = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    signal.pause()
    os._exit(0)
os.kill(pid, signal.SIGKILL)
print(pid, flush=True)
sys.stdin.read()
"""


def test_a_zombie_that_is_not_ours_counts_as_gone() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", NEGLECTFUL_PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        # psutil's own wait (for a process that is not our child) waits while the pid
        # exists: it would report the zombie alive at the timeout.
        assert wait_gone([child], timeout=30) == []
        assert child.status() == psutil.STATUS_ZOMBIE  # still there: not reaped, just gone
        assert kill_all([child], timeout=30) == []
    finally:
        parent.kill()
        parent.wait(10)


def test_a_process_that_runs_on_is_reported() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert wait_gone([psutil.Process(sleeper.pid)], timeout=0.2) == [
            psutil.Process(sleeper.pid)
        ]
    finally:
        sleeper.kill()
        sleeper.wait(10)
