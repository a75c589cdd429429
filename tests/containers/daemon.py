"""A Docker daemon of the tests' own, and the docker and docker-compose CLIs pointed at it.

`docker_daemon()` starts Debian's dockerd in a fresh temporary folder (its data root, exec
root, pid file and socket all there) with no bridge, no iptables rules and no IP forwarding
or masquerading, so the only networks are `host` and `none`: every build and container uses
the host's network. On exit, failing or not, it removes every container, stops the daemon
(SIGTERM, then SIGKILL of its process group), kills anything still running from that
folder (containerd, shims), unmounts what is left under it and deletes it: no container,
dockerd or containerd outlives the tests. A test run killed outright takes its dockerd with
it (parent-death signal: dockerd stops its containers and containerd), and the next run
deletes what such a run left in /tmp. Also used by bench/container.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

PREFIX = "hexa-dockerd-"
_PR_SET_PDEATHSIG = 1


class DockerError(RuntimeError):
    """A docker or docker-compose command failed; the message has its output."""


def tool(name: str, *preferred: str) -> str:
    """Debian's binary (e.g. /usr/bin/docker, not a newer CLI elsewhere on PATH)."""
    for path in preferred:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found is None:
        raise DockerError(f"{name} is not installed: run `make containers`")
    return found


@dataclass(frozen=True)
class Docker:
    """The CLIs bound to one daemon (`DOCKER_HOST`), with the daemon's folder."""

    root: Path
    docker: str
    compose: str

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
        env.update(
            DOCKER_HOST=f"unix://{self.root}/docker.sock",
            DOCKER_CONFIG=str(self.root / "cli"),
            DOCKER_BUILDKIT="0",
        )
        return env

    def run(
        self,
        *args: str,
        timeout: float = 120,
        check: bool = True,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return self._call([self.docker, *args], timeout, check, input, env)

    def compose_run(
        self,
        project: str,
        directory: Path,
        compose_file: Path,
        *args: str,
        timeout: float = 180,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.compose, "--ansi", "never", "--project-name", project]
        argv += ["--project-directory", str(directory), "--file", str(compose_file)]
        argv += ["--env-file", str(directory / ".env"), *args]
        return self._call(argv, timeout, check, None, env)

    def _call(
        self,
        argv: Sequence[str],
        timeout: float,
        check: bool,
        input: str | None,
        env: dict[str, str] | None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )
        if check and result.returncode != 0:
            raise DockerError(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def inspect(self, kind: str, name: str) -> dict[str, object]:
        found = json.loads(self.run(kind, "inspect", name).stdout)
        assert isinstance(found, list)
        assert len(found) == 1
        first: dict[str, object] = found[0]
        return first

    def container_ids(self) -> list[str]:
        return self.run("ps", "--all", "--quiet", "--no-trunc").stdout.split()


def _start(root: Path, log: Path) -> subprocess.Popen[bytes]:
    (root / "daemon.json").write_text("{}")
    argv = [
        tool("dockerd", "/usr/sbin/dockerd"),
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'docker.pid'}",
        f"--host=unix://{root / 'docker.sock'}",
        f"--config-file={root / 'daemon.json'}",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=out, start_new_session=True, preexec_fn=_die_with_parent
        )


def _die_with_parent() -> None:
    """A test run killed outright (no `finally`) still stops its dockerd: SIGTERM, on which
    dockerd stops its containers and containerd; the next run removes the folder."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _remove_stale() -> None:
    """Folders of earlier runs whose dockerd is gone (a killed run): leftovers killed,
    unmounted, deleted. A folder whose dockerd still runs belongs to a live run."""
    for root in Path("/tmp").glob(f"{PREFIX}*"):
        pid_file = root / "docker.pid"
        with contextlib.suppress(ValueError, OSError, psutil.Error):
            if psutil.Process(int(pid_file.read_text())).name() == "dockerd":
                continue
        _kill_leftovers(root)
        _unmount_under(root)
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def _wait_ready(docker: Docker, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DockerError(f"dockerd exited {proc.returncode}:\n{_tail(log)}")
        if (docker.root / "docker.sock").exists():
            probe = docker.run("version", "--format", "{{.Server.Version}}", check=False)
            if probe.returncode == 0:
                return
        if time.monotonic() > deadline:
            raise DockerError(f"dockerd did not answer within {timeout:.0f} s:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(docker: Docker, proc: subprocess.Popen[bytes]) -> None:
    """Containers removed, the daemon stopped, its leftovers killed and unmounted."""
    if proc.poll() is None:
        with contextlib.suppress(DockerError, subprocess.TimeoutExpired):
            ids = docker.container_ids()
            if ids:
                docker.run("rm", "--force", "--volumes", *ids, timeout=60, check=False)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    _kill_leftovers(docker.root)
    _unmount_under(docker.root)


def _kill_leftovers(root: Path) -> None:
    """containerd and its shims run with paths under `root` on their command lines."""
    marker = str(root)
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(marker in part for part in process.info["cmdline"] or []):
                process.kill()
                process.wait(10)


def _unmount_under(root: Path) -> None:
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{root}/")]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)


@contextlib.contextmanager
def docker_daemon(timeout: float = 60) -> Iterator[Docker]:
    """A running dockerd of our own, always stopped and cleaned up afterwards."""
    # A short path: containerd's sockets live under the exec root (108-byte limit).
    _remove_stale()
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    (root / "cli").mkdir()
    docker = Docker(root, tool("docker", "/usr/bin/docker"), tool("docker-compose"))
    log = root / "dockerd.log"
    proc = _start(root, log)
    try:
        _wait_ready(docker, proc, log, timeout)
        yield docker
    finally:
        _stop(docker, proc)
        # Not through a mount left behind (there should be none by now).
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
