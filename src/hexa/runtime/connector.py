"""The real `Connector`: readiness and sessions through the marimo client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

import psutil

from hexa.marimo.client import MarimoClient
from hexa.marimo.errors import MarimoError
from hexa.marimo.protocol import NotebookClient
from hexa.marimo.transport import MarimoHTTP
from hexa.runtime.groups import kill_all, wait_gone
from hexa.runtime.process import NotebookProcess
from hexa.runtime.shared import SessionProcess

logger = logging.getLogger(__name__)


class MarimoConnector:
    """Waits for `/health`, opens Hexa's session, watches the session's kernel, and closes
    the session of a notebook that shares its server with others."""

    def __init__(self, http: MarimoHTTP, *, poll_interval: float = 0.05) -> None:
        self._http = http
        self._poll = poll_interval
        # process -> its session's kernel, learnt once the session is open. Keyed by the
        # process object, not the server's pid: notebooks that share a server are
        # different processes to the supervisor, each with a kernel of its own.
        self._kernels: weakref.WeakKeyDictionary[NotebookProcess, list[psutil.Process]] = (
            weakref.WeakKeyDictionary()
        )
        self._stable: weakref.WeakKeyDictionary[NotebookProcess, str] = weakref.WeakKeyDictionary()
        # Opens in one server one at a time: a session's kernel is the child that its
        # open added to the server.
        self._opening: dict[int, tuple[asyncio.Lock, int]] = {}  # server pid -> lock, users

    def client(self, process: NotebookProcess) -> NotebookClient:
        return MarimoClient(process.url, process.token, self._http, file_key=process.file_key)

    async def wait_healthy(self, process: NotebookProcess, timeout: float) -> None:
        client = self.client(process)
        async with asyncio.timeout(timeout):
            while not await client.health():
                if process.returncode() is not None:
                    raise RuntimeError(f"marimo exited with code {process.returncode()}")
                await asyncio.sleep(self._poll)

    async def open_session(self, process: NotebookProcess, timeout: float) -> str:
        if process.pid is None:
            return (await self.client(process).open_session(timeout)).stable_session_id
        # Opens in one server take turns up to their kernel-ready (not through their run):
        # a session's kernel is then the one child its open added to the server.
        gate = self._enter(process.pid)
        await gate.acquire()
        held = True
        root: int | None = None
        before: list[psutil.Process] = []

        async def ready() -> None:
            nonlocal held
            if held:
                kernels = self._kernels[process] = await self._new_kernels(root, before)
                try:
                    if kernels and isinstance(process, SessionProcess):
                        # Before its cells run: what they use counts against their limits.
                        pids = [kernel.pid for kernel in kernels]
                        await asyncio.to_thread(process.confine_kernel, pids)
                finally:
                    held = False
                    gate.release()

        try:
            root = await asyncio.to_thread(process.tree_root)
            before = await asyncio.to_thread(self._kernel_procs, root) if root else []
            info = await self.client(process).open_session(timeout, on_ready=ready)
        finally:
            if held:  # failed before its kernel was ready: one may have been made
                try:
                    self._kernels[process] = await self._new_kernels(root, before)
                finally:
                    gate.release()
            self._leave(process.pid)
        self._stable[process] = info.stable_session_id
        return info.stable_session_id

    def _enter(self, pid: int) -> asyncio.Lock:
        lock, users = self._opening.get(pid) or (asyncio.Lock(), 0)
        self._opening[pid] = (lock, users + 1)
        return lock

    def _leave(self, pid: int) -> None:
        lock, users = self._opening[pid]
        if users > 1:
            self._opening[pid] = (lock, users - 1)
        else:
            del self._opening[pid]

    async def _new_kernels(
        self, root: int | None, before: list[psutil.Process]
    ) -> list[psutil.Process]:
        """The kernel an open added below the server: exactly one new child, or none
        known (with more, which is whose cannot be told; psutil's equality includes the
        start time, so a reused pid is new)."""
        if root is None:
            return []
        after = await asyncio.to_thread(self._kernel_procs, root)
        new = [p for p in after if p not in before]
        if len(new) > 1:
            logger.warning("an open added %d kernels; none is taken as its own", len(new))
            return []
        return new

    def kernel_alive(self, process: NotebookProcess) -> bool:
        if process.pid is None:
            return True
        kernels = self._kernels.get(process)
        if not kernels:
            return True
        if any(_running(kernel) for kernel in kernels):
            return True
        self._kernels.pop(process, None)
        return False

    async def close_session(self, process: NotebookProcess, timeout: float) -> None:
        """Close the notebook's session in `process`'s server (the one Hexa opened, or any
        of its file when the open failed half-way) and see its kernel, and what its cells
        started, gone (killed after `timeout`); the server and its other sessions stay."""
        stable = self._stable.pop(process, None)
        kernels = self._kernels.pop(process, [])
        # Taken now: a cell's subprocess outlives its kernel, reparented out of reach.
        below = await asyncio.to_thread(_below, kernels)
        if process.returncode() is None:
            client = MarimoClient(
                process.url,
                process.token,
                self._http,
                stable_session_id=stable,
                file_key=process.file_key,
            )
            try:
                async with asyncio.timeout(timeout):
                    await client.close_session()
            except (MarimoError, TimeoutError) as exc:
                logger.warning("could not close the session of %s: %r", process.file_key, exc)
        if kernels or below:
            # marimo stops the kernel itself; what does not go within `timeout` is killed.
            alive = await asyncio.to_thread(wait_gone, kernels, timeout)
            if left := await asyncio.to_thread(kill_all, [*alive, *below], timeout):
                logger.error("processes %s outlived SIGKILL", [p.pid for p in left])

    @staticmethod
    def _kernel_procs(root_pid: int) -> list[psutil.Process]:
        """The session's kernel: a spawned multiprocessing child of the marimo server.

        The server is the spawned process itself, or (in a sandbox) a descendant of the
        sandbox's launcher or of the container's init; marimo's resource tracker is its
        child too, but not a kernel.
        """
        try:
            root = psutil.Process(root_pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        server = next((p for p in tree if _is_marimo_server(p)), None)
        if server is None:
            return []
        kernels: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            for child in server.children(recursive=False):
                try:
                    cmd = " ".join(child.cmdline())
                except psutil.Error:
                    continue
                if "resource_tracker" not in cmd:
                    kernels.append(child)
        return kernels


def _is_marimo_server(proc: psutil.Process) -> bool:
    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return False
    return (
        len(cmd) > 3
        and "python" in cmd[0].rsplit("/", 1)[-1]
        and cmd[1:4]
        == [
            "-m",
            "marimo",
            "edit",
        ]
    )


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _below(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Every process below `procs` now (blocking: it reads /proc)."""
    found: list[psutil.Process] = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            found += proc.children(recursive=True)
    return found
