"""Reaping what a crashed Hexa left: the server's group and the kernels below it.

Real parts: real processes (a stand-in server whose command line names marimo, and a
child it starts in a session of its own, as marimo starts each kernel), real signals and
/proc; the child's pid is read from the server's stdout once it has started it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from hexa.runtime.pidfile import PidFile

# argv[1] ("marimo") is what the reaper checks the command line for.
SERVER = """
import subprocess, sys, threading
kernel = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait(120)"],
                          start_new_session=True)
print(kernel.pid, flush=True)
threading.Event().wait(120)
"""


def test_reap_kills_the_server_and_the_kernels_in_groups_of_their_own(tmp_path: Path) -> None:
    server = subprocess.Popen(  # a group of its own, as Hexa starts each marimo
        [sys.executable, "-c", SERVER, "marimo"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    kernel: psutil.Process | None = None
    try:
        assert server.stdout is not None
        kernel = psutil.Process(int(server.stdout.readline()))
        PidFile(tmp_path).write("nb", server.pid)

        assert PidFile(tmp_path).reap() == [server.pid]

        assert server.wait(10) < 0
        kernel.wait(10)
        assert not _alive(kernel)
        assert not list(tmp_path.glob("*.pid"))
    finally:
        if server.poll() is None:
            server.kill()
        if kernel is not None and kernel.is_running():
            kernel.kill()
        server.wait(10)


def _alive(proc: psutil.Process) -> bool:
    """A killed kernel is reparented; until its new parent collects it, it is a zombie."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
