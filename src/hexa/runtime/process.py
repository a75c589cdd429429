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

from hexa.runtime.groups import kill_group, wait_group_gone
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


class NotebookProcess(Protocol):
    """A running notebook server, as the supervisor needs to see it."""

    @property
    def pid(self) -> int | None: ...
    @property
    def origin(self) -> str:
        """Where the server listens, e.g. http://127.0.0.1:4321."""
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


class MarimoProcess:
    """A real `marimo edit` process in its own process group."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        *,
        port: int,
        token: str,
        spec: NotebookSpec,
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
        self._spec = spec
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
    def url(self) -> str:
        return f"{self.origin}{self._spec.base_url}"

    @property
    def token(self) -> str:
        return self._token

    async def wait(self) -> int:
        return await self._proc.wait()

    def returncode(self) -> int | None:
        return self._proc.returncode

    async def stop(self, timeout: float = 5.0) -> None:
        # The kernel and marimo's resource tracker share the server's process group, so
        # the group (not just the pid) is what must go.
        pgid = self._proc.pid
        if kill_group(pgid, signal.SIGTERM):
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except TimeoutError:
                logger.warning("notebook %s ignored SIGTERM; killing", self._spec.notebook_id)
            # Children may outlive the server after SIGTERM; the group goes either way.
            kill_group(pgid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._proc.wait(), timeout)
        if not await wait_group_gone(pgid, timeout):
            logger.error("process group %s of %s outlived SIGKILL", pgid, self._spec.notebook_id)
        await asyncio.to_thread(self._confinement.release)
        await self._pump.close()
        self._pid_file.remove(self._spec.notebook_id)

    def limit_breach(self) -> str | None:
        return self._confinement.breach()

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

    def jail(self, spec: NotebookSpec, home: Path) -> Jail:
        """The notebook's folder and HOME, the only places it may write.

        Where the sandbox can, they appear at /home/<user> and /home/<user>/notebooks,
        wherever Hexa's data dir is: marimo's editor never autosaves a file under /tmp
        (nor shows a name a person would recognise), and Hexa's paths are none of the
        notebook's business.
        """
        folder = spec.folder or spec.path.parent
        if not self._sandbox.relocates:
            return Jail(
                name=spec.notebook_id,
                owner_id=spec.owner_id,
                owner=spec.owner,
                binds=(Bind(folder, folder), Bind(home, home)),
                cwd=spec.path.parent,
            )
        inside_home = home_root() / spec.owner
        binds = (Bind(home, inside_home), Bind(folder, inside_home / "notebooks"))
        jail = Jail(spec.notebook_id, spec.owner_id, spec.owner, binds, inside_home)
        return replace(jail, cwd=jail.inside(spec.path.parent))

    def command(self, spec: NotebookSpec, port: int, path: Path | None = None) -> list[str]:
        """`path`: the notebook as marimo sees it (default: the host's path)."""
        return [
            str(self._python),
            "-m",
            "marimo",
            "edit",
            str(path or spec.path),
            "--headless",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--base-url",
            spec.base_url,
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
        self._logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        log_path = self._logs_dir / f"{spec.notebook_id}.log"
        token = secrets.token_urlsafe(32)
        port = free_port()
        home = self.home(spec.owner)
        for sub in (".config", ".cache", ".local/state", ".local/share"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        jail = self.jail(spec, home)
        inside_path = jail.inside(spec.path)
        launch = self._sandbox.launch(self.command(spec, port, inside_path), jail)
        user = launch.identity.name if launch.identity is not None else spec.owner
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
                cwd=str(spec.path.parent),
                env=env,
                start_new_session=True,
            )
        except BaseException:
            launch.confinement.release()
            raise
        self._pid_file.write(spec.notebook_id, proc.pid)
        assert proc.stdin is not None
        assert proc.stdout is not None
        # marimo prints its URL with the token; the pump writes the log without it.
        pump = LogPump(proc.stdout, log_path, secrets=(token,))
        proc.stdin.write(token.encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
        proc.stdin.close()
        logger.info("started marimo for %s: pid %s port %s", spec.notebook_id, proc.pid, port)
        return MarimoProcess(
            proc,
            port=port,
            token=token,
            spec=spec,
            log_path=log_path,
            pid_file=self._pid_file,
            confinement=launch.confinement,
            pump=pump,
        )
