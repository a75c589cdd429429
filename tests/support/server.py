"""A real `hexa serve` in a subprocess, for integration and browser tests.

It gets its own data dir and HOME, a free port and a known token, and is always stopped
(SIGTERM, then SIGKILL of its process group) so no uvicorn or marimo outlives a test run.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HexaServer:
    data_dir: Path
    token: str = "test-token-alice"
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # Replicas sharing a data dir each keep their own log.
    log_name: str = "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        home = self.data_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("HEXA_") and "API_KEY" not in k
        }
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_STATE_HOME=str(home / ".local" / "state"),
            HEXA_DATA_DIR=str(self.data_dir),
            HEXA_TOKEN=self.token,
            HEXA_PORT=str(self.port),
            HEXA_HOST="127.0.0.1",
        )
        env.update(self.env)
        return env

    def start(self, timeout: float = 60.0) -> None:
        log = (self.data_dir / self.log_name).open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hexa", "serve"],
            env=self.environment(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hexa serve exited: {self.log_tail()}")
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"hexa serve did not start: {self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM like a person's Ctrl+C; anything left in its group is killed."""
        if self.proc is None:
            return
        descendants: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # marimo runs in process groups of its own; reap any the server failed to stop.
        for child in descendants:
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if child.is_running():
                    os.killpg(child.pid, signal.SIGKILL)
        self.proc = None

    def log_text(self) -> str:
        path = self.data_dir / self.log_name
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, pattern: str, *, after: int = 0, timeout: float = 60) -> str:
        """The first match of `pattern` in the log past offset `after` (a bounded wait for
        what Hexa says only there, such as which marimo served an open)."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.log_text()[after:])) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in {self.log_name}: {self.log_tail()}")
            time.sleep(0.1)
        return found.group(0)

    def log_tail(self, n: int = 40) -> str:
        path = self.data_dir / self.log_name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "hexa", *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout

    def add_user(self, name: str) -> str:
        return self.cli("user", "add", name).split()[-1]

    def client(self, token: str | None = None) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx2.Client(base_url=self.url, headers=headers, timeout=60)


@contextlib.contextmanager
def running_server(data_dir: Path, **env: str) -> Iterator[HexaServer]:
    server = HexaServer(data_dir=data_dir, env=env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
