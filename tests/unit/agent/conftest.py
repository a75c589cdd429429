from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent import AgentService, ToolRegistry, build_agent_service
from hexa.agent.models import ModelChoice
from hexa.config import Settings
from hexa.store import (
    NotebookRepository,
    UserRepository,
    create_engine,
    create_sessionmaker,
    upgrade_database,
)
from hexa.users import Principal

from .fakes import FakeMarimoClient, FakeNotebooks

NOTEBOOK = [("Hbol", "import math"), ("MJUe", "x = 2"), ("vblA", "x + 1")]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("agent-template") / "hexa.db"
    asyncio.run(upgrade_database(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
async def sessions(
    tmp_path: Path, migrated_template: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    path = tmp_path / "hexa.db"
    shutil.copyfile(migrated_template, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield create_sessionmaker(engine)
    await engine.dispose()


class Clock:
    """A settable clock (for expiry)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    alice: Principal
    bob: Principal
    notebooks: FakeNotebooks
    nb: FakeMarimoClient  # alice's "nb1"
    other: FakeMarimoClient  # alice's "nb2"
    bobs: FakeMarimoClient  # bob's "bobnb"
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings

    def service(
        self, model: ModelChoice | None = None, registry: ToolRegistry | None = None
    ) -> AgentService:
        return build_agent_service(
            settings=self.settings,
            sessions=self.sessions,
            notebooks=self.notebooks,
            registry=registry,
            model=model,
            env={},
            clock=self.clock,
        )


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> World:
    async with sessions.begin() as session:
        users = UserRepository(session)
        alice = (await users.create("alice")).user
        bob = (await users.create("bob")).user
        notebooks = NotebookRepository(session)
        await notebooks.create(alice.id, "nb1", "one.py", "One")
        await notebooks.create(alice.id, "nb2", "two.py", "Two")
        await notebooks.create(bob.id, "bobnb", "bob.py", "Bob's")
        a, b = Principal(alice.id, alice.name), Principal(bob.id, bob.name)
    fakes = FakeNotebooks()
    settings = Settings(
        data_dir=tmp_path / "data", run_wait=2.0, approval_ttl=600.0, model="builtin", token=None
    )
    return World(
        alice=a,
        bob=b,
        notebooks=fakes,
        nb=fakes.add(a, "nb1", FakeMarimoClient(list(NOTEBOOK))),
        other=fakes.add(a, "nb2", FakeMarimoClient([("Zzzz", "y = 1")])),
        bobs=fakes.add(b, "bobnb", FakeMarimoClient([("Bbbb", "z = 1")])),
        sessions=sessions,
        clock=Clock(),
        settings=settings,
    )


def collector(service: AgentService, notebook_id: str) -> Callable[[], list[dict[str, Any]]]:
    """Subscribe now; the returned function drains what arrived so far."""
    subscription = service.bus.subscribe(notebook_id)
    seen: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        while (event := subscription.get_nowait()) is not None:
            seen.append(event.model_dump(mode="json"))  # as the WebSocket sends it
        return seen

    return drain
