"""The real `Connector`: readiness and sessions through the marimo client."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx2
import psutil

from hexa.marimo.client import MarimoClient
from hexa.marimo.protocol import NotebookClient
from hexa.runtime.process import NotebookProcess

logger = logging.getLogger(__name__)


class MarimoConnector:
    """Waits for `/health`, opens Hexa's session, and watches the session's kernel."""

    def __init__(self, http: httpx2.AsyncClient, *, poll_interval: float = 0.05) -> None:
        self._http = http
        self._poll = poll_interval
        # server pid -> pids of its kernel processes, learnt once the session is open.
        self._kernels: dict[int, set[int]] = {}

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
        info = await self.client(process).open_session(timeout)
        if process.pid is not None:
            root = await asyncio.to_thread(process.tree_root)
            if root is not None:
                self._kernels[process.pid] = self._kernel_pids(root)
        return info.stable_session_id

    def kernel_alive(self, process: NotebookProcess) -> bool:
        if process.pid is None:
            return True
        kernels = self._kernels.get(process.pid)
        if not kernels:
            return True
        for pid in kernels:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    return True
            except psutil.Error:
                continue
        self._kernels.pop(process.pid, None)
        return False

    @staticmethod
    def _kernel_pids(root_pid: int) -> set[int]:
        """The session's kernel: a spawned multiprocessing child of the marimo server.

        The server is the spawned process itself, or (in a sandbox) a descendant of the
        sandbox's launcher or of the container's init; marimo's resource tracker is its
        child too, but not a kernel.
        """
        try:
            root = psutil.Process(root_pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return set()
        server = next((p for p in tree if _is_marimo_server(p)), None)
        if server is None:
            return set()
        kernels: set[int] = set()
        with contextlib.suppress(psutil.Error):
            for child in server.children(recursive=False):
                try:
                    cmd = " ".join(child.cmdline())
                except psutil.Error:
                    continue
                if "resource_tracker" not in cmd:
                    kernels.add(child.pid)
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
