"""A throwaway PostgreSQL cluster for the tests, and a fresh database in it per test.

`postgres_cluster()` runs `initdb` into a temporary directory and starts `postgres` on a
free loopback port (127.0.0.1 only; its unix socket in that directory too), as the
`postgres` OS user when the tests run as root (PostgreSQL refuses root). It needs
PostgreSQL 15 or later (an ICU default collation). It is stopped
(fast shutdown, then whatever is left of its process group killed) and its directory
removed when the block ends, failing or not; a test run that is itself killed takes the
postmaster with it (parent-death signal), so no PostgreSQL outlives the tests, and the
next run deletes the directory it left.

Nothing sleeps: the server is ready when it logs that it accepts connections (its stderr
is read as it comes), with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.server import free_port

# Debian installs the server binaries here (postgresql-NN); only some are put on PATH.
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
OS_USER = "postgres"
SUPERUSER = "postgres"
READY = "database system is ready to accept connections"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1
PREFIX = "hexa-pg-"
# The pid of the test process that made the cluster: its directory is stale once it is gone.
OWNER_FILE = "owner.pid"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (`make postgres` installs them)."""


def find_bindir() -> Path:
    """The directory holding `initdb` and `postgres`: from PATH, else Debian's newest."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).resolve().parent
    candidates = sorted(
        Path("/").glob(DEBIAN_BINDIRS.lstrip("/")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PostgresUnavailable(
        f"initdb is neither on PATH nor in {DEBIAN_BINDIRS}: run `make postgres`"
    )


def _die_with_parent() -> None:
    """In the child, after it changed user (which clears the setting): SIGINT (a fast
    shutdown) to the postmaster when the test process dies without stopping it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)


@dataclass
class PostgresCluster:
    root: Path
    bindir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _log: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    _ready: threading.Event = field(default_factory=threading.Event)
    _reader: threading.Thread | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """An asyncpg URL of `database` over TCP on loopback (trust auth: no password)."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    # -- starting and stopping -------------------------------------------------------

    def _owner(self) -> tuple[str | None, int | None, list[int] | None]:
        """Popen's user, group and extra_groups: the cluster's OS user when we are root."""
        if os.geteuid() != 0:
            return None, None, None
        return OS_USER, pwd.getpwnam(OS_USER).pw_gid, []

    def _env(self) -> dict[str, str]:
        # No PG* variables of the caller's (PGDATA, PGPORT, ...) reach the server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        return env

    def init(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OS_USER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        user, group, extra_groups = self._owner()
        done = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                # A linguistic default collation, as on most real servers (en_US.UTF-8),
                # so that text ordering that differs from SQLite's codepoint order shows.
                "--locale-provider",
                "icu",
                "--icu-locale",
                "en-US",
                "--locale",
                "C",
                "--no-sync",
            ],
            cwd=self.root,
            env=self._env(),
            capture_output=True,
            timeout=120,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{output}")

    def start(self, timeout: float = START_TIMEOUT) -> None:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.root),
            "port": str(self.port),
            # A throwaway cluster: durability buys nothing, speed does.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        args = [str(self.bindir / "postgres"), "-D", str(self.data_dir)]
        user, group, extra_groups = self._owner()
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        self.proc = subprocess.Popen(
            args,
            cwd=self.root,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
        self._reader = threading.Thread(
            target=self._read_log, args=(self.proc,), name="postgres-log", daemon=True
        )
        self._reader.start()
        # Set by the log reader on the ready line, or when the server's stderr closes.
        if not self._ready.wait(timeout):
            raise TimeoutError(f"PostgreSQL did not start in {timeout} s:\n{self.log_tail()}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited at start:\n{self.log_tail()}")

    def _read_log(self, proc: subprocess.Popen[bytes]) -> None:
        """Keeps the server's stderr drained (a full pipe would stall it) and tells `start`
        when it is ready."""
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._log.append(line)
            if READY in line:
                self._ready.set()
        self._ready.set()  # it exited: `start` looks at why

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(list(self._log)[-n:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Fast shutdown (SIGINT: sessions ended, a clean stop), else immediate (SIGQUIT),
        then SIGKILL of its whole process group so no backend is left behind."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0)):
            if proc.poll() is not None:
                break
            proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if self._reader is not None:
            self._reader.join(10)
        if proc.stderr is not None:
            proc.stderr.close()

    # -- databases -------------------------------------------------------------------

    def create_database(self, name: str | None = None, *, template: str = "template0") -> str:
        """A new database (a copy of `template`); returns its name."""
        name = name or f"t_{uuid.uuid4().hex}"
        self._admin(f"CREATE DATABASE {_ident(name)} TEMPLATE {_ident(template)}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending any session still connected to it."""
        self._admin(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")

    def _admin(self, statement: str) -> None:
        """Run one statement outside any transaction (CREATE/DROP DATABASE need that).

        In a thread of its own with its own event loop, so that fixtures can call it
        whether or not an event loop is running in this one (an async fixture's).
        """
        with ThreadPoolExecutor(1, thread_name_prefix="postgres-admin") as pool:
            pool.submit(asyncio.run, self._execute(statement)).result()

    async def _execute(self, statement: str) -> None:
        engine = create_async_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()


def _ident(name: str) -> str:
    """Test code makes the names; refuse anything that would need quoting anyway."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def remove_stale_clusters() -> None:
    """Delete the directories of clusters whose test run was killed (SIGKILL, SIGTERM):
    their postmaster went with it (parent-death signal), their files did not."""
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or being made right now
        if not psutil.pid_exists(owner):
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A running throwaway cluster; stopped and deleted when the block ends, however."""
    bindir = find_bindir()
    remove_stale_clusters()
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    (root / OWNER_FILE).write_text(str(os.getpid()))
    cluster = PostgresCluster(root=root, bindir=bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
