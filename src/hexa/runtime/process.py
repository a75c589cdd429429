"""One `marimo edit` server process, and the interface the supervisor sees it through.

The supervisor never touches `subprocess` itself: it asks a `Spawner` for a
`NotebookProcess`. `MarimoSpawner` makes real ones; tests pass fakes with failure modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from hexa.runtime.groups import descendants, kill_all, kill_group, wait_group_gone
from hexa.runtime.logpump import LogPump
from hexa.runtime.pidfile import PidFile
from hexa.runtime.ports import free_port
from hexa.sandbox import (
    Bind,
    Confinement,
    Jail,
    PlainSandbox,
    Sandbox,
    home_root,
    sandbox_environment,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotebookSpec:
    """What is needed to run one notebook."""

    notebook_id: str
    owner_id: int  # owners are keyed by id; the name only names their home folder
    owner: str
    path: Path  # absolute path of the notebook's .py file
    folder: Path | None = None  # the owner's notebook folder (default: the file's folder)

    @property
    def base_url(self) -> str:
        return f"/nb/{self.notebook_id}"

    @property
    def home_folder(self) -> Path:
        return self.folder or self.path.parent

    @property
    def owner_spec(self) -> OwnerSpec:
        return OwnerSpec(self.owner_id, self.owner, self.home_folder)

    @property
    def spare_can_serve(self) -> bool:
        """A spare runs in the owner's folder: a notebook in a subfolder gets a marimo of
        its own started there, so that its relative paths keep meaning what they did."""
        return self.path.parent == self.home_folder

    @property
    def file_key(self) -> str:
        """The notebook as a marimo serving its owner's folder names it."""
        return self.path.relative_to(self.home_folder).as_posix()


@dataclass(frozen=True)
class OwnerSpec:
    """Whose spare to start: a marimo for the owner's next notebook, file not yet known."""

    owner_id: int
    owner: str
    folder: Path  # the owner's notebook folder, which the spare serves


class NotebookProcess(Protocol):
    """A running notebook server, as the supervisor needs to see it."""

    @property
    def pid(self) -> int | None: ...
    @property
    def origin(self) -> str:
        """Where the server listens, e.g. http://127.0.0.1:4321."""
        ...

    @property
    def base_path(self) -> str:
        """marimo's base URL path: `/nb/<id>`, or "" for a spare's marimo at its root."""
        ...

    @property
    def file_key(self) -> str | None:
        """The notebook a spare's marimo was given (sent as `?file=`); None otherwise."""
        ...

    @property
    def url(self) -> str:
        """Upstream URL including the base path, e.g. http://127.0.0.1:4321/nb/abc."""
        ...

    @property
    def token(self) -> str: ...
    async def wait(self) -> int:
        """Wait for the process to exit; its exit code."""
        ...

    def returncode(self) -> int | None: ...
    async def stop(self, timeout: float) -> None:
        """SIGTERM the whole process group, wait up to `timeout`, then SIGKILL."""
        ...

    def log_tail(self, lines: int = 20) -> str: ...

    def limit_breach(self) -> str | None:
        """Why a resource limit stopped it (out of memory, too many processes), if so."""
        ...

    def tree_root(self) -> int | None:
        """The pid whose descendants are marimo's server and kernel (blocking: it may ask
        a container runtime), or None before it started."""
        ...


class Spawner(Protocol):
    async def spawn(self, spec: NotebookSpec) -> NotebookProcess: ...


class SpareProcess(NotebookProcess, Protocol):
    def claim(self, spec: NotebookSpec) -> None:
        """From now on this marimo serves `spec`'s notebook (and only it). Blocking: a
        container runtime may be asked to rename it."""
        ...


class SpareSpawner(Protocol):
    async def spawn_spare(self, owner: OwnerSpec) -> SpareProcess: ...


class MarimoProcess:
    """A real `marimo edit` process in its own process group."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        *,
        port: int,
        token: str,
        name: str,
        base_path: str,
        log_path: Path,
        pid_file: PidFile,
        confinement: Confinement,
        pump: LogPump,
    ) -> None:
        self._proc = proc
        self._confinement = confinement
        self._pump = pump
        self._port = port
        self._token = token
        self._name = name  # the notebook id, or a spare's name until it is claimed
        self._base_path = base_path
        self._file_key: str | None = None
        self._log_path = log_path
        self._pid_file = pid_file

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def port(self) -> int:
        return self._port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_path(self) -> str:
        return self._base_path

    @property
    def file_key(self) -> str | None:
        return self._file_key

    @property
    def url(self) -> str:
        return f"{self.origin}{self._base_path}"

    def claim(self, spec: NotebookSpec) -> None:
        if self._base_path or self._file_key is not None:
            raise ValueError("only an unclaimed spare (a marimo serving a folder) is claimed")
        self._file_key = spec.file_key
        # Named for the notebook from now on, so its log is found next to its others.
        named = self._log_path.with_name(f"{spec.notebook_id}.{self._name}.log")
        with contextlib.suppress(OSError):
            self._log_path.rename(named)  # the pump's open file follows it
            self._log_path = named
        self._confinement.rename(spec.notebook_id)
        logger.info("spare %s (pid %s) now serves %s", self._name, self.pid, spec.notebook_id)

    @property
    def token(self) -> str:
        return self._token

    async def wait(self) -> int:
        return await self._proc.wait()

    def returncode(self) -> int | None:
        return self._proc.returncode

    async def stop(self, timeout: float = 5.0) -> None:
        # marimo's resource tracker shares the server's process group, so the group (not
        # just the pid) is what must go. The kernel does not: marimo makes it a group
        # leader. Left alone it would exit about a second after its server, so the tree,
        # taken now, goes too (inside bwrap or Docker the sandbox takes it down anyway).
        pgid = self._proc.pid
        # Only while the server is ours to reap: once reaped, its pid may be another's.
        below = await asyncio.to_thread(descendants, pgid) if self._proc.returncode is None else []
        if kill_group(pgid, signal.SIGTERM):
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except TimeoutError:
                logger.warning("marimo %s ignored SIGTERM; killing", self._name)
            # Children may outlive the server after SIGTERM; the group goes either way.
            kill_group(pgid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._proc.wait(), timeout)
        if not await wait_group_gone(pgid, timeout):
            logger.error("process group %s of %s outlived SIGKILL", pgid, self._name)
        if left := await asyncio.to_thread(kill_all, below, timeout):
            logger.error("processes %s of %s outlived SIGKILL", [p.pid for p in left], self._name)
        await asyncio.to_thread(self._confinement.release)
        await self._pump.close()
        self._pid_file.remove(self._name)

    def limit_breach(self) -> str | None:
        return self._confinement.breach()

    def limit_events(self) -> int:
        """Times a limit stopped something in its tree so far (see Confinement)."""
        return self._confinement.limit_events()

    def confine_part(self, name: str, pids: list[int]) -> Confinement | None:
        """One notebook's limits within the server's, for its kernel (blocking)."""
        return self._confinement.part(name, pids)

    def tree_root(self) -> int | None:
        return self._confinement.tree_root(self._proc.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            with self._log_path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 16384))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# Under the user's HOME: what they `pip install` outlives restarts of their notebooks.
PACKAGES = Path(".local/lib/hexa-packages")


class MarimoSpawner:
    """Starts `marimo edit` the verified way (research/marimo-api.md §1, §7), inside the
    sandbox it is given (a plain process by default)."""

    def __init__(
        self,
        *,
        python: Path,
        home_root: Path,
        logs_dir: Path,
        pid_file: PidFile,
        sandbox: Sandbox | None = None,
    ) -> None:
        self._python = python
        self._home_root = home_root
        self._logs_dir = logs_dir
        self._pid_file = pid_file
        self._sandbox: Sandbox = sandbox or PlainSandbox()

    def home(self, owner: str) -> Path:
        """The user's HOME: marimo writes config and caches there, per user."""
        return self._home_root / owner

    def jail(self, name: str, owner: OwnerSpec, home: Path, cwd: Path, notebooks: int = 1) -> Jail:
        """The owner's folder and HOME, the only places it may write.

        Where the sandbox can, they appear at /home/<user> and /home/<user>/notebooks,
        wherever Hexa's data dir is: marimo's editor never autosaves a file under /tmp
        (nor shows a name a person would recognise), and Hexa's paths are none of the
        notebook's business.
        """
        folder = owner.folder
        if not self._sandbox.relocates:
            binds = (Bind(folder, folder), Bind(home, home))
            return Jail(name, owner.owner_id, owner.owner, binds, cwd, notebooks)
        inside_home = home_root() / owner.owner
        binds = (Bind(home, inside_home), Bind(folder, inside_home / "notebooks"))
        jail = Jail(name, owner.owner_id, owner.owner, binds, inside_home, notebooks)
        return replace(jail, cwd=jail.inside(cwd))

    def command(self, target: Path, port: int, base_url: str | None) -> list[str]:
        """`target`: the notebook, or the folder a spare serves, as marimo sees it."""
        return [
            str(self._python),
            "-m",
            "marimo",
            "edit",
            str(target),
            "--headless",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            # A spare's marimo sits at its root: the proxy maps /nb/<id>/ onto it.
            *(["--base-url", base_url] if base_url else []),
            # The token arrives on stdin: never on a command line that `ps` shows.
            "--token-password-file",
            "-",
            "--skip-update-check",
            # Skew protection guards against a stale browser after a server restart; Hexa
            # restarts servers on crash and the browser must keep working across that.
            # marimo's own JupyterHub extension turns it off the same way.
            "--no-skew-protection",
        ]

    async def spawn(self, spec: NotebookSpec) -> NotebookProcess:
        return await self._start(
            spec.notebook_id, spec.owner_spec, spec.path, spec.path.parent, spec.base_url
        )

    async def spawn_spare(self, owner: OwnerSpec) -> SpareProcess:
        """marimo serving the owner's folder, no notebook open yet: the first session
        (with `?file=`) starts the kernel for that notebook."""
        name = f"spare.{secrets.token_hex(6)}"
        return await self._start(name, owner, owner.folder, owner.folder, "")

    async def spawn_folder(self, owner: OwnerSpec, notebooks: int) -> MarimoProcess:
        """marimo serving the owner's folder, shared by up to `notebooks` of theirs there
        (one session and kernel each: `hexa.runtime.shared`), with their limits together."""
        name = f"person{owner.owner_id}.{secrets.token_hex(6)}"
        return await self._start(name, owner, owner.folder, owner.folder, "", notebooks)

    async def _start(
        self,
        name: str,
        owner: OwnerSpec,
        target: Path,
        host_cwd: Path,
        base_url: str,
        notebooks: int = 1,
    ) -> MarimoProcess:
        self._logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        log_path = self._logs_dir / f"{name}.log"
        token = secrets.token_urlsafe(32)
        port = free_port()
        home = self.home(owner.owner)
        for sub in (".config", ".cache", ".local/state", ".local/share"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        jail = self.jail(name, owner, home, host_cwd, notebooks)
        launch = self._sandbox.launch(self.command(jail.inside(target), port, base_url), jail)
        user = launch.identity.name if launch.identity is not None else owner.owner
        inside_home = jail.inside(home)
        env = sandbox_environment(inside_home, user=user, packages=inside_home / PACKAGES)
        # marimo's terminal starts its shell in $PWD.
        env["PWD"] = str(jail.cwd)
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=str(host_cwd),
                env=env,
                start_new_session=True,
            )
        except BaseException:
            launch.confinement.release()
            raise
        self._pid_file.write(name, proc.pid)
        assert proc.stdin is not None
        assert proc.stdout is not None
        # marimo prints its URL with the token; the pump writes the log without it.
        pump = LogPump(proc.stdout, log_path, secrets=(token,))
        proc.stdin.write(token.encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
        proc.stdin.close()
        logger.info("started marimo %s: pid %s port %s", name, proc.pid, port)
        return MarimoProcess(
            proc,
            port=port,
            token=token,
            name=name,
            base_path=base_url,
            log_path=log_path,
            pid_file=self._pid_file,
            confinement=launch.confinement,
            pump=pump,
        )
