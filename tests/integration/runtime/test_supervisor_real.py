"""The supervisor with real `marimo edit` processes: recovery, clean stop, reaping.

Real parts only: MarimoSpawner, MarimoConnector and marimo 0.25.2 itself, each test both
as a plain process and inside the real bubblewrap sandbox (cgroup limits, a uid of its own
when run as root), where bwrap works.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
import pytest_asyncio

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.runtime.connector import MarimoConnector
from hexa.runtime.groups import live_members
from hexa.runtime.pidfile import PidFile
from hexa.runtime.process import MarimoSpawner, NotebookSpec
from hexa.runtime.supervisor import Limits, ProcessState, Supervisor
from hexa.sandbox import ResourceLimits, build_sandbox, bwrap_works
from hexa.sandbox.limits import LimitEnforcer
from tests.support.states import wait_state

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = """import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    value = 6 * 7
    value
    return (value,)


if __name__ == "__main__":
    app.run()
"""


SANDBOXES = [
    "none",
    pytest.param(
        "bwrap",
        marks=pytest.mark.skipif(
            bwrap_works(as_root=os.geteuid() == 0) is not None, reason="no bubblewrap here"
        ),
    ),
]


LIMITS = Limits(start_timeout=60, max_restarts=2, backoff_base=0.1, watch_interval=0.2)


@contextlib.asynccontextmanager
async def real_parts(
    tmp_path: Path, kind: str, limits: ResourceLimits | None = None
) -> AsyncIterator[tuple[MarimoSpawner, MarimoConnector]]:
    """The real spawner (in sandbox `kind`, data under `tmp_path`) and connector; closed
    after (the caller shuts its supervisor down first)."""
    sandbox, enforcer = build_sandbox(
        kind,
        data_dir=tmp_path,
        python=Path(sys.executable),
        limits=limits or ResourceLimits(),
        uid_base=200000,
    )
    http = make_http_client()
    spawner = MarimoSpawner(
        python=Path(sys.executable),
        home_root=tmp_path / "home",
        logs_dir=tmp_path / "logs",
        pid_file=PidFile(tmp_path / "run"),
        sandbox=sandbox,
    )
    try:
        yield spawner, MarimoConnector(http)
    finally:
        await http.aclose()
        enforcer.close()


@pytest_asyncio.fixture(params=SANDBOXES)
async def setup(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Supervisor, NotebookSpec, Path]]:
    path = tmp_path / "nb" / "kept.py"
    path.parent.mkdir()
    path.write_text(NOTEBOOK)
    async with real_parts(tmp_path, request.param) as (spawner, connector):
        supervisor = Supervisor(spawner=spawner, connector=connector, limits=LIMITS)
        try:
            yield supervisor, NotebookSpec("kept", 1, "alice", path, path.parent), tmp_path
        finally:
            await supervisor.shutdown()


def group_members(pgid: int) -> list[int]:
    return live_members(pgid)


def marimo_server(root_pid: int) -> psutil.Process:
    """The `marimo edit` process: the spawned one, or (sandboxed) inside bwrap's tree."""
    root = psutil.Process(root_pid)
    for proc in [root, *root.children(recursive=True)]:
        if proc.cmdline()[1:4] == ["-m", "marimo", "edit"]:
            return proc
    raise AssertionError("no marimo server under the notebook's process")


async def wait_group_gone(pgid: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while group_members(pgid):
            await asyncio.sleep(0.05)


async def value_of(sup: Supervisor, notebook_id: str) -> object:
    nb = sup.get(notebook_id)
    assert nb is not None
    assert nb.process is not None
    async with make_http_client() as http:
        client = MarimoClient(
            nb.process.url, nb.process.token, http, stable_session_id=nb.session_id
        )
        values = await client.tables_and_variables(["value"])
    return values["variables"]["value"]


async def test_open_runs_cells_and_stop_leaves_no_process(
    setup: tuple[Supervisor, NotebookSpec, Path],
) -> None:
    sup, spec, _ = setup
    nb = await sup.ensure_running(spec)
    assert nb.process is not None
    pgid = nb.process.pid
    assert pgid is not None
    assert len(group_members(pgid)) >= 2, "the server and its resource tracker"
    assert "42" in str(await value_of(sup, "kept")), "cells ran on open, as in the editor"
    below = psutil.Process(pgid).children(recursive=True)
    assert any(kernel_of(p) for p in below), "the kernel runs below the notebook's process"
    await sup.stop("kept")
    assert group_members(pgid) == []
    assert [p.pid for p in below if running(p)] == []  # the kernel too, at once


def kernel_of(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "multiprocessing.spawn" in " ".join(proc.cmdline())
    return False


def running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.parametrize("limits_by", ["cgroups", "prlimit"])
async def test_a_hung_server_goes_with_its_hung_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limits_by: str
) -> None:
    # marimo makes its kernel a session of its own: killing the server's process group
    # leaves the kernel, which exits by itself only if it can still notice (a thread that
    # polls its parent; not in a C call that holds the GIL, nor stopped as here). With
    # cgroups, emptying the notebook's cgroup takes it; without (prlimit), only the stop.
    if limits_by == "prlimit":
        monkeypatch.setattr(
            LimitEnforcer,
            "detect",
            lambda limits, **_: LimitEnforcer(limits, parents=None, v2=False),
        )
    path = tmp_path / "nb" / "kept.py"
    path.parent.mkdir()
    path.write_text(NOTEBOOK)
    below: list[psutil.Process] = []
    async with real_parts(tmp_path, "none") as (spawner, connector):
        sup = Supervisor(spawner=spawner, connector=connector, limits=LIMITS)
        try:
            nb = await sup.ensure_running(NotebookSpec("kept", 1, "alice", path, path.parent))
            assert nb.process is not None
            assert nb.process.pid is not None
            below += psutil.Process(nb.process.pid).children(recursive=True)
            [kernel] = [p for p in below if kernel_of(p)]
            assert os.getpgid(kernel.pid) != os.getpgid(nb.process.pid)
            marimo_server(nb.process.pid).suspend()  # SIGSTOP: SIGTERM goes unanswered
            kernel.suspend()
            await sup.stop("kept")
            assert [p.pid for p in below if running(p)] == []
        finally:
            await sup.shutdown()
            for proc in below:  # whatever a failure left, stopped or not
                with contextlib.suppress(psutil.Error):
                    proc.kill()


@pytest.mark.parametrize("victim", ["server", "kernel"])
async def test_kill_9_is_recovered_with_the_file_intact(
    setup: tuple[Supervisor, NotebookSpec, Path], victim: str
) -> None:
    sup, spec, _ = setup
    nb = await sup.ensure_running(spec)
    assert nb.process is not None
    server_pid = nb.process.pid
    assert server_pid is not None
    server = marimo_server(server_pid)
    before = spec.path.read_text()
    if victim == "server":
        server.kill()
    else:
        kernels = [c for c in server.children() if "resource_tracker" not in " ".join(c.cmdline())]
        assert kernels, "the session has a kernel process"
        for kernel in kernels:
            kernel.kill()
    await wait_state(sup, "kept", ProcessState.STARTING, 10)
    await wait_state(sup, "kept", ProcessState.RUNNING, 60)
    again = sup.get("kept")
    assert again is not None
    assert again.process is not None
    assert again.process.pid != server_pid
    assert spec.path.read_text() == before
    assert "42" in str(await value_of(sup, "kept"))
    # Nothing of the dead server's group is left.
    await wait_group_gone(server_pid, 10)


async def test_a_file_marimo_cannot_open_fails_with_its_reason(
    setup: tuple[Supervisor, NotebookSpec, Path],
) -> None:
    sup, spec, _ = setup
    spec.path.write_text("print('not a notebook')\n")
    with pytest.raises(Exception, match="could not start"):
        await sup.ensure_running(spec)
    nb = sup.get("kept")
    assert nb is not None
    assert nb.state is ProcessState.FAILED
    assert nb.reason


def test_processes_left_by_a_crashed_run_are_reaped(tmp_path: Path) -> None:
    """A marimo left behind (its Hexa was SIGKILLed) is found by pid file and killed."""
    run_dir = tmp_path / "run"
    path = tmp_path / "orphan.py"
    path.write_text(NOTEBOOK)
    orphan = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marimo",
            "edit",
            str(path),
            "--headless",
            "--port",
            "0",
            "--no-token",
            "--skip-update-check",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        PidFile(run_dir).write("orphan", orphan.pid)
        assert PidFile(run_dir).reap() == [orphan.pid]
        assert orphan.wait(10) == -signal.SIGKILL
        assert not list(run_dir.glob("*.pid"))
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)
            orphan.wait(5)


def test_a_recycled_pid_is_not_reaped(tmp_path: Path) -> None:
    """A pid file whose pid now belongs to another program must not kill it."""
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "x.pid").write_text(f'{{"pid": {other.pid}, "created": 1.0}}')
        assert PidFile(tmp_path / "run").reap() == []
        assert other.poll() is None
    finally:
        other.kill()
        other.wait(5)
