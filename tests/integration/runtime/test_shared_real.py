"""One marimo per person with real marimo: their notebooks are sessions in it, a kernel
each; closing one leaves the others, a dead kernel or server is recovered.

Real parts only: MarimoSpawner, MarimoConnector, SharedServers, the supervisor and marimo
0.25.2, each test as a plain process and inside the real bubblewrap sandbox where bwrap
works.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.runtime.process import NotebookSpec
from hexa.runtime.shared import SharedServers
from hexa.runtime.supervisor import ProcessState, Supervisor
from hexa.sandbox import ResourceLimits, bwrap_works
from hexa.sandbox.limits import LimitEnforcer
from tests.integration.runtime.test_spares_real import value_of
from tests.integration.runtime.test_supervisor_real import (
    LIMITS,
    NOTEBOOK,
    SANDBOXES,
    group_members,
    kernel_of,
    marimo_server,
    real_parts,
    running,
    wait_group_gone,
)
from tests.support.states import wait_state

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Setup:
    def __init__(self, supervisor: Supervisor, folder: Path, run: Path) -> None:
        self.sup, self.folder, self.run = supervisor, folder, run

    def spec(self, notebook_id: str) -> NotebookSpec:
        path = self.folder / f"{notebook_id}.py"
        if not path.exists():
            path.write_text(NOTEBOOK.replace("6 * 7", f"6 * 7 + {len(notebook_id)}"))
        return NotebookSpec(notebook_id, 1, "alice", path, self.folder)

    def server_pid(self, notebook_id: str) -> int:
        nb = self.sup.get(notebook_id)
        assert nb is not None
        assert nb.process is not None
        assert nb.process.pid is not None
        return nb.process.pid

    def kernels(self, notebook_id: str) -> set[int]:
        """The kernels below the notebook's server (every session's, not only its own)."""
        server = marimo_server(self.server_pid(notebook_id))
        return {p.pid for p in server.children() if kernel_of(p)}


# The sharing itself runs in both; the recovery tests in Hexa's default sandbox only (bwrap
# where it works), to keep the suite's time: the sandbox changes nothing in them.
DEFAULT_SANDBOX = ["bwrap" if bwrap_works(as_root=os.geteuid() == 0) is None else "none"]


@pytest_asyncio.fixture
async def setup(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    folder = tmp_path / "nb"
    folder.mkdir()
    async with real_parts(tmp_path, request.param) as (spawner, connector):
        shared = SharedServers(
            spawner, connector.close_session, stop_timeout=5, notebooks_per_person=5
        )
        supervisor = Supervisor(spawner=shared, connector=connector, limits=LIMITS)
        try:
            yield Setup(supervisor, folder, tmp_path / "run")
        finally:
            await supervisor.shutdown()


def gone(pid: int) -> bool:
    try:
        return not running(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


async def two_open(setup: Setup) -> tuple[int, int]:
    """`one` and `two` open; the kernel of each."""
    await setup.sup.ensure_running(setup.spec("one"))
    (first,) = setup.kernels("one")
    await setup.sup.ensure_running(setup.spec("two"))
    (second,) = setup.kernels("two") - {first}
    return first, second


@pytest.mark.parametrize("setup", SANDBOXES, indirect=True)
async def test_notebooks_share_a_server_and_close_alone(setup: Setup) -> None:
    first, second = await two_open(setup)
    server = setup.server_pid("one")
    assert setup.server_pid("two") == server, "one server for both"
    served = marimo_server(server).cmdline()[4]
    assert served in (str(setup.folder), "/home/alice/notebooks"), served
    assert "45" in str(await value_of(setup.sup, "one")), "each ran its own cells"
    assert "45" in str(await value_of(setup.sup, "two"))
    two = setup.sup.get("two")
    assert two is not None
    assert two.process is not None
    assert two.process.file_key == "two.py"
    # Closing one notebook ends its session and kernel only.
    assert await setup.sup.stop("one")
    assert gone(first), "its kernel is gone at once"
    assert setup.kernels("two") == {second}
    assert "45" in str(await value_of(setup.sup, "two")), "the other notebook goes on"
    # The last one takes the server with it.
    assert await setup.sup.stop("two")
    await wait_group_gone(server, 10)
    assert group_members(server) == []
    assert gone(second)
    assert not list(setup.run.glob("*.pid")), "no marimo is left"


async def kernel_pid(sup: Supervisor, notebook_id: str) -> int:
    """The notebook's kernel, as the kernel itself says (code mode runs in it), as a pid
    of this host's (in bwrap's PID namespace the kernel sees another number)."""
    nb = sup.get(notebook_id)
    assert nb is not None
    assert nb.process is not None
    async with make_http_client() as http:
        client = MarimoClient(
            nb.process.url,
            nb.process.token,
            http,
            stable_session_id=nb.session_id,
            file_key=nb.process.file_key,
        )
        result = await client.execute("import os\nprint(os.getpid())")
    assert nb.process.pid is not None
    return host_pid(nb.process.pid, int(result.stdout.strip()))


def host_pid(server_pid: int, inside: int) -> int:
    """The server's child that is `inside` in its own PID namespace."""
    for kernel in marimo_server(server_pid).children():
        # NSpid lists the pid in each namespace it is in, this host's first, its own last.
        status = Path(f"/proc/{kernel.pid}/status").read_text()
        numbers = next(line for line in status.splitlines() if line.startswith("NSpid:"))
        if int(numbers.split()[-1]) == inside:
            return kernel.pid
    raise AssertionError(f"no child of {server_pid} is {inside} in its namespace")


@pytest.mark.parametrize("setup", DEFAULT_SANDBOX, indirect=True)
async def test_concurrent_opens_each_know_their_own_kernel_and_recover(setup: Setup) -> None:
    names = ("one", "two", "three")
    await asyncio.gather(*(setup.sup.ensure_running(setup.spec(n)) for n in names))
    assert len({setup.server_pid(n) for n in names}) == 1
    kernels = {n: await kernel_pid(setup.sup, n) for n in names}
    assert len(set(kernels.values())) == 3, kernels
    # Killing one kernel restarts that notebook only, in the same server: each open took
    # the right kernel, and the others were left alone.
    psutil.Process(kernels["two"]).kill()
    await wait_state(setup.sup, "two", ProcessState.STARTING, 10)
    await wait_state(setup.sup, "two", ProcessState.RUNNING, 60)
    assert await kernel_pid(setup.sup, "one") == kernels["one"]
    assert await kernel_pid(setup.sup, "three") == kernels["three"]
    assert await kernel_pid(setup.sup, "two") not in kernels.values()
    assert {setup.server_pid(n) for n in names} == {setup.server_pid("one")}
    assert "45" in str(await value_of(setup.sup, "two"))
    # Closing one kills its kernel, not another's.
    assert await setup.sup.stop("three")
    assert gone(kernels["three"])
    assert await kernel_pid(setup.sup, "one") == kernels["one"]
    # A killed server brings the others back, both in one new server.
    old = setup.server_pid("one")
    marimo_server(old).kill()
    for notebook_id in ("one", "two"):
        await wait_state(setup.sup, notebook_id, ProcessState.STARTING, 10)
    for notebook_id in ("one", "two"):
        await wait_state(setup.sup, notebook_id, ProcessState.RUNNING, 60)
    new = setup.server_pid("one")
    assert setup.server_pid("two") == new != old
    assert "45" in str(await value_of(setup.sup, "one"))
    assert "45" in str(await value_of(setup.sup, "two"))
    await wait_group_gone(old, 10)


def cgroups_writable() -> bool:
    enforcer = LimitEnforcer.detect(ResourceLimits(), name="hexa-test-probe")
    try:
        return enforcer.mechanism.startswith("cgroup")
    finally:
        enforcer.close()


def memory_cgroup(pid: int) -> Path:
    """The process's memory cgroup, as a folder (v1's memory hierarchy, or v2's one)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    (line,) = [x for x in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if x[:3] == "0::"]
    return Path("/sys/fs/cgroup") / line[3:].lstrip("/")


@pytest.mark.skipif(not cgroups_writable(), reason="no writable cgroups here")
async def test_each_kernel_has_its_own_limits_and_hits_them_alone(tmp_path: Path) -> None:
    """Real cgroups: one notebook's kernel that outgrows one notebook's memory is stopped,
    though the person's server has room for five, and its notebook fails for it; the other
    notebook in the same server goes on with the same kernel."""
    folder = tmp_path / "nb"
    folder.mkdir()
    one_notebook = ResourceLimits(memory_bytes=256 * 1024**2, max_processes=256)
    async with real_parts(tmp_path, DEFAULT_SANDBOX[0], one_notebook) as (spawner, connector):
        shared = SharedServers(
            spawner, connector.close_session, stop_timeout=5, notebooks_per_person=5
        )
        supervisor = Supervisor(spawner=shared, connector=connector, limits=LIMITS)
        setup = Setup(supervisor, folder, tmp_path / "run")
        try:
            await two_open(setup)
            kernels = {n: await kernel_pid(supervisor, n) for n in ("one", "two")}
            server = memory_cgroup(setup.server_pid("one"))
            parts = {n: memory_cgroup(pid) for n, pid in kernels.items()}
            assert parts == {n: server / f"nb.{n}" for n in kernels}, (server, parts)
            limit = "memory.max" if (server / "memory.max").exists() else "memory.limit_in_bytes"
            assert int((parts["two"] / limit).read_text()) == 256 * 1024**2
            assert int((server / limit).read_text()) == 5 * 256 * 1024**2
            # 600 MiB: over one notebook's limit, well under the five the server holds.
            nb = supervisor.get("two")
            assert nb is not None
            assert nb.process is not None
            async with make_http_client() as http:
                client = MarimoClient(
                    nb.process.url,
                    nb.process.token,
                    http,
                    stable_session_id=nb.session_id,
                    file_key=nb.process.file_key,
                )
                # The call is left waiting on a dead kernel: the notebook's state ends it.
                hog = asyncio.create_task(client.execute("hog = b'x' * (600 * 1024**2)"))
                try:
                    await wait_state(supervisor, "two", ProcessState.FAILED, 60)
                finally:
                    hog.cancel()
                    with contextlib.suppress(BaseException):
                        await hog
            two = supervisor.get("two")
            assert two is not None
            assert two.reason is not None
            assert two.reason.startswith("out of memory: the notebook used more than its 256 MiB")
            assert await kernel_pid(supervisor, "one") == kernels["one"], "one was left alone"
            assert "45" in str(await value_of(supervisor, "one"))
            assert not parts["two"].exists(), "the failed notebook's cgroup is gone"
            assert await supervisor.stop("one")
            assert not parts["one"].exists()
        finally:
            await supervisor.shutdown()
        assert not server.exists(), "the person's cgroup goes with their server"


@pytest.mark.skipif(not cgroups_writable(), reason="no writable cgroups here")
def test_a_part_refused_half_way_leaves_the_kernel_alive_under_its_servers_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real cgroups and a real process, one fault injected: the kernel's move into the
    last of its part's cgroups is refused after it moved into the first. Removing a part
    kills its members: the kernel must be back in its server's cgroups by then."""
    enforcer = LimitEnforcer.detect(
        ResourceLimits(memory_bytes=256 * 1024**2, max_processes=64), name="hexa-test-part"
    )
    if enforcer.mechanism != "cgroup v1":
        enforcer.close()
        pytest.skip("a part is one cgroup in v2: it cannot be refused half-way")
    person = enforcer.confine("person1", own_uid=False, notebooks=2)
    # It speaks once the wrapper has put it in the person's cgroups and exec'd it.
    code = "import time; print('up', flush=True); time.sleep(120)"
    kernel = subprocess.Popen(
        person.wrap([sys.executable, "-c", code]), stdout=subprocess.PIPE, text=True
    )
    try:
        assert kernel.stdout is not None
        assert kernel.stdout.readline() == "up\n"
        server = memory_cgroup(kernel.pid)
        assert server.name == "person1"
        write_text = Path.write_text
        moves: list[Path] = []

        def refuse_the_second_move(path: Path, data: str, *args: Any, **kwargs: Any) -> int:
            if path.name == "cgroup.procs" and path.parent.name == "nb.a":
                moves.append(path)
                if len(moves) == 2:
                    raise OSError(errno.EBUSY, "refused")
            return write_text(path, data, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", refuse_the_second_move)
        assert person.part("nb.a", [kernel.pid]) is None
        monkeypatch.undo()
        assert len(moves) == 2  # it had moved into the first
        assert kernel.poll() is None, "the kernel was killed with its part"
        assert memory_cgroup(kernel.pid) == server
        assert not (server / "nb.a").exists()
    finally:
        kernel.kill()
        kernel.wait(10)
        person.release()
        enforcer.close()
