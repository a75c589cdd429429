"""One marimo server per person (an option): each of their notebooks is a session in it.

The server serves the person's folder, in their sandbox, like a spare; a notebook there
opens as a session (`?file=`), with a kernel of its own. What a person's second notebook
costs is then its kernel, not a second server (bench/memory.py measured 0.41x plain
marimo's memory against 1.00x, and about half the CPU of an open).

To the supervisor each notebook is still a `NotebookProcess` of its own (`SessionProcess`):
it is started, watched, restarted and stopped alone. Stopping one closes its session and
sees its kernel gone; the server stops with the person's last session. A server that dies
takes every session in it down: each is restarted in a new server, as a crashed notebook
is. Each kernel gets one notebook's limits (memory, processes, CPU: a cgroup of its own,
`Confinement.part`) once the connector knows it, inside the server's, which are as many
notebooks' as a person may open; a limit a kernel hits is then its own notebook's. A
notebook in a subfolder gets a server of its own, as with spares, so that its relative
paths keep meaning what they did.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from hexa.runtime.process import NotebookProcess, NotebookSpec, OwnerSpec, Spawner
from hexa.sandbox import Confinement

logger = logging.getLogger(__name__)

# Closes a notebook's session in its server and sees its kernel gone (the connector's).
SessionCloser = Callable[[NotebookProcess, float], Awaitable[None]]


class FolderServer(NotebookProcess, Protocol):
    def limit_events(self) -> int:
        """Times a limit stopped something in the server's tree so far."""
        ...

    def confine_part(self, name: str, pids: list[int]) -> Confinement | None:
        """One notebook's limits within the server's, for its kernel (blocking); None
        where it gets none of its own."""
        ...


class FolderSpawner(Spawner, Protocol):
    async def spawn_folder(self, owner: OwnerSpec, notebooks: int) -> FolderServer:
        """A marimo serving the owner's folder, no notebook open yet, with the limits of
        `notebooks` notebooks together."""
        ...


@dataclass(eq=False)
class _Server:
    owner_id: int
    process: FolderServer
    sessions: int = 0
    # Limit events already blamed on a notebook: the limits are the server's, and what
    # marks them hit stays, so each event is one notebook's reason to fail, once.
    blamed: int = 0

    def new_breach(self) -> str | None:
        """The breach behind the latest limit event not blamed yet (None if none)."""
        events = self.process.limit_events()
        if events <= self.blamed:
            return None
        self.blamed = events
        return self.process.limit_breach()


@dataclass(eq=False)
class _Owner:
    """A person's server, and the lock its starts and stops take (kept for good: small)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    server: _Server | None = None  # the one new sessions go to


class SharedServers:
    """A `Spawner`: a session in the owner's server for notebooks in their folder, a
    server of their own for the others."""

    def __init__(
        self,
        spawner: FolderSpawner,
        close_session: SessionCloser,
        *,
        stop_timeout: float,
        notebooks_per_person: int,
    ) -> None:
        self._spawner = spawner
        self.close_session = close_session
        self._stop_timeout = stop_timeout
        self._notebooks = notebooks_per_person
        self._owners: dict[int, _Owner] = {}

    async def spawn(self, spec: NotebookSpec) -> NotebookProcess:
        if not spec.spare_can_serve:
            return await self._spawner.spawn(spec)
        owner = self._owners.setdefault(spec.owner_id, _Owner())
        async with owner.lock:
            server = owner.server
            if server is None or server.process.returncode() is not None:
                # None yet, or it died: its sessions let go of it as they are restarted.
                process = await self._spawner.spawn_folder(spec.owner_spec, self._notebooks)
                server = owner.server = _Server(spec.owner_id, process)
                logger.info("started the shared marimo of %s (pid %s)", spec.owner, process.pid)
            # Counted and handed out with no await between: a cancelled open either has
            # its session to stop or was never counted.
            server.sessions += 1
            return SessionProcess(self, server, spec.file_key, spec.notebook_id)

    async def close(self) -> None:
        """Stop every server still up (at shutdown, after the supervisor stopped its
        notebooks, which normally stopped them already)."""
        for owner in list(self._owners.values()):
            async with owner.lock:
                server, owner.server = owner.server, None
            if server is not None:
                await server.process.stop(self._stop_timeout)

    async def release(self, server: _Server) -> None:
        """One session fewer; the server stops with its last (outside the lock: a new
        open of theirs meanwhile starts a new server instead of waiting)."""
        owner = self._owners[server.owner_id]
        async with owner.lock:
            server.sessions -= 1
            last = server.sessions == 0
            if last and owner.server is server:
                owner.server = None
        if last:
            await server.process.stop(self._stop_timeout)


class SessionProcess:
    """One notebook in a shared server: the server, seen through its session."""

    def __init__(
        self, servers: SharedServers, server: _Server, file_key: str, notebook_id: str
    ) -> None:
        self._servers = servers
        self._server = server
        self._file_key = file_key
        self._notebook_id = notebook_id
        self._stopped = False
        self._part: Confinement | None = None  # its kernel's limits, once it is known
        # The part is made in a thread that a stop does not wait for: whichever of the
        # two comes second releases it.
        self._part_lock = threading.Lock()

    def confine_kernel(self, pids: list[int]) -> None:
        """The notebook's limits, within the server's, for its kernel (blocking: the
        connector calls it in a thread once it knows the kernel)."""
        if self._part is not None or self._stopped:
            return
        part = self.server.confine_part(f"nb.{self._notebook_id}", pids)
        if part is None:
            return
        with self._part_lock:
            late = self._stopped
            if not late:
                self._part = part
        if late:
            part.release()
        else:
            logger.info("kernel %s of %s has limits of its own", pids, self._notebook_id)

    @property
    def server(self) -> FolderServer:
        return self._server.process

    @property
    def pid(self) -> int | None:
        return self.server.pid

    @property
    def origin(self) -> str:
        return self.server.origin

    @property
    def base_path(self) -> str:
        return ""  # the server sits at its root; the proxy maps /nb/<id>/ onto it

    @property
    def file_key(self) -> str:
        return self._file_key

    @property
    def url(self) -> str:
        return self.server.origin

    @property
    def token(self) -> str:
        return self.server.token

    async def wait(self) -> int:
        return await self.server.wait()

    def returncode(self) -> int | None:
        return self.server.returncode()

    async def stop(self, timeout: float) -> None:
        """Close this notebook's session (its kernel goes); the server stops with the
        person's last."""
        if self._stopped:
            return
        with self._part_lock:
            self._stopped = True
        try:
            await self._servers.close_session(self, timeout)
        except Exception:
            logger.exception("could not close the session of %s", self._file_key)
        finally:
            try:
                with self._part_lock:
                    part = self._part
                if part is not None:  # what the kernel started goes with it
                    await asyncio.to_thread(part.release)
            finally:
                await self._servers.release(self._server)

    def log_tail(self, lines: int = 20) -> str:
        return self.server.log_tail(lines)

    def limit_breach(self) -> str | None:
        # Asked when its kernel died.
        if self._part is not None:
            # Exact: a kill for memory counts where the killed process was (its own
            # cgroup), whichever limit it hit, its own or the person's.
            own = self._part.breach()
            if own is not None:  # cgroup v2 counts it in the server's too: not another's
                self._server.blamed = max(self._server.blamed, self._server.process.limit_events())
            return own
        # A kernel with no cgroup of its own: an event of the server's since the last one
        # blamed is taken as its doing (a kernel killed for memory is noticed within a
        # watch interval).
        return self._server.new_breach()

    def tree_root(self) -> int | None:
        return self.server.tree_root()
