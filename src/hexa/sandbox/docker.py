"""`HEXA_SANDBOX=docker`: each notebook in a container of the notebook image.

For deployments where Hexa itself runs in a container, where bubblewrap rarely has the
privileges it needs. The container sees only the user's folders (HOME and notebooks, at
/home/<user>), runs as the user's uid with no capabilities, a read-only root and private
/tmp, under Docker's memory, CPU and process limits, on the host's network (marimo listens
on loopback, where Hexa's proxy reaches it exactly as a local process). The `docker run`
client is the process Hexa supervises: it forwards SIGTERM to the container and exits with
it; a container left behind (the client killed) is removed by name on release, and every
container of this Hexa by its label at start and at shutdown.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from hexa.sandbox.jail import Jail, Launch, UserIds
from hexa.sandbox.limits import Confinement, ResourceLimits

logger = logging.getLogger(__name__)

# What a notebook's environment may carry into its container (the values come from the
# `docker run` client's environment, which Hexa builds from an allowlist).
PASSED = (
    "HOME",
    "USER",
    "LOGNAME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "XDG_DATA_HOME",
    "PYTHONUNBUFFERED",
    "PIP_TARGET",
    "MARIMO_UV_TARGET",
    "PYTHONPATH",
    "PWD",
    "LANG",
    "TZ",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)
DOCKER_TIMEOUT = 30.0


class ContainerConfinement(Confinement):
    """Docker applies the limits; this reads a breach, finds the tree, removes the container."""

    def __init__(self, docker: list[str], label: str, tree: str, limits: ResourceLimits) -> None:
        self._docker = docker
        self._label = label
        self._name = f"{label}-{tree}"
        self._limits = limits
        self._root: int | None = None
        # Names are reused by restarts: only events since this launch are this tree's.
        self._since = int(time.time()) - 1

    def breach(self) -> str | None:
        # The daemon's `oom` event, not State.OOMKilled: that is set only when the
        # container itself ends by it, and here the kernel dies while marimo's server
        # (the container's main process) lives on. Events outlive a removed container.
        found = self._docker_out(
            "events",
            "--since", str(self._since),
            "--until", str(int(time.time()) + 1),
            "--filter", f"container={self._name}",
            "--filter", "event=oom",
            "--format", "{{.Action}}",
        )  # fmt: skip
        if found is not None and "oom" in found.split():
            return (
                "out of memory: the notebook used more than its "
                f"{self._limits.describe_memory()} limit (HEXA_NOTEBOOK_MEMORY_MB) "
                "and its kernel was stopped"
            )
        return None

    def tree_root(self, launcher_pid: int) -> int:
        """The container's init on this host: the `docker run` client's own children are
        not the container's processes, so the kernel is looked for under this."""
        if self._root is None:
            found = self._docker_out("inspect", "-f", "{{.State.Pid}}", self._name)
            if found is None or not found.isdigit() or found == "0":
                return launcher_pid
            self._root = int(found)
        return self._root

    def release(self) -> None:
        _remove(self._docker, ["--filter", f"name=^{self._name}$"])

    def rename(self, tree: str) -> None:
        # So that `docker ps` names the notebook, and its removal on close finds it.
        name = f"{self._label}-{tree}"
        if self._docker_out("rename", self._name, name) is not None:
            self._name = name
        else:
            logger.warning("could not rename container %s to %s", self._name, name)

    def _docker_out(self, *args: str) -> str | None:
        try:
            out = subprocess.run(
                [*self._docker, *args], capture_output=True, text=True, timeout=DOCKER_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None


class DockerSandbox:
    kind = "docker"
    relocates = True

    def __init__(
        self,
        *,
        image: str,
        label: str,
        limits: ResourceLimits,
        user_ids: UserIds | None,
        python: str = "python",
        docker: str | None = None,
        host: str | None = None,
        data_dirs: tuple[Path, Path] | None = None,
    ) -> None:
        self._docker = docker_client(docker, host)
        # (Hexa's data dir as Hexa sees it, the same on the Docker host): Hexa in a
        # container names its folders by its own paths, the daemon by the host's.
        self._data_dirs = data_dirs
        self._image = image
        self._label = label  # this Hexa's containers, for the sweeps
        self._limits = limits
        self._user_ids = user_ids
        self._python = python  # the notebook image's interpreter

    def launch(self, argv: list[str], jail: Jail) -> Launch:
        identity = self._user_ids.of(jail) if self._user_ids is not None else None
        folders = tuple(bind.host for bind in jail.binds)
        if identity is not None:
            UserIds.hand_over(identity, folders)
        else:
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
        name = f"{self._label}-{jail.name}"
        memory = f"{self._limits.memory_bytes // 1024**2}m"
        cmd = [
            *self._docker, "run", "--rm", "--interactive", "--init",
            "--name", name, "--label", f"hexa={self._label}",
            # A spare's container is renamed for its notebook: what it started as stays.
            "--label", f"hexa.started-as={jail.name}",
            "--network", "host",
            "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--memory", memory, "--memory-swap", memory,
            "--cpus", f"{self._limits.cpus:g}",
            "--pids-limit", str(self._limits.max_processes),
            "--workdir", str(jail.cwd),
        ]  # fmt: skip
        if identity is not None:
            cmd += ["--user", f"{identity.uid}:{identity.gid}"]
        for bind in jail.binds:
            cmd += ["--volume", f"{self._on_docker_host(bind.host)}:{bind.inside}"]
        for key in PASSED:
            cmd += ["--env", key]
        # The host's interpreter means nothing in the image: marimo runs from the image's.
        cmd += [self._image, self._python, *argv[1:]]
        confinement = ContainerConfinement(self._docker, self._label, jail.name, self._limits)
        return Launch(cmd, confinement, identity)

    def _on_docker_host(self, path: Path) -> Path:
        if self._data_dirs is None:
            return path
        ours, theirs = self._data_dirs
        if not path.is_relative_to(ours):
            raise ValueError(f"{path} is outside Hexa's data dir {ours}")
        return theirs / path.relative_to(ours)

    def sweep(self) -> None:
        """Remove every container this Hexa left (after a crash, or at shutdown)."""
        _remove(self._docker, ["--filter", f"label=hexa={self._label}"])


def docker_client(docker: str | None = None, host: str | None = None) -> list[str]:
    """The docker CLI bound to Hexa's daemon. The `docker run` client starts with the
    notebook's allowlisted environment, so Hexa's DOCKER_HOST goes on its command line."""
    host = host or os.environ.get("DOCKER_HOST")
    path = docker or shutil.which("docker") or "docker"
    return [path, "--host", host] if host else [path]


def docker_works(docker: str | None, image: str) -> str | None:
    """Why the docker sandbox cannot run here, or None."""
    if docker is None and shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        out = subprocess.run(
            [*docker_client(docker), "image", "inspect", "-f", "{{.Id}}", image],
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker did not answer: {exc}"
    if out.returncode != 0:
        return f"the notebook image {image!r} is not there ({out.stderr.strip()[:200]})"
    return None


def _remove(docker: list[str], filters: list[str]) -> None:
    try:
        listed = subprocess.run(
            [*docker, "ps", "-aq", *filters],
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT,
        )
        ids = listed.stdout.split()
        if ids:
            subprocess.run([*docker, "rm", "-f", *ids], capture_output=True, timeout=DOCKER_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("could not remove notebook containers: %s", exc)
