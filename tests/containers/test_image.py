"""Hexa's image, built from this working tree and run as a person runs it.

Real: Debian's dockerd (the tests' own daemon, host networking only), the image built by
docker/build_image.py and the Dockerfile exactly as `make image` builds it (offline: wheel
and wheelhouse from the host) on a debootstrap bookworm base that has only python3,
python3-venv and ca-certificates; tini; `hexa serve` as uid 10001; real marimo; the builtin
model; SQLite on a named volume, read from the host through the volume's mount point.
Nothing is faked. The base image stands in for `python:3.12-slim` (no registry here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.containers import journey
from tests.containers.daemon import Docker
from tests.support.server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(1500)]

NAME = "hexa-test-single"
VOLUME = "hexa-test-single-data"


@pytest.fixture
def container(docker: Docker, hexa_image: str) -> Iterator[tuple[str, int]]:
    """`docker run --network host -e HEXA_PORT -v VOLUME:/data IMAGE`, removed afterwards."""
    port = free_port()
    docker.run("volume", "create", VOLUME)
    try:
        docker.run(
            "run",
            "--detach",
            "--name",
            NAME,
            "--network",
            "host",
            "--env",
            f"HEXA_PORT={port}",
            "--volume",
            f"{VOLUME}:/data",
            hexa_image,
        )
        yield NAME, port
    finally:
        docker.run("rm", "--force", NAME, check=False)
        docker.run("volume", "rm", "--force", VOLUME, check=False)


def running(docker: Docker, name: str) -> bool:
    state = docker.inspect("container", name)["State"]
    assert isinstance(state, dict)
    return bool(state["Running"])


def health_status(docker: Docker, name: str) -> str:
    return docker.run("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()


def test_the_image_serves_hexa_and_keeps_notebooks_on_its_volume(
    docker: Docker, container: tuple[str, int]
) -> None:
    name, port = container
    url = f"http://127.0.0.1:{port}"
    journey.wait_healthy(url, lambda: running(docker, name))
    logs = docker.run("logs", name)
    log = logs.stdout + logs.stderr
    # No HEXA_TOKEN: the sign-in URL with a fresh token is printed, as on a host.
    login = journey.sign_in_url(log)
    token = login.split("?token=", 1)[1]
    # No bubblewrap in the image: Hexa says so loudly and keeps to the default user.
    assert "NO SANDBOX" in log
    assert docker.run("exec", name, "id", "-u").stdout.strip() == "10001"
    init = docker.run("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
    assert init[:4] == ["/usr/local/bin/tini", "--", "/opt/hexa/bin/hexa", "serve"]

    with journey.sign_in(url, token) as browser:
        # The web UI is in the image: the page and the script it loads.
        page = browser.get("/")
        assert page.status_code == 200
        script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
        assert script, page.text
        assert browser.get(script.group(1)).status_code == 200
        journey.open_notebook(browser, "boxed")
        body = journey.agent_adds_and_runs(browser, "boxed", "boxed_answer = 6 * 7\nboxed_answer")
        assert "42" in body["message"]

    # The notebook is on the volume, written by marimo inside the container as uid 10001.
    mountpoint = Path(str(docker.inspect("volume", VOLUME)["Mountpoint"]))
    notebook = mountpoint / "notebooks" / "default" / "boxed.py"
    journey.wait_file(notebook, lambda text: "boxed_answer = 6 * 7" in text)
    assert notebook.stat().st_uid == 10001
    assert (mountpoint / "hexa.db").is_file()

    # The image's own HEALTHCHECK (docker/healthcheck.py) reports it healthy.
    journey.wait_for(
        "HEALTHCHECK healthy", lambda: health_status(docker, name) == "healthy", timeout=90
    )

    # docker stop: SIGTERM through tini; Hexa stops its marimo (and so removes the
    # marimo's pid file, which a Hexa killed outright would leave behind) and exits by
    # that SIGTERM (uvicorn re-raises it after its shutdown: 143; 0 would do too), not by
    # docker's SIGKILL at the end of the grace time (137).
    # One replica, one marimo (the person's, serving their folder): run/<replica>/*.pid.
    (pid_file,) = (mountpoint / "run").glob("*/*.pid")
    docker.run("stop", "--time", "30", name, timeout=60)
    state = docker.inspect("container", name)["State"]
    assert isinstance(state, dict)
    assert state["ExitCode"] in (0, 143), json.dumps(state)
    assert not pid_file.exists(), "Hexa did not shut down: its marimo's pid file is left"
    assert not state["OOMKilled"]
    docker.run("rm", name)
    # Nothing of it runs on the host any more: no hexa, no marimo, no tini.
    left = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if any("/opt/hexa/" in part for part in p.info["cmdline"] or [])
    ]
    assert left == []
