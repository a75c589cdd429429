"""compose.yaml: Hexa on PostgreSQL, and everything kept across a restart of both.

Real: the repository's compose.yaml, unchanged, run by Debian's docker-compose 1.29 (file
format 2.4) against the tests' own dockerd; Hexa's image built from this working tree; a
PostgreSQL 15 server (Debian's postgresql-15) reached by asyncpg; real marimo; the builtin
model; secrets from an env file written like .env.example. Stand-in: the PostgreSQL image
is built here (tests/containers/postgres/, same variables, volume and command as the
official postgres:15, which no registry can give us here).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx2
import pytest

from tests.containers import journey
from tests.containers.daemon import Docker
from tests.support.server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
PROJECT = "hexatest"


def instant(stamp: str) -> datetime:
    """Docker's RFC 3339 times carry nanoseconds; Python reads microseconds."""
    head, _, tail = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(tail + '000000')[:6]}+00:00")


@dataclass(frozen=True)
class Stack:
    docker: Docker
    directory: Path
    port: int
    token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 300) -> str:
        done = self.docker.compose_run(
            PROJECT, self.directory, REPO / "compose.yaml", *args, timeout=timeout
        )
        return done.stdout

    def container(self, service: str) -> str:
        return self.compose("ps", "--quiet", service).strip()

    def up(self) -> None:
        """`up -d`, then Hexa's /health. Hexa was started only after PostgreSQL's
        healthcheck had passed (depends_on: condition: service_healthy)."""
        self.compose("up", "--detach", "--no-build")
        journey.wait_healthy(self.url, lambda: self.running("hexa"))
        postgres = self.docker.inspect("container", self.container("postgres"))["State"]
        hexa = self.docker.inspect("container", self.container("hexa"))["State"]
        assert isinstance(postgres, dict)
        assert isinstance(hexa, dict)
        passed = [check["End"] for check in postgres["Health"]["Log"] if check["ExitCode"] == 0]
        assert passed, postgres["Health"]
        assert instant(min(passed, key=instant)) <= instant(hexa["StartedAt"])

    def running(self, service: str) -> bool:
        state = self.docker.inspect("container", self.container(service))["State"]
        assert isinstance(state, dict)
        return bool(state["Running"])

    def psql(self, query: str) -> list[str]:
        out = self.compose(
            "exec", "-T", "postgres", "psql", "-U", "hexa", "-d", "hexa", "-At", "-c", query
        )
        return out.split()


@pytest.fixture
def stack(docker: Docker, hexa_image: str, postgres_image: str, tmp_path: Path) -> Iterator[Stack]:
    """A project directory with its .env (as .env.example says); `down --volumes` after."""
    token = secrets.token_urlsafe(24)
    port = free_port()
    env = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "HEXA_TOKEN": token,
        "HEXA_PORT": str(port),
        "HEXA_POSTGRES_PORT": str(free_port()),
        "HEXA_IMAGE": hexa_image,
        "HEXA_POSTGRES_IMAGE": postgres_image,
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    (tmp_path / ".env").chmod(0o600)
    stack = Stack(docker, tmp_path, port, token)
    try:
        yield stack
    finally:
        docker.compose_run(
            PROJECT, tmp_path, REPO / "compose.yaml", "down", "--volumes", check=False
        )


def test_compose_runs_hexa_on_postgresql_and_keeps_its_state_across_restarts(
    stack: Stack,
) -> None:
    stack.up()
    # Host networking only: compose made no network (no bridge, no private range).
    networks = stack.docker.run("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert sorted(networks) == ["host", "none"]

    with journey.sign_in(stack.url, stack.token) as browser:
        journey.open_notebook(browser, "shared")
        body = journey.agent_adds_and_runs(browser, "shared", "kept = 6 * 7\nkept")
        assert "42" in body["message"]
        journey.agent_adds_and_runs(browser, "shared", "doomed = 1")
        # Reopened from its file, marimo numbers the cells by position, as it will after
        # the restart; the approval is asked for against those ids.
        assert browser.post("/api/notebooks/shared/close").status_code == 200
        journey.open_notebook(browser, "shared")
        doomed = journey.cell_holding(browser, "shared", "doomed = 1")
        pending = journey.chat(browser, "shared", f"delete cell {doomed}")["pending_approval"]
        assert pending["operation"] == "delete_cells"
        cookies = dict(browser.cookies)
    bob = stack.compose("exec", "-T", "hexa", "hexa", "user", "add", "bob").split()[-1]

    # It is all in PostgreSQL (and not in a SQLite file on Hexa's volume).
    assert stack.psql("SELECT name FROM users ORDER BY id") == ["default", "bob"]
    assert stack.psql("SELECT count(*) FROM approvals WHERE status = 'pending'") == ["1"]
    hexa_volume = stack.docker.inspect("volume", f"{PROJECT}_hexa-data")["Mountpoint"]
    notebook = Path(str(hexa_volume)) / "notebooks" / "default" / "shared.py"
    journey.wait_file(notebook, lambda text: "kept = 6 * 7" in text and "doomed = 1" in text)
    assert not (Path(str(hexa_volume)) / "hexa.db").exists()

    # Both services restarted: the containers removed and made again from the volumes.
    stack.compose("down")
    assert stack.docker.container_ids() == []
    stack.up()

    with httpx2.Client(base_url=stack.url, headers={"Origin": stack.url}, timeout=120) as same:
        same.cookies.update(cookies)  # the browser's session outlives the restart
        assert same.get("/api/me").json()["name"] == "default"
        listing = same.get("/api/notebooks").json()
        assert [n["notebook_id"] for n in listing] == ["shared"]
        history = same.get("/api/notebooks/shared/chat").json()
        said = " ".join(m.get("content") or "" for m in history["messages"])
        assert "kept = 6 * 7" in said
        assert [p["id"] for p in history["pending_approvals"]] == [pending["id"]]
        decision = {"notebook_id": "shared", "approval_id": pending["id"]}
        approved = same.post("/api/approve", json=decision)
        assert approved.status_code == 200, approved.text
        assert "Deleted" in approved.json()["message"]
        assert same.post("/api/approve", json=decision).status_code == 409  # once only
    journey.wait_file(notebook, lambda text: "doomed = 1" not in text and "kept = 6 * 7" in text)
    with httpx2.Client(base_url=stack.url, headers={"Authorization": f"Bearer {bob}"}) as api:
        assert api.get("/api/me").json()["name"] == "bob"
    assert stack.psql("SELECT count(*) FROM approvals WHERE status = 'pending'") == ["0"]
