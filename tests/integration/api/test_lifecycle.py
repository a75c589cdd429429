"""`hexa serve` as a process: its children end with it, crashes are reaped, idle is culled.

Real `hexa serve`, real marimo; the only thing faked is time (a 2-second idle timeout).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from hexa.sandbox import bwrap_works
from tests.support.server import HexaServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def marimo_children(server: HexaServer) -> list[psutil.Process]:
    """Everything `hexa serve` started: marimo servers, their kernels and helpers."""
    assert server.proc is not None
    return psutil.Process(server.proc.pid).children(recursive=True)


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            continue
    return out


def wait_gone(pids: list[int], timeout: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


def open_two(server: HexaServer) -> list[int]:
    with server.client() as api:
        for name in ("one", "two"):
            reply = api.post(
                "/api/notebooks/open", json={"notebook_id": name, "notebook_path": f"{name}.py"}
            )
            assert reply.status_code == 200, reply.text
    pids = [p.pid for p in marimo_children(server)]
    assert len(pids) >= 4, "two servers, each with a kernel"
    return pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_every_marimo(tmp_path: Path, sig: signal.Signals) -> None:
    server = HexaServer(data_dir=tmp_path)
    try:
        server.start()
        pids = open_two(server)
        assert server.proc is not None
        server.proc.send_signal(sig)
        assert server.proc.wait(30) is not None
        assert wait_gone(pids) == []
    finally:
        server.stop()


def test_marimo_left_by_a_killed_hexa_is_reaped_at_next_start(tmp_path: Path) -> None:
    # Without a sandbox marimo outlives a SIGKILLed Hexa (its own process group).
    server = HexaServer(data_dir=tmp_path, env={"HEXA_SANDBOX": "none"})
    pids: list[int] = []
    try:
        server.start()
        pids = open_two(server)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)  # no lifespan shutdown: marimo survives
        server.proc.wait(10)
        server.proc = None
        assert alive(pids), "marimo runs in its own process groups"
        server.start()
        assert wait_gone(pids) == []
        with server.client() as api:
            states = {n["notebook_id"]: n["status"] for n in api.get("/api/notebooks").json()}
        assert states == {"one": "stopped", "two": "stopped"}
    finally:
        server.stop()
        for pid in alive(pids):
            os.killpg(pid, signal.SIGKILL)


@pytest.mark.skipif(
    bwrap_works(as_root=os.geteuid() == 0) is not None, reason="bubblewrap cannot run here"
)
def test_sandboxed_marimo_dies_with_a_killed_hexa(tmp_path: Path) -> None:
    # bubblewrap's --die-with-parent: a SIGKILLed Hexa leaves no notebook behind at all.
    server = HexaServer(data_dir=tmp_path, env={"HEXA_SANDBOX": "bwrap"})
    pids: list[int] = []
    try:
        server.start()
        pids = open_two(server)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
        server.proc = None
        assert wait_gone(pids) == []
        server.start()
        with server.client() as api:
            states = {n["notebook_id"]: n["status"] for n in api.get("/api/notebooks").json()}
        assert states == {"one": "stopped", "two": "stopped"}
    finally:
        server.stop()
        for pid in alive(pids):
            os.killpg(pid, signal.SIGKILL)


def test_idle_notebook_stops_and_reopens_on_next_use(tmp_path: Path) -> None:
    server = HexaServer(data_dir=tmp_path, env={"HEXA_IDLE_TIMEOUT": "2"})
    try:
        server.start()
        with server.client() as api:
            assert api.post(
                "/api/notebooks/open", json={"notebook_id": "idle", "notebook_path": "idle.py"}
            ).is_success
            deadline = time.monotonic() + 20
            while api.get("/api/notebooks/idle").json()["status"] != "stopped":
                assert time.monotonic() < deadline, "the idle notebook was not stopped"
                time.sleep(0.25)
            assert (tmp_path / "notebooks" / "default" / "idle.py").exists()
            # The proxy starts it again on first access.
            page = api.get("/nb/idle/")
            assert page.status_code == 200
            assert api.get("/api/notebooks/idle").json()["status"] == "running"
    finally:
        server.stop()
