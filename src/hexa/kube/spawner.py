"""The Kubernetes `Spawner`: a notebook's marimo as a pod, reached by the pod's address.

Each start makes the notebook's token secret, pod and service (replacing any left by a
replica that died: the database's claim says this replica owns the notebook now), then
waits for the pod to get an address; the supervisor then waits for marimo's health and
opens Hexa's session as it does for a local process. The pod is watched by polling its
status; stopping deletes all three objects. There is no local process: no pid, and the
kernel is not watched apart from the server (a dead kernel shows in marimo's own UI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from pathlib import Path, PurePosixPath
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Pod, Secret, Service

from hexa.kube.specs import LABEL_REPLICA, PodPlan, label_value, objects, pod_name
from hexa.runtime.ports import free_port
from hexa.runtime.process import NotebookProcess, NotebookSpec
from hexa.sandbox.limits import ResourceLimits

logger = logging.getLogger(__name__)

POLL = 1.0
Kind = type[Secret] | type[Pod] | type[Service]
# lightkube types its calls per resource class; the three are handled alike here.
_KINDS: dict[str, Any] = {"Secret": Secret, "Pod": Pod, "Service": Service}


class KubernetesError(OSError):
    """The API server refused or failed a request (the supervisor reports it as a start
    failure, like a process that could not be spawned)."""


class KubernetesSpawner:
    kind = "kubernetes"

    def __init__(
        self,
        *,
        client: AsyncClient,
        image: str,
        claim: str,
        notebooks_dir: Path,
        uid_base: int,
        group: int,
        limits: ResourceLimits,
        replica: str,
        schedule_timeout: float,
    ) -> None:
        self._client = client
        self._image = image
        self._claim = claim
        self._notebooks_dir = notebooks_dir
        self._uid_base = uid_base
        self._group = group
        self._limits = limits
        self._replica = replica
        self._schedule_timeout = schedule_timeout

    async def spawn(self, spec: NotebookSpec) -> NotebookProcess:
        folder = spec.folder or spec.path.parent
        self._prepare_folders(spec.owner, folder)
        plan = PodPlan(
            notebook_id=spec.notebook_id,
            owner=spec.owner,
            owner_id=spec.owner_id,
            notebook_path=PurePosixPath(spec.path.relative_to(folder).as_posix()),
            replica=self._replica,
            image=self._image,
            # Each pod has an address of its own; a port of its own keeps a simulated
            # cluster on one host (the tests') honest too.
            port=free_port(),
            uid=self._uid_base + spec.owner_id,
            group=self._group,
            memory_bytes=self._limits.memory_bytes,
            cpus=self._limits.cpus,
            claim=self._claim,
        )
        token = secrets.token_urlsafe(32)
        name = pod_name(spec.notebook_id)
        process = PodProcess(self._client, name, plan.port, token, spec.base_url)
        try:
            for body in objects(plan, token):
                await self._replace(body)
            await process.scheduled(self._schedule_timeout)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await process.stop(5.0)
            if isinstance(exc, ApiError):
                raise KubernetesError(f"kubernetes refused the notebook's pod: {exc}") from exc
            if isinstance(exc, TimeoutError):
                raise KubernetesError(
                    f"the notebook's pod {name} got no address within "
                    f"{self._schedule_timeout:g}s (not scheduled?)"
                ) from exc
            raise
        logger.info("started pod %s for %s at %s", name, spec.notebook_id, process.origin)
        return process

    async def sweep(self) -> None:
        """Delete what this replica's last run left (its claims were released at start)."""
        selector: dict[str, Any] = {LABEL_REPLICA: label_value(self._replica)}
        names: set[str] = set()
        # Pods and services by label; their token secrets by name (Hexa may not list
        # secrets: its Role reads and deletes them by name only).
        kinds: tuple[Any, ...] = (Pod, Service)  # lightkube types `list` per class
        for kind in kinds:
            try:
                async for found in self._client.list(kind, labels=selector):
                    if found.metadata is not None and found.metadata.name is not None:
                        names.add(found.metadata.name)
                        await _delete(self._client, kind, found.metadata.name, grace=0)
            except ApiError as exc:
                logger.warning("could not sweep %s: %s", kind.__name__, exc)
        for name in names:
            await _delete(self._client, Secret, _name_of(Secret, name), grace=0)

    def _prepare_folders(self, owner: str, folder: Path) -> None:
        """The user's two folders on the shared volume, writable by their pods' group."""
        home = self._notebooks_dir / ".home" / owner
        for path in (folder, home):
            path.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                os.chown(path, -1, self._group)
                path.chmod(0o2770)

    async def _replace(self, body: dict[str, Any]) -> None:
        kind = _KINDS[body["kind"]]
        obj = kind.from_dict(body)
        try:
            await self._client.create(obj)
        except ApiError as exc:
            if exc.status.code != 409:
                raise
            # Left by a replica that died, or by a stop that could not finish.
            name = body["metadata"]["name"]
            await _delete(self._client, kind, name, grace=0)
            await _gone(self._client, kind, name, 30.0)
            await self._client.create(obj)


class PodProcess:
    """One notebook's pod, seen as the supervisor sees a process."""

    def __init__(
        self, client: AsyncClient, name: str, port: int, token: str, base_url: str
    ) -> None:
        self._client = client
        self.name = name
        self._port = port
        self._token = token
        self._base_url = base_url
        self._ip: str | None = None
        self._code: int | None = None
        self._status: dict[str, Any] = {}
        self._tail = ""

    @property
    def pid(self) -> int | None:
        return None

    @property
    def origin(self) -> str:
        return f"http://{self._ip or '0.0.0.0'}:{self._port}"

    @property
    def base_path(self) -> str:
        return self._base_url

    @property
    def file_key(self) -> str | None:
        return None  # a pod serves one notebook, named on its command line

    @property
    def url(self) -> str:
        return f"{self.origin}{self._base_url}"

    @property
    def token(self) -> str:
        return self._token

    async def scheduled(self, timeout: float) -> None:
        """Wait for the pod's address (it is scheduled and its sandbox made)."""
        async with asyncio.timeout(timeout):
            while self._ip is None:
                await self._refresh()
                if self._code is not None:
                    raise KubernetesError(f"pod {self.name} ended before it had an address")
                if self._ip is None:
                    await asyncio.sleep(POLL / 4)

    async def wait(self) -> int:
        while self._code is None:
            await asyncio.sleep(POLL)
            await self._refresh()
        return self._code

    def returncode(self) -> int | None:
        return self._code

    async def stop(self, timeout: float) -> None:
        await self._read_tail()
        for kind in (Pod, Service, Secret):
            await _delete(self._client, kind, _name_of(kind, self.name), grace=int(timeout))
        await _gone(self._client, Pod, self.name, timeout + 10)
        if self._code is None:
            self._code = -15

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self._tail.splitlines()[-lines:])

    def limit_breach(self) -> str | None:
        for container in self._status.get("containerStatuses") or []:
            for state in ("state", "lastState"):
                ended = (container.get(state) or {}).get("terminated") or {}
                if ended.get("reason") == "OOMKilled":
                    return (
                        "out of memory: the notebook used more than its memory limit "
                        "(HEXA_NOTEBOOK_MEMORY_MB) and its pod was stopped"
                    )
        return None

    def tree_root(self) -> int | None:
        return None

    async def _refresh(self) -> None:
        try:
            found = await self._client.get(Pod, self.name)
        except ApiError as exc:
            if exc.status.code == 404:
                self._code = self._code if self._code is not None else -9
                return
            logger.warning("could not read pod %s: %s", self.name, exc)
            return
        status = found.status.to_dict() if found.status is not None else {}
        self._status = status
        if self._ip is None and status.get("podIP"):
            self._ip = str(status["podIP"])
        if status.get("phase") in ("Succeeded", "Failed"):
            await self._read_tail()
            self._code = _exit_code(status)

    async def _read_tail(self) -> None:
        with contextlib.suppress(ApiError, OSError):
            lines = [line async for line in self._client.log(self.name, tail_lines=40)]
            self._tail = "".join(lines)


def _name_of(kind: Kind, name: str) -> str:
    return f"{name}-token" if kind is Secret else name


def _exit_code(status: dict[str, Any]) -> int:
    for container in status.get("containerStatuses") or []:
        ended = (container.get("state") or {}).get("terminated") or {}
        if "exitCode" in ended:
            return int(ended["exitCode"])
    return 1 if status.get("phase") == "Failed" else 0


async def _delete(client: AsyncClient, kind: Kind, name: str, grace: int) -> None:
    try:
        await client.delete(kind, name, grace_period=grace)
    except ApiError as exc:
        if exc.status.code != 404:
            logger.warning("could not delete %s %s: %s", kind.__name__, name, exc)


async def _gone(client: AsyncClient, kind: Kind, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await client.get(kind, name)
        except ApiError as exc:
            if exc.status.code == 404:
                return
        await asyncio.sleep(POLL / 4)
    logger.warning("%s %s was still there after %gs", kind.__name__, name, timeout)
