"""A simulated Kubernetes API server for the tests of HEXA_SANDBOX=kubernetes.

No cluster can run on the test machines, so this implements only the calls Hexa makes
(create, read, list by label and delete of pods, services and secrets in a namespace, and
a pod's log) and runs each pod's container as a local process: a SIMULATION, not
Kubernetes. What it does not simulate: scheduling, the container image (the command runs
with the tests' Python), `runAsUser` and the security context (the process runs as the
tests' user), network policies and services' routing (the pod's address is 127.0.0.1).
What it does do faithfully: every object Hexa sends is validated against Kubernetes'
OpenAPI schema (kubernetes-validate, strict: an unknown field is an error, answered 422 as
the API server would), names conflict (409), unknown objects are 404, volumes are mounted
where the pod spec says (a claim's subPath, a secret's files, an emptyDir) by rewriting
the command's paths onto the host, and a pod's phase, address and container state follow
its process (`Failed` with `OOMKilled` when a test says the kernel ran out of memory).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from tests.support.server import free_port

K8S_VERSION = "1.32.0"
PLURALS = {"pods": "Pod", "services": "Service", "secrets": "Secret"}


def status(code: int, reason: str, message: str) -> JSONResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return JSONResponse(body, status_code=code)


def validation_errors(obj: dict[str, Any]) -> list[str]:
    """What Kubernetes' schema says is wrong with `obj` (empty: nothing)."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [str(exc.message)]
    return []


@dataclass
class SimPod:
    obj: dict[str, Any]
    root: Path  # the pod's emptyDirs, secret files and log
    proc: subprocess.Popen[bytes] | None = None
    oom: bool = False
    ended: dict[str, Any] | None = None

    @property
    def log(self) -> Path:
        return self.root / "log"


@dataclass
class KubeSim:
    """The simulated API server; `claims` maps a claim's name to its host folder."""

    claims: dict[str, Path]
    namespace: str = "hexa-test"
    port: int = field(default_factory=free_port)
    store: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pods: dict[str, SimPod] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    never_ready: set[str] = field(default_factory=set)  # notebook label values
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: sim\n  cluster:\n    server: {self.url}\n"
            f"contexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n"
            f"    namespace: {self.namespace}\n"
            "current-context: sim\nusers:\n- name: sim\n  user: {}\n"
        )
        return path

    def names(self, plural: str) -> list[str]:
        with self.lock:
            return sorted(name for kind, name in self.store if kind == plural)

    def kill(self, pod: str, *, oom: bool = False) -> None:
        """The pod's container dies (SIGKILL), out of memory if `oom`."""
        with self.lock:
            sim = self.pods[pod]
            sim.oom = oom
        assert sim.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sim.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        with self.lock:
            pods = list(self.pods.values())
            self.pods.clear()
        for sim in pods:
            _terminate(sim, 0)
            shutil.rmtree(sim.root, ignore_errors=True)

    # -- the API --------------------------------------------------------------------------

    def app(self) -> FastAPI:
        api = FastAPI()
        base = "/api/v1/namespaces/{namespace}/{plural}"

        @api.post(base)
        async def create(namespace: str, plural: str, request: Request) -> JSONResponse:
            obj: dict[str, Any] = await request.json()
            if plural not in PLURALS or namespace != self.namespace:
                return status(404, "NotFound", f"{plural} in {namespace}")
            errors = validation_errors(obj)
            if errors:
                self.rejected.append((obj, errors))
                return status(422, "Invalid", "; ".join(errors))
            name = obj["metadata"]["name"]
            with self.lock:
                if (plural, name) in self.store:
                    return status(409, "AlreadyExists", f'{plural} "{name}" already exists')
                meta = obj["metadata"]
                meta.update(
                    namespace=namespace,
                    uid=str(uuid.uuid4()),
                    resourceVersion="1",
                    creationTimestamp=_now(),
                )
                self.store[(plural, name)] = obj
                self.created.append(obj)
            if plural == "pods":
                self._start(obj)
            return JSONResponse(self._view(plural, name), status_code=201)

        @api.get(base)
        async def listing(namespace: str, plural: str, labelSelector: str = "") -> JSONResponse:
            wanted = dict(p.split("=", 1) for p in labelSelector.split(",") if "=" in p)
            with self.lock:
                names = [n for k, n in self.store if k == plural]
            items = [self._view(plural, n) for n in names]
            items = [
                i
                for i in items
                if i and all(i["metadata"]["labels"].get(k) == v for k, v in wanted.items())
            ]
            kind = PLURALS.get(plural, "Unknown")
            return JSONResponse(
                {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {}, "items": items}
            )

        @api.get(base + "/{name}")
        async def read(namespace: str, plural: str, name: str) -> JSONResponse:
            found = self._view(plural, name)
            if found is None:
                return status(404, "NotFound", f'{plural} "{name}" not found')
            return JSONResponse(found)

        @api.get("/api/v1/namespaces/{namespace}/pods/{name}/log", response_model=None)
        async def log(
            namespace: str, name: str, tailLines: int = 0
        ) -> PlainTextResponse | JSONResponse:
            with self.lock:
                sim = self.pods.get(name)
            if sim is None:
                return status(404, "NotFound", f'pods "{name}" not found')
            lines = sim.log.read_text(errors="replace").splitlines() if sim.log.exists() else []
            return PlainTextResponse("\n".join(lines[-tailLines:] if tailLines else lines))

        @api.delete(base + "/{name}")
        async def delete(
            namespace: str, plural: str, name: str, gracePeriodSeconds: int = 30
        ) -> JSONResponse:
            found = self._view(plural, name)
            if found is None:
                return status(404, "NotFound", f'{plural} "{name}" not found')
            with self.lock:
                self.store.pop((plural, name), None)
                sim = self.pods.pop(name, None) if plural == "pods" else None
            if sim is not None:
                _terminate(sim, gracePeriodSeconds)
                shutil.rmtree(sim.root, ignore_errors=True)
            return JSONResponse(found)

        return api

    # -- pods -----------------------------------------------------------------------------

    def _start(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        sim = SimPod(obj, Path(tempfile.mkdtemp(prefix=f"kubesim-{name}-")))
        container = obj["spec"]["containers"][0]
        mounts = self._mounts(obj, sim.root)
        argv = [_place(a, mounts) for a in container["command"]]
        argv = [sys.executable if a == "python" else a for a in argv]
        # The simulated pod network is loopback: the pod's address is 127.0.0.1.
        argv = ["127.0.0.1" if a == "0.0.0.0" else a for a in argv]
        notebook = obj["metadata"]["labels"].get("hexa.dev/notebook", "")
        if notebook in self.never_ready:
            argv = [sys.executable, "-c", "import time; time.sleep(3600)"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update({e["name"]: _place(e["value"], mounts) for e in container.get("env", [])})
        cwd = _place(container.get("workingDir", "/"), mounts)
        Path(cwd).mkdir(parents=True, exist_ok=True)
        with sim.log.open("wb") as log:
            sim.proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        with self.lock:
            self.pods[name] = sim

    def _mounts(self, obj: dict[str, Any], root: Path) -> list[tuple[str, Path]]:
        """(mount path in the pod, host folder), longest first."""
        volumes = {v["name"]: v for v in obj["spec"].get("volumes", [])}
        found: list[tuple[str, Path]] = []
        for mount in obj["spec"]["containers"][0].get("volumeMounts", []):
            volume = volumes[mount["name"]]
            if "persistentVolumeClaim" in volume:
                host = self.claims[volume["persistentVolumeClaim"]["claimName"]]
            elif "secret" in volume:
                host = root / f"secret-{mount['name']}"
                host.mkdir(exist_ok=True)
                with self.lock:
                    secret = self.store[("secrets", volume["secret"]["secretName"])]
                for key, value in secret.get("data", {}).items():
                    (host / key).write_bytes(base64.b64decode(value))
                    (host / key).chmod(volume["secret"].get("defaultMode", 0o644))
            else:
                host = root / f"empty-{mount['name']}"
            if mount.get("subPath"):
                host = host / mount["subPath"]
            host.mkdir(parents=True, exist_ok=True)  # as the kubelet makes a subPath
            found.append((mount["mountPath"], host))
        return sorted(found, key=lambda m: len(m[0]), reverse=True)

    def _view(self, plural: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.store.get((plural, name))
            sim = self.pods.get(name) if plural == "pods" else None
        if obj is None:
            return None
        view = dict(obj)
        if sim is not None:
            view["status"] = _pod_status(sim)
        return view


def _place(value: str, mounts: list[tuple[str, Path]]) -> str:
    """A path in the pod, as the host folder mounted there."""
    for inside, host in mounts:
        if value == inside or value.startswith(inside.rstrip("/") + "/"):
            return str(host) + value[len(inside.rstrip("/")) :]
    return value


def _pod_status(sim: SimPod) -> dict[str, Any]:
    assert sim.proc is not None
    code = sim.proc.poll()
    started = sim.obj["metadata"]["creationTimestamp"]
    if code is None:
        state: dict[str, Any] = {"running": {"startedAt": started}}
        phase = "Running"
    else:
        if sim.ended is None:
            reason = "OOMKilled" if sim.oom else ("Completed" if code == 0 else "Error")
            exit_code = 137 if code < 0 else code
            sim.ended = {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": _now(),
            }
        state = {"terminated": sim.ended}
        phase = "Succeeded" if sim.ended["exitCode"] == 0 else "Failed"
    return {
        "phase": phase,
        "podIP": "127.0.0.1",
        "containerStatuses": [
            {
                "name": "marimo",
                "image": sim.obj["spec"]["containers"][0]["image"],
                "imageID": "",
                "ready": code is None,
                "restartCount": 0,
                "state": state,
            }
        ],
    }


def _terminate(sim: SimPod, grace: int) -> None:
    if sim.proc is None or sim.proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sim.proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        sim.proc.wait(max(1, grace))
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sim.proc.pid, signal.SIGKILL)
    sim.proc.wait(10)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def kube_sim(claims: dict[str, Path], namespace: str = "hexa-test") -> Iterator[KubeSim]:
    """The simulated API server on a loopback port, stopped (every pod's process killed)
    when the block ends, failing or not."""
    sim = KubeSim(claims=claims, namespace=namespace)
    server = uvicorn.Server(
        uvicorn.Config(sim.app(), host="127.0.0.1", port=sim.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="kube-sim", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the simulated Kubernetes API did not start")
            time.sleep(0.02)
        yield sim
    finally:
        server.should_exit = True
        thread.join(30)
        sim.close()
