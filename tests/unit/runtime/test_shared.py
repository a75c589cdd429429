"""One marimo per person, each notebook a session in it, against fake processes (no
subprocess here; real marimo in tests/integration/runtime/test_shared_real.py)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from hexa.config import Settings
from hexa.runtime.process import NotebookProcess, NotebookSpec
from hexa.runtime.shared import SessionProcess, SharedServers
from hexa.runtime.supervisor import Limits, ManagedProcess, ProcessState, Supervisor
from tests.unit.runtime.test_supervisor import (
    FAST,
    Clock,
    FakeConnector,
    FakePart,
    FakeProcess,
    FakeSpawner,
    Mode,
    spec,
    wait_for_state,
)


class SessionConnector(FakeConnector):
    """The fake connector, seeing sessions through their server; kernels by notebook."""

    def __init__(self) -> None:
        self.dead_kernels: set[str] = set()  # file keys whose kernel died
        self.closed: list[str] = []  # file keys whose session was closed, in order
        self.confines = True  # gives each kernel limits of its own (cgroups: a part)
        self.changed = asyncio.Event()

    async def wait_healthy(self, process: NotebookProcess, timeout: float) -> None:
        own = process.server if isinstance(process, SessionProcess) else process
        await super().wait_healthy(own, timeout)

    async def open_session(self, process: NotebookProcess, timeout: float) -> str:
        if self.confines and isinstance(process, SessionProcess):  # as the real one does
            process.confine_kernel([4000 + len(self.closed)])
        return f"sess-{process.file_key or process.url}"

    def kernel_alive(self, process: NotebookProcess) -> bool:
        return process.file_key not in self.dead_kernels

    async def close_session(self, process: NotebookProcess, timeout: float) -> None:
        assert process.file_key is not None
        self.closed.append(process.file_key)
        self.dead_kernels.discard(process.file_key)
        self.changed.set()


def make(
    spare_script: list[Mode] | None = None, limits: Limits = FAST
) -> tuple[Supervisor, FakeSpawner, SessionConnector]:
    spawner = FakeSpawner(spare_script=spare_script)
    connector = SessionConnector()
    shared = SharedServers(spawner, connector.close_session, stop_timeout=1, notebooks_per_person=5)
    sup = Supervisor(spawner=shared, connector=connector, limits=limits, clock=Clock())
    return sup, spawner, connector


def in_folder(notebook_id: str, owner: str = "alice") -> NotebookSpec:
    """A notebook in its owner's folder (`spec` puts each in a folder of its own)."""
    base = spec(notebook_id, owner)
    return NotebookSpec(notebook_id, base.owner_id, owner, Path(f"/home/{owner}/{notebook_id}.py"))


def server_of(sup: Supervisor, notebook_id: str) -> FakeProcess:
    nb = sup.get(notebook_id)
    assert nb is not None
    assert isinstance(nb.process, SessionProcess)
    assert isinstance(nb.process.server, FakeProcess)
    return nb.process.server


async def test_a_persons_notebooks_share_one_server_each_with_its_session() -> None:
    sup, spawner, _ = make()
    a = await sup.ensure_running(in_folder("a"))
    b = await sup.ensure_running(in_folder("b"))
    assert (a.session_id, b.session_id) == ("sess-a.py", "sess-b.py")
    assert len(spawner.spares) == 1, "one server for both"
    assert spawner.spawned == []
    assert server_of(sup, "a") is server_of(sup, "b")
    assert a.process is not None
    assert (a.process.base_path, a.process.file_key) == ("", "a.py")
    # Another person's notebooks never share it.
    await sup.ensure_running(in_folder("c", "bob"))
    assert server_of(sup, "c") is not server_of(sup, "a")
    await sup.shutdown()
    assert all(server.stopped for server in spawner.spares)


async def test_a_notebook_in_a_subfolder_gets_a_server_of_its_own() -> None:
    sup, spawner, _ = make()
    nested = NotebookSpec("n", 1, "alice", Path("/home/alice/sub/n.py"), Path("/home/alice"))
    await sup.ensure_running(nested)
    assert len(spawner.spawned) == 1
    assert spawner.spares == []
    await sup.shutdown()


async def test_closing_a_notebook_closes_its_session_and_the_last_the_server() -> None:
    sup, spawner, connector = make()
    await sup.ensure_running(in_folder("a"))
    await sup.ensure_running(in_folder("b"))
    (server,) = spawner.spares
    assert await sup.stop("a")
    assert connector.closed == ["a.py"]
    assert not server.stopped, "b still runs in it"
    b = sup.get("b")
    assert b is not None
    assert b.state is ProcessState.RUNNING
    assert await sup.stop("b")
    assert connector.closed == ["a.py", "b.py"]
    assert server.stopped
    # The next open starts a new server.
    await sup.ensure_running(in_folder("a"))
    assert len(spawner.spares) == 2
    await sup.shutdown()


async def test_a_dead_kernel_restarts_only_its_notebook() -> None:
    sup, spawner, connector = make()
    await sup.ensure_running(in_folder("a"))
    b = await sup.ensure_running(in_folder("b"))
    watcher = b.watcher
    connector.dead_kernels.add("b.py")
    assert watcher is not None
    async with asyncio.timeout(3):
        await watcher  # it noticed, closed the dead session and opened a new one
    await wait_for_state(sup, "b", ProcessState.RUNNING)
    assert connector.closed == ["b.py"]
    assert len(spawner.spares) == 1, "the server stayed up"
    assert server_of(sup, "b") is server_of(sup, "a")
    await sup.shutdown()


async def test_a_dead_server_restarts_all_its_notebooks_in_one_new_server() -> None:
    sup, spawner, _ = make()
    a = await sup.ensure_running(in_folder("a"))
    b = await sup.ensure_running(in_folder("b"))
    watchers = [a.watcher, b.watcher]
    (first,) = spawner.spares
    first.die(-9)
    async with asyncio.timeout(3):
        await asyncio.gather(*(w for w in watchers if w is not None))
    await wait_for_state(sup, "a", ProcessState.RUNNING)
    await wait_for_state(sup, "b", ProcessState.RUNNING)
    assert len(spawner.spares) == 2, "one new server, for both"
    assert server_of(sup, "a") is server_of(sup, "b") is spawner.spares[1]
    assert first.stopped
    await sup.shutdown()
    assert spawner.spares[1].stopped


async def test_a_server_that_never_starts_fails_its_opens_and_is_stopped() -> None:
    sup, spawner, _ = make(spare_script=[{"never_ready": True}])
    results = await asyncio.gather(
        sup.ensure_running(in_folder("a")),
        sup.ensure_running(in_folder("b")),
        return_exceptions=True,
    )
    assert all(isinstance(r, Exception) for r in results), results
    assert len(spawner.spares) == 1
    assert spawner.spares[0].stopped, "nothing left running"
    a, b = sup.get("a"), sup.get("b")
    assert a is not None
    assert b is not None
    assert (a.state, b.state) == (ProcessState.FAILED, ProcessState.FAILED)
    await sup.shutdown()


@pytest.mark.parametrize("sandbox", ["docker", "kubernetes"])
def test_the_option_is_refused_where_a_notebook_has_its_own_container(sandbox: str) -> None:
    with pytest.raises(ValidationError, match="only with bwrap or none"):
        Settings(server_per_person=True, sandbox=sandbox)
    assert Settings(server_per_person=True, sandbox="bwrap").shares_servers
    # Unset: wherever it is available.
    assert Settings(sandbox=sandbox).shares_servers is False
    assert Settings(sandbox="auto").shares_servers
    assert Settings(sandbox="none").shares_servers
    assert not Settings(server_per_person=False).shares_servers


async def test_each_limit_event_fails_one_notebook_once() -> None:
    sup, spawner, connector = make()
    connector.confines = False  # kernels with no limits of their own (prlimit, or unknown)
    a = await sup.ensure_running(in_folder("a"))
    b = await sup.ensure_running(in_folder("b"))
    (server,) = spawner.spares
    # b ran the person's server into its memory limit: its kernel was killed for it.
    server.breach, server.events = "out of memory", 1
    await kernel_dies(connector, b, "b.py")
    assert b.state is ProcessState.FAILED
    assert b.reason == "out of memory", "not restarted into the same wall"
    # What marks the limit hit stays; a later death of another kernel is not blamed on
    # it: that notebook is restarted.
    await kernel_dies(connector, a, "a.py")
    await wait_for_state(sup, "a", ProcessState.RUNNING)
    # A new event is blamed again, on whoever died with it. (a was the last session of
    # that server when its kernel died: it restarted in a new one.)
    current = server_of(sup, "a")
    assert current is not server
    current.breach, current.events = "too many processes", 1
    await kernel_dies(connector, a, "a.py")
    assert a.reason == "too many processes"
    assert a.state is ProcessState.FAILED
    await sup.shutdown()


async def test_each_kernel_has_one_notebooks_limits_and_its_breach_is_its_own() -> None:
    sup, spawner, connector = make()
    a = await sup.ensure_running(in_folder("a"))
    b = await sup.ensure_running(in_folder("b"))
    (server,) = spawner.spares
    assert spawner.folder_notebooks == 5, "the server holds a person's notebooks' limits"
    assert set(server.parts) == {"nb.a", "nb.b"}
    # b's kernel hit its own limit; cgroup v2 counts that in the server's events too.
    server.parts["nb.b"].hit = "out of memory: the notebook used more than its 2 GiB"
    server.breach, server.events = "out of memory: the person's notebooks together", 1
    # a's kernel died first, of something else: not blamed for b's limit, restarted.
    await kernel_dies(connector, a, "a.py")
    await wait_for_state(sup, "a", ProcessState.RUNNING)
    assert a.reason != server.breach
    await kernel_dies(connector, b, "b.py")
    assert b.state is ProcessState.FAILED
    assert b.reason == "out of memory: the notebook used more than its 2 GiB"
    assert server.parts["nb.b"].released, "what b's kernel started goes with it"
    # The server's event was b's: a later death of a is not blamed on it either.
    await kernel_dies(connector, a, "a.py")
    await wait_for_state(sup, "a", ProcessState.RUNNING)
    await sup.shutdown()


async def test_a_part_made_after_its_notebook_stopped_is_released(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The part is made in a thread a stop does not wait for (an open cancelled meanwhile).
    spawner = FakeSpawner()
    connector = SessionConnector()
    shared = SharedServers(spawner, connector.close_session, stop_timeout=1, notebooks_per_person=5)
    session = await shared.spawn(in_folder("a"))
    assert isinstance(session, SessionProcess)
    (server,) = spawner.spares
    making, stopped = threading.Event(), threading.Event()
    make_part = server.confine_part

    def slow_part(name: str, pids: list[int]) -> FakePart:
        making.set()
        assert stopped.wait(5)
        return make_part(name, pids)

    monkeypatch.setattr(server, "confine_part", slow_part)
    confining = asyncio.ensure_future(asyncio.to_thread(session.confine_kernel, [4242]))
    assert await asyncio.to_thread(making.wait, 5)
    await session.stop(1)  # while the part is being made
    stopped.set()
    await confining
    assert server.parts["nb.a"].released
    await shared.close()


async def kernel_dies(connector: SessionConnector, nb: ManagedProcess, key: str) -> None:
    """Kill the notebook's kernel and wait until its watcher has handled it."""
    watcher = nb.watcher
    assert watcher is not None
    connector.dead_kernels.add(key)
    async with asyncio.timeout(3):
        await watcher


async def test_close_stops_a_server_no_session_let_go_of() -> None:
    spawner = FakeSpawner()
    connector = SessionConnector()
    shared = SharedServers(spawner, connector.close_session, stop_timeout=1, notebooks_per_person=5)
    await shared.spawn(in_folder("a"))  # an open cancelled after: never stopped
    (server,) = spawner.spares
    assert not server.stopped
    await shared.close()
    assert server.stopped
