"""HEXA_SANDBOX=kubernetes against a SIMULATED Kubernetes API (tests/support/kube_api.py).

No cluster can run here. Real parts: a real `hexa serve` (SQLite) whose notebooks are
pods, created, read, listed and deleted through a real Kubernetes client (lightkube) over
real HTTP; the simulated API server validates every object against Kubernetes' schema and
runs each pod's container as a local process of real marimo; the proxy, the agent (builtin
model) and the files are real. Simulated: scheduling, the image, the pod's uid and network.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hexa.kube.specs import pod_name
from tests.containers.journey import wait_for
from tests.support.kube_api import KubeSim, kube_sim
from tests.support.server import HexaServer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def hexa_env(sim: KubeSim, data: Path, **more: str) -> dict[str, str]:
    return {
        "HEXA_SANDBOX": "kubernetes",
        "KUBECONFIG": str(sim.kubeconfig(data / "kubeconfig")),
        "HEXA_NOTEBOOK_IMAGE": "registry.example.com/hexa-notebook:test",
        "HEXA_START_TIMEOUT": "30",
        **more,
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeSim, HexaServer]]:
    data = tmp_path_factory.mktemp("hexa-kube")
    with kube_sim({"hexa-notebooks": data / "notebooks"}) as sim:
        with running_server(data, **hexa_env(sim, data)) as server:
            yield sim, server
        # At shutdown Hexa stopped every notebook: nothing of it is left in the cluster.
        assert sim.names("pods") == sim.names("services") == sim.names("secrets") == []
    assert sim.rejected == [], "every object Hexa sent is valid Kubernetes"


def open_notebook(api: httpx2.Client, notebook_id: str) -> httpx2.Response:
    return api.post(
        "/api/notebooks/open",
        json={"notebook_id": notebook_id, "notebook_path": f"{notebook_id}.py"},
    )


def pod_of(sim: KubeSim, notebook_id: str) -> dict[str, Any]:
    with sim.lock:
        return sim.store[("pods", pod_name(notebook_id))]


def test_a_notebook_runs_as_a_pod_with_its_service_and_token_secret(
    cluster: tuple[KubeSim, HexaServer],
) -> None:
    sim, server = cluster
    with server.client() as api:
        opened = open_notebook(api, "kube")
        assert opened.status_code == 200, opened.text
        name = pod_name("kube")
        assert sim.names("pods") == [name]
        assert sim.names("services") == [name]
        assert sim.names("secrets") == [f"{name}-token"]
        pod = pod_of(sim, "kube")
        spec = pod["spec"]
        container = spec["containers"][0]
        assert container["image"] == "registry.example.com/hexa-notebook:test"
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] >= 200000
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"] == "2048Mi"
        assert container["readinessProbe"]["httpGet"]["path"] == "/nb/kube/health"
        mounts = {m["mountPath"]: m.get("subPath") for m in container["volumeMounts"]}
        assert mounts["/home/default/notebooks"] == "default"
        assert mounts["/home/default"] == ".home/default"
        # marimo's token is in the secret only: on no command line and in no env.
        with sim.lock:
            secret = sim.store[("secrets", f"{name}-token")]
        token = base64.b64decode(secret["data"]["token"]).decode()
        assert token not in " ".join(container["command"])
        assert all(token not in e["value"] for e in container["env"])

        # Through Hexa's proxy, marimo's editor in the pod; the agent edits and runs it.
        editor = api.get("/nb/kube/", follow_redirects=True)
        assert editor.status_code == 200
        assert "marimo" in editor.text
        chat = api.post(
            "/api/chat", json={"notebook_id": "kube", "message": "```python\npodded = 6 * 7\n```"}
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["status"] == "done"
        state = api.get("/api/notebooks/kube/state").json()
        assert state["variables"]["podded"]["value"] == "42"
        saved = server.data_dir / "notebooks" / "default" / "kube.py"
        wait_for("the pod saved the cell", lambda: "podded = 6 * 7" in saved.read_text(), 30)

        closed = api.post("/api/notebooks/kube/close")
        assert closed.status_code == 200, closed.text
        assert sim.names("pods") == sim.names("services") == sim.names("secrets") == []


def test_a_killed_pod_is_replaced_and_the_notebook_comes_back_from_its_file(
    cluster: tuple[KubeSim, HexaServer],
) -> None:
    sim, server = cluster
    with server.client() as api:
        assert open_notebook(api, "phoenix").status_code == 200
        ran = api.post(
            "/api/notebooks/phoenix/cells/execute",
            json={"cell_ids": ["k"], "codes": ["kept = 41"]},
        )
        assert ran.json()["success"], ran.text
        saved = server.data_dir / "notebooks" / "default" / "phoenix.py"
        wait_for("saved", lambda: "kept = 41" in saved.read_text(), 30)
        first = pod_of(sim, "phoenix")["metadata"]["uid"]
        sim.kill(pod_name("phoenix"))

        def replaced() -> bool:
            view = api.get("/api/notebooks/phoenix").json()
            try:
                uid = pod_of(sim, "phoenix")["metadata"]["uid"]
            except KeyError:
                return False
            return bool(view["status"] == "running" and uid != first)

        wait_for("a new pod", replaced, 60)
        state = api.get("/api/notebooks/phoenix/state").json()
        assert state["variables"]["kept"]["value"] == "41"
        assert api.post("/api/notebooks/phoenix/close").status_code == 200


def test_a_pod_out_of_memory_fails_the_notebook_with_the_reason(
    cluster: tuple[KubeSim, HexaServer],
) -> None:
    sim, server = cluster
    with server.client() as api:
        assert open_notebook(api, "hungry").status_code == 200
        sim.kill(pod_name("hungry"), oom=True)
        wait_for(
            "failed", lambda: api.get("/api/notebooks/hungry").json()["status"] == "failed", 60
        )
        view = api.get("/api/notebooks/hungry").json()
        assert "out of memory" in view["reason"]
        assert "HEXA_NOTEBOOK_MEMORY_MB" in view["reason"]
        assert pod_name("hungry") not in sim.names("pods"), "not restarted into the same wall"


def test_a_pod_that_never_becomes_ready_fails_and_is_deleted(
    tmp_path: Path,
) -> None:
    with kube_sim({"hexa-notebooks": tmp_path / "notebooks"}) as sim:
        sim.never_ready.add("stuck")
        env = hexa_env(sim, tmp_path, HEXA_START_TIMEOUT="4")
        with running_server(tmp_path, **env) as server, server.client() as api:
            opened = open_notebook(api, "stuck")
            assert opened.status_code == 503, opened.text
            assert "did not become ready" in opened.json()["detail"]
            assert api.get("/api/notebooks/stuck").json()["status"] == "failed"
            assert sim.names("pods") == sim.names("services") == sim.names("secrets") == []


def test_an_idle_notebooks_pod_is_deleted(tmp_path: Path) -> None:
    with kube_sim({"hexa-notebooks": tmp_path / "notebooks"}) as sim:
        env = hexa_env(sim, tmp_path, HEXA_IDLE_TIMEOUT="2")
        with running_server(tmp_path, **env) as server, server.client() as api:
            assert open_notebook(api, "sleepy").status_code == 200
            assert sim.names("pods") == [pod_name("sleepy")]
            wait_for(
                "culled", lambda: api.get("/api/notebooks/sleepy").json()["status"] == "stopped", 30
            )
            assert sim.names("pods") == sim.names("services") == sim.names("secrets") == []
        assert sim.rejected == []
