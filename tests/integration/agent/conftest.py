"""The agent against real `marimo edit` processes and a real SQLite database.

`RealNotebooks` is the agent's NotebookAccess over marimo servers started with the real
spawner (tests/integration/marimo/conftest.py): the same MarimoClient Hexa uses, by
stable session id. Each test gets its own server (its own notebook file).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import AgentService, build_agent_service
from hexa.agent.models import ModelChoice
from hexa.config import Settings
from hexa.errors import NotFoundError
from hexa.marimo.client import MarimoClient
from hexa.store import (
    NotebookRepository,
    UserRepository,
    create_engine,
    create_sessionmaker,
    upgrade_database,
)
from hexa.users import Principal
from tests.integration.marimo.conftest import Marimo, marimo_servers

NOTEBOOK = """import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    base = 40
    return (base,)


@app.cell
def _(base):
    total = base + 2
    total
    return (total,)


if __name__ == "__main__":
    app.run()
"""


@dataclass
class Running:
    client: MarimoClient


@dataclass
class View:
    name: str
    status: str = "running"


@dataclass
class RealNotebooks:
    """NotebookAccess over real marimo servers, one per notebook id, owned by one user."""

    owner: Principal
    servers: dict[str, Marimo] = field(default_factory=dict)
    clients: dict[str, MarimoClient] = field(default_factory=dict)

    def _check(self, user: Principal, notebook_id: str) -> None:
        if user.id != self.owner.id or notebook_id not in self.clients:
            raise NotFoundError(f"no notebook {notebook_id}")

    async def get(self, user: Principal, notebook_id: str) -> View:
        self._check(user, notebook_id)
        return View(name=notebook_id)

    async def running(self, user: Principal, notebook_id: str) -> Running:
        self._check(user, notebook_id)
        return Running(self.clients[notebook_id])

    async def restart(self, user: Principal, notebook_id: str) -> Running:
        self._check(user, notebook_id)
        await self.clients[notebook_id].restart_kernel(60)
        return Running(self.clients[notebook_id])


@dataclass
class Setup:
    service: AgentService
    notebooks: RealNotebooks
    user: Principal
    marimo: Marimo
    client: MarimoClient
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings

    @property
    def path(self) -> Path:
        return self.marimo.path

    def file(self) -> str:
        return self.path.read_text()

    def another_service(self, model: ModelChoice | None = None) -> AgentService:
        """A second service over the same database: what a restarted server has."""
        return build_agent_service(
            settings=self.settings,
            sessions=self.sessions,
            notebooks=self.notebooks,
            model=model,
            env={},
        )


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hexa.db'}"
    await upgrade_database(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        user = (await UserRepository(session).create("alice")).user
        await NotebookRepository(session).create(user.id, "nb", "nb.py", "nb")
        principal = Principal(user.id, user.name)
    settings = Settings(
        data_dir=tmp_path / "data",
        run_wait=20.0,
        model="builtin",
        token=None,
        python=Path(sys.executable),
    )
    async with marimo_servers(tmp_path / "marimo") as start:
        marimo = await start(NOTEBOOK, name="nb")
        client = marimo.client()
        await client.open_session(60)
        notebooks = RealNotebooks(principal, {"nb": marimo}, {"nb": client})
        service = build_agent_service(
            settings=settings, sessions=sessions, notebooks=notebooks, env={}
        )
        try:
            yield Setup(service, notebooks, principal, marimo, client, sessions, settings)
        finally:
            await service.close()
    await engine.dispose()
