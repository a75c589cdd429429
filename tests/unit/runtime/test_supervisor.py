"""Supervisor logic against fake processes (fakes stand in for marimo: no subprocess here).

Each fake is a failure mode in the manner of JupyterHub's SlowSpawner/BadSpawner.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import pytest

from hexa.runtime.process import NotebookProcess, NotebookSpec, OwnerSpec
from hexa.runtime.supervisor import (
    CapacityError,
    Limits,
    ManagedProcess,
    ProcessState,
    StartError,
    Supervisor,
)
from hexa.sandbox import Confinement
from tests.support.states import wait_state


@dataclass
class FakeProcess:
    """A process whose readiness and death the test controls."""

    name: str
    hold: bool = False  # not healthy until the test calls release()
    never_ready: bool = False  # never becomes healthy
    exit_at_once: int | None = None  # exits with this code before becoming healthy
    stopped: bool = False
    kernel_up: bool = True
    breach: str | None = None  # what limit_breach() reports once a limit was hit
    events: int = 0  # times a limit was hit (limit_events)
    spare: bool = False  # serves a folder until claimed (file_key then names the notebook)
    file_key: str | None = None
    parts: dict[str, FakePart] = field(default_factory=dict)  # confine_part's, by name
    probed: asyncio.Event = field(default_factory=asyncio.Event)  # health is being waited for
    _healthy: asyncio.Event = field(default_factory=asyncio.Event)
    _exited: asyncio.Event = field(default_factory=asyncio.Event)
    _code: int | None = None

    def __post_init__(self) -> None:
        if not (self.hold or self.never_ready):
            self._healthy.set()

    def release(self) -> None:
        """A held process becomes healthy."""
        self._healthy.set()

    async def wait_healthy(self) -> None:
        self.probed.set()
        await self._healthy.wait()

    @property
    def pid(self) -> int | None:
        return None

    @property
    def origin(self) -> str:
        return "http://fake"

    @property
    def base_path(self) -> str:
        return "" if self.spare else f"/{self.name}"

    @property
    def url(self) -> str:
        return f"http://fake/{self.name}"

    def claim(self, spec: NotebookSpec) -> None:
        assert self.spare, "only a spare is claimed"
        assert self.file_key is None, "only once"
        self.file_key = spec.file_key

    @property
    def token(self) -> str:
        return "t"

    async def wait(self) -> int:
        await self._exited.wait()
        assert self._code is not None
        return self._code

    def returncode(self) -> int | None:
        return self._code

    def die(self, code: int = -9) -> None:
        self._code = code
        self._exited.set()

    async def stop(self, timeout: float) -> None:
        self.stopped = True
        if self._code is None:
            self.die(-15)

    def log_tail(self, lines: int = 20) -> str:
        return f"log of {self.name}"

    def limit_breach(self) -> str | None:
        return self.breach

    def limit_events(self) -> int:
        return self.events

    def confine_part(self, name: str, pids: list[int]) -> FakePart:
        part = self.parts[name] = FakePart(pids)
        return part

    def tree_root(self) -> int | None:
        return self.pid


class FakePart(Confinement):
    """A kernel's own limits inside a fake server: the test says when they were hit."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.hit: str | None = None
        self.released = False

    def breach(self) -> str | None:
        return self.hit

    def release(self) -> None:
        self.released = True


class Mode(TypedDict, total=False):
    """A failure mode of one spawned FakeProcess (its fields of the same names)."""

    hold: bool
    never_ready: bool
    exit_at_once: int
    kernel_up: bool
    breach: str


class FakeSpawner:
    """Hands out processes from a script of failure modes, then healthy ones."""

    def __init__(
        self, script: list[Mode] | None = None, spare_script: list[Mode] | None = None
    ) -> None:
        self.script = list(script or [])
        self.spare_script = list(spare_script or [])
        self.spawned: list[FakeProcess] = []
        self.spares: list[FakeProcess] = []
        self.changed = asyncio.Event()  # set on every spawn

    async def spawn_spare(self, owner: OwnerSpec) -> FakeProcess:
        options: Mode = self.spare_script.pop(0) if self.spare_script else {}
        proc = FakeProcess(name=f"spare-{owner.owner}-{len(self.spares)}", spare=True, **options)
        self.spares.append(proc)
        return proc

    async def spawn_folder(self, owner: OwnerSpec, notebooks: int) -> FakeProcess:
        """A server of the owner's folder (a spare's kind, never claimed)."""
        self.folder_notebooks = notebooks
        return await self.spawn_spare(owner)

    async def spawn(self, spec: NotebookSpec) -> NotebookProcess:
        options: Mode = self.script.pop(0) if self.script else {}
        proc = FakeProcess(name=f"{spec.notebook_id}-{len(self.spawned)}", **options)
        if proc.exit_at_once is not None:
            proc.die(proc.exit_at_once)
        self.spawned.append(proc)
        self.changed.set()
        return proc


class FakeConnector:
    async def wait_healthy(self, process: NotebookProcess, timeout: float) -> None:
        assert isinstance(process, FakeProcess)
        async with asyncio.timeout(timeout):
            if process.returncode() is not None:
                raise RuntimeError("exited")
            await process.wait_healthy()

    async def open_session(self, process: NotebookProcess, timeout: float) -> str:
        return f"sess-{process.url.rsplit('/', 1)[-1]}"

    def kernel_alive(self, process: NotebookProcess) -> bool:
        assert isinstance(process, FakeProcess)
        return process.kernel_up


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FAST = Limits(
    max_processes=3,
    max_per_user=2,
    start_timeout=0.3,
    max_restarts=2,
    idle_timeout=100.0,
    backoff_base=0.01,
    backoff_max=0.02,
    watch_interval=0.01,
)


def spec(notebook_id: str, owner: str = "alice") -> NotebookSpec:
    owner_id = {"alice": 1, "bob": 2, "carol": 3}[owner]
    return NotebookSpec(notebook_id, owner_id, owner, Path(f"/nb/{notebook_id}.py"))


def make(
    script: list[Mode] | None = None, limits: Limits = FAST
) -> tuple[Supervisor, FakeSpawner, Clock]:
    spawner = FakeSpawner(script)
    clock = Clock()
    sup = Supervisor(spawner=spawner, connector=FakeConnector(), limits=limits, clock=clock)
    return sup, spawner, clock


async def wait_for_state(sup: Supervisor, notebook_id: str, state: ProcessState) -> None:
    await wait_state(sup, notebook_id, state, 3)


async def recovery_after_death(nb: ManagedProcess, process: FakeProcess) -> None:
    """Kill the notebook's process and wait until its watcher has recovered (or given up):
    each failed restart passes through FAILED, so the final state is known only then."""
    watcher = nb.watcher
    assert watcher is not None
    process.die(-9)
    async with asyncio.timeout(3):
        await watcher


async def probed(spawner: FakeSpawner, count: int) -> list[FakeProcess]:
    """The first `count` processes spawned, once the supervisor waits for each's health."""
    async with asyncio.timeout(3):
        while len(spawner.spawned) < count:
            await spawner.changed.wait()
            spawner.changed.clear()
        for process in spawner.spawned[:count]:
            await process.probed.wait()
    return spawner.spawned[:count]


async def test_start_gives_a_running_notebook_with_its_session() -> None:
    sup, spawner, _ = make()
    seen: list[ProcessState] = []
    sup.on_state_change(lambda nb: seen.append(nb.state))
    nb = await sup.ensure_running(spec("a"))
    assert nb.state is ProcessState.RUNNING
    assert nb.session_id == "sess-a-0"
    assert seen == [ProcessState.STARTING, ProcessState.RUNNING]
    await sup.shutdown()
    assert spawner.spawned[0].stopped


async def test_concurrent_opens_spawn_once() -> None:
    sup, spawner, _ = make([{"hold": True}])
    both = asyncio.gather(sup.ensure_running(spec("a")), sup.ensure_running(spec("a")))
    (process,) = await probed(spawner, 1)  # both opens are in, the first one is starting
    process.release()
    first, second = await both
    assert first is second
    assert len(spawner.spawned) == 1
    await sup.shutdown()


async def test_slow_start_within_deadline_succeeds() -> None:
    sup, spawner, _ = make([{"hold": True}])
    opening = asyncio.create_task(sup.ensure_running(spec("a")))
    (process,) = await probed(spawner, 1)
    nb = sup.get("a")
    assert nb is not None
    assert nb.state is ProcessState.STARTING
    process.release()
    started = await opening
    assert started is nb
    assert started.state is ProcessState.RUNNING
    await sup.shutdown()


async def test_never_starting_fails_with_timeout_and_leaves_nothing_running() -> None:
    sup, spawner, _ = make([{"never_ready": True}])
    with pytest.raises(StartError, match=r"did not become ready within 0\.3s"):
        await sup.ensure_running(spec("a"))
    nb = sup.get("a")
    assert nb is not None
    assert nb.state is ProcessState.FAILED
    assert spawner.spawned[0].stopped
    assert "log of a-0" in (nb.reason or "")


async def test_crash_at_once_reports_exit_code_and_log() -> None:
    sup, _, _ = make([{"exit_at_once": 1}])
    with pytest.raises(StartError) as info:
        await sup.ensure_running(spec("a"))
    assert "exited with code 1" in info.value.reason
    assert "log of a-0" in info.value.reason


async def test_crash_later_is_restarted_from_disk() -> None:
    sup, spawner, _ = make()
    await sup.ensure_running(spec("a"))
    spawner.spawned[0].die(-9)
    await wait_for_state(sup, "a", ProcessState.STARTING)
    await wait_for_state(sup, "a", ProcessState.RUNNING)
    assert len(spawner.spawned) == 2
    nb = sup.get("a")
    assert nb is not None
    assert nb.process is spawner.spawned[1]
    assert nb.session_id == "sess-a-1"
    await sup.shutdown()


async def test_dead_kernel_is_noticed_and_restarted() -> None:
    sup, spawner, _ = make()
    await sup.ensure_running(spec("a"))
    spawner.spawned[0].kernel_up = False
    await wait_for_state(sup, "a", ProcessState.STARTING)
    await wait_for_state(sup, "a", ProcessState.RUNNING)
    assert spawner.spawned[0].stopped, "the server with the dead kernel is stopped"
    assert len(spawner.spawned) == 2
    await sup.shutdown()


async def test_a_kernel_stopped_by_a_limit_fails_at_once_with_that_reason() -> None:
    sup, spawner, _ = make()
    await sup.ensure_running(spec("a"))
    spawner.spawned[0].breach = "out of memory: over its 64 MiB limit"
    spawner.spawned[0].kernel_up = False
    await wait_for_state(sup, "a", ProcessState.FAILED)
    nb = sup.get("a")
    assert nb is not None
    assert nb.reason == "out of memory: over its 64 MiB limit"
    assert len(spawner.spawned) == 1, "no restart into the same wall"
    assert spawner.spawned[0].stopped
    await sup.shutdown()


async def test_repeated_crashes_end_in_failed_with_reason() -> None:
    # First start works, then every restart crashes at once.
    sup, spawner, _ = make([{}, {"exit_at_once": 3}, {"exit_at_once": 3}])
    nb = await sup.ensure_running(spec("a"))
    await recovery_after_death(nb, spawner.spawned[0])
    assert nb.state is ProcessState.FAILED
    assert "stopped after 2 restarts" in (nb.reason or "")
    assert "exited with code 3" in (nb.reason or "")
    assert len(spawner.spawned) == 3
    # The person's restart button starts it fresh.
    nb = await sup.ensure_running(spec("a"))
    assert nb.state is ProcessState.RUNNING
    await sup.shutdown()


async def test_per_user_cap_is_a_clear_error_not_a_hang() -> None:
    sup, _, _ = make()
    await sup.ensure_running(spec("a"))
    await sup.ensure_running(spec("b"))
    with pytest.raises(CapacityError) as info:
        await asyncio.wait_for(sup.ensure_running(spec("c")), 1)
    assert info.value.limit == "max_notebooks_per_user"
    # Another user still gets in, up to the global cap.
    await sup.ensure_running(spec("d", owner="bob"))
    with pytest.raises(CapacityError) as info:
        await sup.ensure_running(spec("e", owner="carol"))
    assert info.value.limit == "max_processes"
    # Closing one frees its slot.
    assert await sup.stop("a")
    await sup.ensure_running(spec("c"))
    await sup.shutdown()


async def test_concurrent_opens_cannot_exceed_the_cap() -> None:
    sup, spawner, _ = make([{"hold": True}] * 4)
    opens = asyncio.gather(
        *(sup.ensure_running(spec(f"n{i}")) for i in range(4)), return_exceptions=True
    )
    for process in await probed(spawner, 2):  # two are starting: they hold the slots
        process.release()
    results = await opens
    errors = [r for r in results if isinstance(r, CapacityError)]
    assert len(errors) == 2
    assert len(spawner.spawned) == 2
    await sup.shutdown()


async def test_idle_notebook_is_stopped_and_reopens_on_use() -> None:
    sup, spawner, clock = make()
    await sup.ensure_running(spec("a"))
    await sup.ensure_running(spec("b"))
    clock.now += 60
    sup.touch("b")
    clock.now += 50
    assert await sup.cull_idle() == ["a"]
    nb_a, nb_b = sup.get("a"), sup.get("b")
    assert nb_a is not None
    assert nb_b is not None
    assert nb_a.state is ProcessState.STOPPED
    assert nb_b.state is ProcessState.RUNNING
    assert spawner.spawned[0].stopped
    again = await sup.ensure_running(spec("a"))
    assert again.state is ProcessState.RUNNING
    assert len(spawner.spawned) == 3
    await sup.shutdown()


async def test_stop_during_restart_backoff_wins() -> None:
    slow = Limits(**{**FAST.__dict__, "backoff_base": 0.3, "backoff_max": 0.3})
    sup, spawner, _ = make(limits=slow)
    nb = await sup.ensure_running(spec("a"))
    watcher = nb.watcher  # it notices the death and runs the restart with its backoff
    assert watcher is not None
    spawner.spawned[0].die(-9)
    await wait_for_state(sup, "a", ProcessState.STARTING)
    assert await sup.stop("a")
    assert nb.state is ProcessState.STOPPED
    async with asyncio.timeout(3):
        await watcher  # the restart attempt is over
    assert nb.state is ProcessState.STOPPED
    assert len(spawner.spawned) == 1, "no restart after an explicit stop"
    await sup.shutdown()


async def test_shutdown_stops_everything_and_refuses_new_starts() -> None:
    sup, spawner, _ = make()
    await sup.start()
    await sup.ensure_running(spec("a"))
    await sup.ensure_running(spec("b", owner="bob"))
    await sup.shutdown()
    assert all(p.stopped for p in spawner.spawned)
    with pytest.raises(StartError, match="shutting down"):
        await sup.ensure_running(spec("c"))
