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
import shutil
import subprocess

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
    """Docker applies the limits; this reads a breach and removes the container."""

    def __init__(self, docker: str, name: str) -> None:
        self._docker = docker
        self._name = name

    def breach(self) -> str | None:
        try:
            out = subprocess.run(
                [self._docker, "inspect", "-f", "{{.State.OOMKilled}}", self._name],
                capture_output=True,
                text=True,
                timeout=DOCKER_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.stdout.strip() == "true":
            return "it ran out of memory (the container's memory limit)"
        return None

    def release(self) -> None:
        _remove(self._docker, ["--filter", f"name=^{self._name}$"])


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
    ) -> None:
        self._docker = docker or shutil.which("docker") or "docker"
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
            self._docker, "run", "--rm", "--interactive", "--init",
            "--name", name, "--label", f"hexa={self._label}",
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
            cmd += ["--volume", f"{bind.host}:{bind.inside}"]
        for key in PASSED:
            cmd += ["--env", key]
        # The host's interpreter means nothing in the image: marimo runs from the image's.
        cmd += [self._image, self._python, *argv[1:]]
        return Launch(cmd, ContainerConfinement(self._docker, name), identity)

    def sweep(self) -> None:
        """Remove every container this Hexa left (after a crash, or at shutdown)."""
        _remove(self._docker, ["--filter", f"label=hexa={self._label}"])


def docker_works(docker: str | None, image: str) -> str | None:
    """Why the docker sandbox cannot run here, or None."""
    path = docker or shutil.which("docker")
    if path is None:
        return "the docker client is not installed"
    try:
        out = subprocess.run(
            [path, "image", "inspect", "-f", "{{.Id}}", image],
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker did not answer: {exc}"
    if out.returncode != 0:
        return f"the notebook image {image!r} is not there ({out.stderr.strip()[:200]})"
    return None


def _remove(docker: str, filters: list[str]) -> None:
    try:
        listed = subprocess.run(
            [docker, "ps", "-aq", *filters],
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT,
        )
        ids = listed.stdout.split()
        if ids:
            subprocess.run([docker, "rm", "-f", *ids], capture_output=True, timeout=DOCKER_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("could not remove notebook containers: %s", exc)
