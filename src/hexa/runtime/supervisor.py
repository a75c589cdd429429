"""The supervisor: owns every marimo process Hexa runs.

It starts notebooks under the global and per-user caps, watches them (a dead server or
kernel is restarted from the file on disk with backoff, up to a limit), stops idle ones
and stops everything on shutdown. It knows nothing of HTTP, SQL or marimo's wire format:
processes come from a `Spawner`, readiness and sessions from a `Connector`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from hexa.runtime.process import NotebookProcess, NotebookSpec, Spawner
from hexa.runtime.spares import Spares

logger = logging.getLogger(__name__)


class ProcessState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"


class RuntimeErrorBase(Exception):
    """Errors the supervisor reports to its callers."""


class CapacityError(RuntimeErrorBase):
    """A cap on running notebooks was reached; `limit` names which."""

    def __init__(self, limit: str, value: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


class StartError(RuntimeErrorBase):
    """A notebook could not be started; `reason` comes from its log where possible."""

    def __init__(self, notebook_id: str, reason: str) -> None:
        super().__init__(f"notebook {notebook_id} could not start: {reason}")
        self.notebook_id = notebook_id
        self.reason = reason


class Connector(Protocol):
    """How the supervisor learns that a process is ready and gets its session."""

    async def wait_healthy(self, process: NotebookProcess, timeout: float) -> None:
        """Return once the server answers its health check; raise TimeoutError if not."""
        ...

    async def open_session(self, process: NotebookProcess, timeout: float) -> str:
        """Open Hexa's session (cells run as on open); the stable session id."""
        ...

    def kernel_alive(self, process: NotebookProcess) -> bool:
        """False once the session's kernel has died while the server lives."""
        ...


@dataclass
class ManagedProcess:
    """The supervisor's record of one notebook."""

    spec: NotebookSpec
    state: ProcessState = ProcessState.STOPPED
    process: NotebookProcess | None = None
    session_id: str | None = None
    reason: str | None = None
    restarts: int = 0
    last_activity: float = 0.0
    started_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    watcher: asyncio.Task[None] | None = None
    stopping: bool = False

    @property
    def notebook_id(self) -> str:
        return self.spec.notebook_id

    @property
    def owner_id(self) -> int:
        return self.spec.owner_id


StateListener = Callable[[ManagedProcess], None]
# Seconds since each notebook was last used elsewhere (through other replicas), by id.
IdleSource = Callable[[list[str]], Awaitable[dict[str, float]]]


@dataclass(frozen=True)
class Limits:
    max_processes: int = 10
    max_per_user: int = 5
    start_timeout: float = 60.0
    max_restarts: int = 3
    idle_timeout: float = 7200.0
    stop_timeout: float = 5.0
    backoff_base: float = 0.5
    backoff_max: float = 10.0
    # A notebook that stayed up this long has its restart count forgiven.
    stable_after: float = 300.0
    watch_interval: float = 1.0


class Supervisor:
    """Starts, watches, restarts, culls and stops marimo processes."""

    def __init__(
        self,
        *,
        spawner: Spawner,
        connector: Connector,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        idle_source: IdleSource | None = None,
        spares: Spares | None = None,
    ) -> None:
        self._spawner = spawner
        self._spares = spares
        self._idle_source = idle_source
        self._connector = connector
        self._limits = limits
        self._clock = clock
        self._notebooks: dict[str, ManagedProcess] = {}
        self._listeners: list[StateListener] = []
        # Caps are checked and claimed under one lock so two concurrent opens can't both
        # take the last slot.
        self._admission = asyncio.Lock()
        self._culler: asyncio.Task[None] | None = None
        self._closed = False

    # -- queries -----------------------------------------------------------------------

    def get(self, notebook_id: str) -> ManagedProcess | None:
        return self._notebooks.get(notebook_id)

    def notebooks(self) -> list[ManagedProcess]:
        return list(self._notebooks.values())

    def active(self, owner_id: int | None = None) -> list[ManagedProcess]:
        live = (ProcessState.STARTING, ProcessState.RUNNING)
        return [
            nb
            for nb in self._notebooks.values()
            if nb.state in live and (owner_id is None or nb.owner_id == owner_id)
        ]

    def on_state_change(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def touch(self, notebook_id: str) -> None:
        """Record activity (API, proxy, agent) so the idle cull spares this notebook."""
        nb = self._notebooks.get(notebook_id)
        if nb is not None:
            nb.last_activity = self._clock()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Begin the periodic idle cull."""
        interval = max(0.05, min(60.0, self._limits.idle_timeout / 4))
        self._culler = asyncio.create_task(self._cull_loop(interval), name="hexa-idle-cull")

    async def ensure_running(self, spec: NotebookSpec) -> ManagedProcess:
        """Start the notebook unless it runs already; return once its session is ready.

        Raises CapacityError when a cap is reached and StartError when it won't start.
        """
        if self._closed:
            raise StartError(spec.notebook_id, "Hexa is shutting down")
        async with self._admission:
            nb = self._notebooks.get(spec.notebook_id)
            if nb is None:
                nb = ManagedProcess(spec=spec)
                self._notebooks[spec.notebook_id] = nb
            if nb.state not in (ProcessState.RUNNING, ProcessState.STARTING):
                await self._admit(spec)
                nb.spec = spec
                nb.restarts = 0
                self._set_state(nb, ProcessState.STARTING)
        nb.last_activity = self._clock()
        async with nb.lock:
            if nb.state is ProcessState.RUNNING:
                return nb
            await self._launch(nb)
        self._refill(spec)
        return nb

    async def stop(self, notebook_id: str) -> bool:
        """Stop a notebook (its file stays). False when it was not running."""
        nb = self._notebooks.get(notebook_id)
        if nb is None:
            return False
        # Set before taking the lock so a restart waiting out its backoff gives up.
        nb.stopping = True
        async with nb.lock:
            was_live = nb.state in (ProcessState.RUNNING, ProcessState.STARTING)
            await self._terminate(nb)
            self._set_state(nb, ProcessState.STOPPED)
        if self._spares is not None and not self.active(nb.owner_id):
            # Their last notebook closed: nothing says they will open another soon.
            await self._spares.drop(nb.owner_id)
        return was_live

    async def restart(self, spec: NotebookSpec) -> ManagedProcess:
        """Stop and start again from the file on disk (the person's restart button)."""
        await self.stop(spec.notebook_id)
        return await self.ensure_running(spec)

    async def forget(self, notebook_id: str) -> None:
        """Stop and drop all record of a notebook (it was deleted)."""
        await self.stop(notebook_id)
        self._notebooks.pop(notebook_id, None)

    async def shutdown(self) -> None:
        """Stop every process; called when `hexa serve` exits."""
        self._closed = True
        if self._spares is not None:
            await self._spares.close()
        if self._culler is not None:
            self._culler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._culler
        await asyncio.gather(
            *(self.stop(nb.notebook_id) for nb in list(self._notebooks.values())),
            return_exceptions=True,
        )

    async def cull_idle(self) -> list[str]:
        """Stop notebooks idle for longer than the idle timeout; their ids."""
        now = self._clock()
        timeout = self._limits.idle_timeout
        candidates = [
            nb
            for nb in self.active()
            if nb.state is ProcessState.RUNNING and now - nb.last_activity >= timeout
        ]
        if candidates and self._idle_source is not None:
            # Used through another replica since? Then it is not idle.
            try:
                elsewhere = await self._idle_source([nb.notebook_id for nb in candidates])
            except Exception:
                logger.exception("could not read notebooks' use through other replicas")
                elsewhere = {}
            for nb in candidates:
                seconds = elsewhere.get(nb.notebook_id)
                if seconds is not None:
                    nb.last_activity = max(nb.last_activity, now - seconds)
        idle = [nb.notebook_id for nb in candidates if now - nb.last_activity >= timeout]
        for notebook_id in idle:
            logger.info("stopping idle notebook %s", notebook_id)
            await self.stop(notebook_id)
        if self._spares is not None:
            for owner_id in self._spares.owners():
                if not self.active(owner_id):  # their notebooks failed or were taken over
                    await self._spares.drop(owner_id)
        return idle

    # -- internals -----------------------------------------------------------------------

    async def _admit(self, spec: NotebookSpec) -> None:
        """Check the caps for one more notebook of `spec`'s owner; at the server's cap a
        spare gives way to it (the owner's own becomes it, where it can)."""
        if self._spares is not None:
            keep = spec.owner_id if spec.spare_can_serve else None
            while len(self.active()) + self._spares.count(
                besides=keep
            ) >= self._limits.max_processes and await self._spares.drop_other(keep):
                pass
        self._check_caps(spec)

    def _refill(self, spec: NotebookSpec) -> None:
        """Start the owner's next spare, where the caps leave room for it."""
        if self._spares is None or self._closed:
            return
        if len(self.active(spec.owner_id)) >= self._limits.max_per_user:
            return
        if len(self.active()) + self._spares.count() >= self._limits.max_processes:
            return
        self._spares.fill(spec.owner_spec)

    def _check_caps(self, spec: NotebookSpec) -> None:
        mine = self.active(spec.owner_id)
        if len(mine) >= self._limits.max_per_user:
            raise CapacityError(
                "max_notebooks_per_user",
                self._limits.max_per_user,
                f"you already have {len(mine)} open notebooks, the limit per user "
                f"(max_notebooks_per_user={self._limits.max_per_user}); close one first",
            )
        everyone = self.active()
        if len(everyone) >= self._limits.max_processes:
            raise CapacityError(
                "max_processes",
                self._limits.max_processes,
                f"the server runs {len(everyone)} notebooks, its limit "
                f"(max_processes={self._limits.max_processes}); try again later",
            )

    async def _launch(self, nb: ManagedProcess) -> None:
        """Spawn, wait for health and session; on failure leave nothing running."""
        self._set_state(nb, ProcessState.STARTING)
        nb.stopping = False
        process: NotebookProcess | None = None
        if self._spares is not None and nb.spec.spare_can_serve:
            spare = await self._spares.take(nb.owner_id)
            if spare is not None:
                await asyncio.to_thread(spare.claim, nb.spec)
                process = spare
        if process is None:
            try:
                process = await self._spawner.spawn(nb.spec)
            except OSError as exc:
                self._fail(nb, f"could not spawn marimo: {exc}")
                raise StartError(nb.notebook_id, str(exc)) from exc
        nb.process = process
        try:
            await self._connector.wait_healthy(process, self._limits.start_timeout)
            nb.session_id = await self._connector.open_session(process, self._limits.start_timeout)
        except BaseException as exc:
            reason = self._reason(process, exc)
            await self._terminate(nb)
            self._fail(nb, reason)
            if isinstance(exc, Exception):
                raise StartError(nb.notebook_id, reason) from exc
            raise
        nb.started_at = self._clock()
        nb.last_activity = nb.started_at
        nb.watcher = asyncio.create_task(self._watch(nb, process), name=f"watch-{nb.notebook_id}")
        self._set_state(nb, ProcessState.RUNNING)

    def _reason(self, process: NotebookProcess, exc: BaseException) -> str:
        code = process.returncode()
        tail = process.log_tail(8).strip()
        if code is not None:
            head = f"marimo exited with code {code}"
        elif isinstance(exc, TimeoutError):
            head = f"marimo did not become ready within {self._limits.start_timeout:g}s"
        else:
            head = f"{type(exc).__name__}: {exc}"
        return f"{head}\n{tail}" if tail else head

    async def _watch(self, nb: ManagedProcess, process: NotebookProcess) -> None:
        """Notice a dead server or kernel within seconds and restart it from the file."""
        exit_task = asyncio.ensure_future(process.wait())
        try:
            while not exit_task.done():
                done, _ = await asyncio.wait({exit_task}, timeout=self._limits.watch_interval)
                if done or nb.stopping:
                    break
                if not self._connector.kernel_alive(process):
                    logger.warning("kernel of notebook %s died", nb.notebook_id)
                    break
        finally:
            if not exit_task.done():
                exit_task.cancel()
        if nb.stopping or nb.process is not process:
            return
        # The watcher itself recovers: _terminate skips cancelling the current task.
        await self._recover(nb, process)

    async def _recover(self, nb: ManagedProcess, dead: NotebookProcess) -> None:
        async with nb.lock:
            if nb.stopping or nb.process is not dead:
                return
            reason = self._reason(dead, RuntimeError("the notebook process died"))
            breach = dead.limit_breach()
            await self._terminate(nb)
            if breach is not None:
                # Starting again would run the same cells into the same wall.
                self._fail(nb, breach)
                return
            if self._clock() - nb.started_at >= self._limits.stable_after:
                nb.restarts = 0
            while nb.restarts < self._limits.max_restarts and not self._closed:
                nb.restarts += 1
                delay = min(
                    self._limits.backoff_max,
                    self._limits.backoff_base * 2 ** (nb.restarts - 1),
                )
                logger.warning(
                    "restarting notebook %s in %.1fs (attempt %d/%d)",
                    nb.notebook_id,
                    delay,
                    nb.restarts,
                    self._limits.max_restarts,
                )
                self._set_state(nb, ProcessState.STARTING)
                await asyncio.sleep(delay)
                if nb.stopping or self._closed:
                    return
                try:
                    await self._launch(nb)
                except StartError as exc:
                    reason = exc.reason
                    continue
                return
            self._fail(nb, f"stopped after {nb.restarts} restarts: {reason}")

    async def _terminate(self, nb: ManagedProcess) -> None:
        watcher, nb.watcher = nb.watcher, None
        process, nb.process = nb.process, None
        nb.session_id = None
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if process is not None:
            await process.stop(self._limits.stop_timeout)

    def _fail(self, nb: ManagedProcess, reason: str) -> None:
        logger.error("notebook %s failed: %s", nb.notebook_id, reason)
        nb.reason = reason
        self._set_state(nb, ProcessState.FAILED)

    def _set_state(self, nb: ManagedProcess, state: ProcessState) -> None:
        if state in (ProcessState.RUNNING, ProcessState.STOPPED):
            nb.reason = None
        if nb.state is state:
            return
        nb.state = state
        for listener in self._listeners:
            try:
                listener(nb)
            except Exception:
                logger.exception("state listener failed")

    async def _cull_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.cull_idle()
            except Exception:
                logger.exception("idle cull failed")
