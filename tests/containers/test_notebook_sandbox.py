"""HEXA_SANDBOX=docker for real: every notebook in a container of the notebook image.

Real parts: a real `hexa serve` on this host (SQLite) whose sandbox is the tests' own
dockerd; real marimo inside real containers of the notebook image, built from this tree
with Hexa's image; Hexa's real proxy in front. Nothing is faked.

The adversarial isolation suite of tests/integration/sandbox/ is imported and collected
again here, against this module's `server`: the same probes, from a cell, of other users'
files, Hexa's data, processes, secrets, marimo's file API, limits and `pip install`. Then
what only containers have: the container's own settings, a kill -9 inside it, its client
killed, removal on stop and on idle.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import psutil
import pytest

from hexa.sandbox.choice import cgroup_name
from tests.containers import journey
from tests.containers.daemon import Docker
from tests.containers.journey import wait_for
from tests.integration.sandbox import test_isolation as iso
from tests.support.server import HexaServer, free_port, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

# The isolation suite, collected again here: its fixtures ask for this module's `server`.
alice = iso.alice
bob = iso.bob
alices_notebook = iso.alices_notebook
bobs_notebook = iso.bobs_notebook
test_other_users_files_and_hexas_data_are_not_there = (
    iso.test_other_users_files_and_hexas_data_are_not_there
)
test_no_process_of_hexa_or_other_users_is_visible = (
    iso.test_no_process_of_hexa_or_other_users_is_visible
)
test_marimos_file_api_through_the_proxy_sees_only_the_sandbox = (
    iso.test_marimos_file_api_through_the_proxy_sees_only_the_sandbox
)
test_marimo_cookie_stays_inside_hexa = iso.test_marimo_cookie_stays_inside_hexa
test_logs_hold_no_token = iso.test_logs_hold_no_token
test_own_work_keeps_working = iso.test_own_work_keeps_working
test_a_memory_hog_fails_its_own_notebook_only = iso.test_a_memory_hog_fails_its_own_notebook_only
test_a_fork_bomb_hits_its_own_limit = iso.test_a_fork_bomb_hits_its_own_limit
test_pip_install_goes_to_the_users_own_packages = (
    iso.test_pip_install_goes_to_the_users_own_packages
)

MEMORY_MB = 300
MAX_PROCESSES = 96


def sandbox_env(docker: Docker, image: str, **more: str) -> dict[str, str]:
    return {
        "HEXA_SANDBOX": "docker",
        "HEXA_NOTEBOOK_IMAGE": image,
        "DOCKER_HOST": docker.env["DOCKER_HOST"],
        **more,
    }


@pytest.fixture(scope="module")
def server(
    docker: Docker, notebook_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HexaServer]:
    data = tmp_path_factory.mktemp("hexa-docker-iso")
    env = sandbox_env(
        docker,
        notebook_image,
        HEXA_OPENAI_API_KEY="sk-secret-key-of-hexa",
        HEXA_NOTEBOOK_MEMORY_MB=str(MEMORY_MB),
        HEXA_NOTEBOOK_MAX_PROCESSES=str(MAX_PROCESSES),
    )
    with running_server(data, **env) as srv:
        yield srv
    # Hexa removes its containers at shutdown; anything else is a leak.
    assert containers(docker, srv) == []


def containers(docker: Docker, server: HexaServer, notebook: str | None = None) -> list[str]:
    """This Hexa's containers (of one notebook), running or not."""
    label = label_of(server)
    flags = ["--filter", f"label=hexa={label}"]
    if notebook is not None:
        flags += ["--filter", f"name=^{label}-{notebook}$"]
    return docker.run("ps", "--all", "--quiet", "--no-trunc", *flags).stdout.split()


def label_of(server: HexaServer) -> str:
    """The label of this Hexa's containers: its data dir and its replica's default name."""
    return cgroup_name(server.data_dir, f"{socket.gethostname()}-{server.port}")


def container_of(docker: Docker, server: HexaServer, notebook: str) -> dict[str, Any]:
    (found,) = containers(docker, server, notebook)
    return docker.inspect("container", found)


def marimo_server_pid(docker: Docker, server: HexaServer, notebook: str) -> int:
    """marimo's server, a child of the container's init (docker-init) on this host."""
    init = psutil.Process(int(container_of(docker, server, notebook)["State"]["Pid"]))
    for child in init.children():
        if child.cmdline()[1:4] == ["-m", "marimo", "edit"]:
            return child.pid
    raise AssertionError(f"no marimo server in {notebook}'s container")


def test_the_container_runs_as_the_user_with_only_their_folders_and_limits(
    docker: Docker, server: HexaServer, alice: httpx2.Client, alices_notebook: str
) -> None:
    found = container_of(docker, server, alices_notebook)
    host, config = found["HostConfig"], found["Config"]
    assert config["Image"] == "hexa-test/hexa-notebook:latest"
    assert host["NetworkMode"] == "host"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == MEMORY_MB * 1024**2 == host["MemorySwap"]
    assert host["PidsLimit"] == MAX_PROCESSES
    assert host["NanoCpus"] == 1_000_000_000
    assert host["Init"] is True
    if os.geteuid() == 0:
        uid = int(config["User"].split(":")[0])
        assert uid != 0
        assert (server.data_dir / "notebooks" / "default").stat().st_uid == uid
    mounts = {m["Destination"]: m["Source"] for m in found["Mounts"]}
    assert mounts == {
        "/home/default": str(server.data_dir / "home" / "default"),
        "/home/default/notebooks": str(server.data_dir / "notebooks" / "default"),
    }
    env = "\n".join(config["Env"])
    assert "HEXA_" not in env
    assert "sk-secret" not in env
    assert server.token not in env
    # marimo's token came on stdin: it is on no command line docker keeps.
    assert "--token-password-file" in config["Cmd"]


def test_a_kill_9_inside_the_container_restarts_the_notebook_from_its_file(
    docker: Docker, server: HexaServer, alice: httpx2.Client
) -> None:
    opened = alice.post("/api/notebooks/open", json={"notebook_id": "k9", "notebook_path": "k9.py"})
    assert opened.status_code == 200, opened.text
    ran = alice.post(
        "/api/notebooks/k9/cells/execute", json={"cell_ids": ["x"], "codes": ["kept = 41"]}
    )
    assert ran.json()["success"], ran.text
    wait_for("the cell saved", lambda: "kept = 41" in notebook_text(server, "k9.py"), 30)
    first = container_of(docker, server, "k9")["Id"]

    # marimo's server inside the container, killed: the container ends with it.
    os.kill(marimo_server_pid(docker, server, "k9"), signal.SIGKILL)
    second = wait_new_container(docker, server, "k9", first)
    assert_runs_again(alice, "k9", "kept")

    # The `docker run` client killed instead: the container it leaves is removed, and the
    # new one (by the same name) starts.
    client = client_pid(docker, server, "k9")
    os.kill(client, signal.SIGKILL)
    wait_new_container(docker, server, "k9", second)
    assert_runs_again(alice, "k9", "kept")
    assert "kept = 41" in notebook_text(server, "k9.py")

    closed = alice.post("/api/notebooks/k9/close")
    assert closed.status_code == 200, closed.text
    assert containers(docker, server, "k9") == [], "stopping a notebook removes its container"


def test_an_idle_notebooks_container_is_removed(
    docker: Docker, notebook_image: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("hexa-docker-idle")
    env = sandbox_env(docker, notebook_image, HEXA_IDLE_TIMEOUT="2")
    with running_server(data, **env) as srv, srv.client() as api:
        opened = api.post("/api/notebooks/open", json={"notebook_id": "i", "notebook_path": "i.py"})
        assert opened.status_code == 200, opened.text
        assert len(containers(docker, srv, "i")) == 1
        iso.wait_for_status(api, "i", "stopped")
        assert containers(docker, srv, "i") == []
        # The next use starts a new container.
        assert api.get("/nb/i/").status_code == 200
        assert api.get("/api/notebooks/i").json()["status"] == "running"
        assert len(containers(docker, srv, "i")) == 1
    assert containers(docker, srv) == [], "shutdown removes every container of this Hexa"


def notebook_text(server: HexaServer, name: str) -> str:
    return (server.data_dir / "notebooks" / "default" / name).read_text()


def wait_new_container(docker: Docker, server: HexaServer, notebook: str, old: str) -> str:
    """The id of the notebook's container once a new one (not `old`) is running."""

    def replaced() -> bool:
        ids = containers(docker, server, notebook)
        return (
            len(ids) == 1
            and ids[0] != old
            and container_of(docker, server, notebook)["State"]["Running"] is True
        )

    wait_for(f"a new container for {notebook}", replaced, 60)
    return str(container_of(docker, server, notebook)["Id"])


def assert_runs_again(client: httpx2.Client, notebook: str, name: str) -> None:
    """Running again, restarted from the file: the saved cell's value is back."""
    view = iso.wait_for_status(client, notebook, "running")
    assert view["reason"] is None, view
    state = client.get(f"/api/notebooks/{notebook}/state")
    assert state.status_code == 200, state.text
    assert "41" in str(state.json()["variables"][name]["value"]), state.text


def client_pid(docker: Docker, server: HexaServer, notebook: str) -> int:
    """The `docker run` client Hexa supervises for the notebook (a spare's client still
    names the container as it started)."""
    assert server.proc is not None
    started = container_of(docker, server, notebook)["Config"]["Labels"]["hexa.started-as"]
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        cmd = child.cmdline()
        if "run" in cmd and f"{label_of(server)}-{started}" in cmd:
            return child.pid
    raise AssertionError(f"no docker client runs {notebook}")


def test_hexa_in_a_container_runs_each_notebook_in_a_sibling_container(
    docker: Docker,
    hexa_image: str,
    notebook_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The deployment this sandbox is for: Hexa's own image, given the daemon's socket and a
    data dir at a host path; each notebook a container beside it, never inside it."""
    data = tmp_path_factory.mktemp("hexa-in-container")
    port, name = free_port(), "hexa-test-sibling"
    daemon_socket = docker.env["DOCKER_HOST"].removeprefix("unix://")
    docker.run(
        "run", "--detach", "--name", name, "--network", "host",
        # Whoever holds the socket is root on the host: Hexa runs as root in its container
        # to give each user's folders to that user's uid (README "Containers").
        "--user", "0",
        "--volume", f"{daemon_socket}:/var/run/docker.sock",
        "--volume", f"{data}:/data",
        "--env", f"HEXA_PORT={port}",
        "--env", "HEXA_TOKEN=sibling-token",
        "--env", "HEXA_SANDBOX=docker",
        "--env", f"HEXA_NOTEBOOK_IMAGE={notebook_image}",
        "--env", f"HEXA_DOCKER_DATA_DIR={data}",
        hexa_image,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    # This Hexa's label: its data dir as it sees it, and its replica's default name.
    label = cgroup_name(Path("/data"), f"{socket.gethostname()}-{port}")

    def notebook_containers(shown: str = "{{.ID}}") -> list[str]:
        flags = ["--filter", f"ancestor={notebook_image}", "--filter", f"label=hexa={label}"]
        return docker.run("ps", "--all", "--format", shown, *flags).stdout.split()

    try:
        journey.wait_healthy(url, lambda: container_running(docker, name))
        log = docker.run("logs", name)
        assert "sandbox: docker" in log.stdout + log.stderr
        assert "NO SANDBOX" not in log.stdout + log.stderr
        with journey.sign_in(url, "sibling-token") as browser:
            journey.open_notebook(browser, "sib")
            # One container per notebook (the person's warm spare may be starting beside it).
            named = [n for n in notebook_containers("{{.Names}}") if n == f"{label}-sib"]
            assert len(named) == 1
            probe = (
                "import os\n"
                "def _try(path):\n"
                "    try:\n"
                "        open(path, 'rb').close()\n"
                "        return 'opened'\n"
                "    except OSError as exc:\n"
                "        return type(exc).__name__\n"
                "seen = (os.getuid(), _try('/data/hexa.db'), _try('/var/run/docker.sock'),\n"
                "        os.path.exists('/opt/hexa'))\n"
                "seen"
            )
            body = journey.agent_adds_and_runs(browser, "sib", probe)
            assert body["status"] == "done"
            state = browser.get("/api/notebooks/sib/state").json()
            seen = state["variables"]["seen"]["value"]
            uid = int(seen.strip("()").split(",")[0])
            assert uid != 0
            # Hexa's data and the daemon's socket are in Hexa's container, not this one.
            assert seen.count("FileNotFoundError") == 2, seen
            assert seen.rstrip(")").endswith("False"), "nothing of Hexa in the notebook image"
        # Written by marimo in the notebook's container, into the host's folder.
        notebook = data / "notebooks" / "default" / "sib.py"
        journey.wait_file(notebook, lambda text: "_try('/data/hexa.db')" in text)
        assert notebook.stat().st_uid == uid
    finally:
        docker.run("stop", "--time", "30", name, timeout=60, check=False)
        stopped = notebook_containers()
        docker.run("rm", "--force", name, check=False)
        for leftover in notebook_containers():
            docker.run("rm", "--force", leftover, check=False)
    assert stopped == [], "Hexa's shutdown removed its notebooks' containers"


def container_running(docker: Docker, name: str) -> bool:
    return bool(docker.inspect("container", name)["State"]["Running"])  # type: ignore[index]
