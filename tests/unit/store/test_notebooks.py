from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.errors import ConflictError
from hexa.store import (
    AuditRepository,
    NotebookRepository,
    NotebookStatus,
    UserRepository,
)

from .conftest import T0


async def _two_users(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions.begin() as session:
        users = UserRepository(session)
        alice = (await users.create("alice")).user
        bob = (await users.create("bob")).user
        notebooks = NotebookRepository(session)
        await notebooks.create(alice.id, "a-1", "shared-name.py", "Alice one")
        await notebooks.create(alice.id, "a-2", "sub/two.py", "Alice two")
        # The same relative path in another user's folder is a different notebook.
        await notebooks.create(bob.id, "b-1", "shared-name.py", "Bob one")
        return alice.id, bob.id


async def test_each_owner_sees_only_their_notebooks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice, bob = await _two_users(sessions)
    async with sessions() as session:
        notebooks = NotebookRepository(session)
        assert [n.id for n in await notebooks.list_for_owner(alice)] == ["a-1", "a-2"]
        assert [n.id for n in await notebooks.list_for_owner(bob)] == ["b-1"]

        assert await notebooks.get(alice, "a-1") is not None
        assert await notebooks.get(bob, "a-1") is None
        by_path = await notebooks.get_by_path(bob, "shared-name.py")
        assert by_path is not None
        assert by_path.id == "b-1"
        assert await notebooks.get_by_path(bob, "sub/two.py") is None


async def test_other_owners_cannot_rename_open_or_delete(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice, bob = await _two_users(sessions)
    async with sessions.begin() as session:
        notebooks = NotebookRepository(session)
        assert await notebooks.rename(bob, "a-1", name="stolen") is None
        assert await notebooks.mark_opened(bob, "a-1", now=T0) is None
        assert not await notebooks.delete(bob, "a-1")
    async with sessions() as session:
        notebook = await NotebookRepository(session).get(alice, "a-1")
        assert notebook is not None
        assert notebook.name == "Alice one"
        assert notebook.last_opened_at is None


async def test_ids_are_global_and_paths_unique_per_owner(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice, bob = await _two_users(sessions)
    async with sessions() as session:
        notebooks = NotebookRepository(session)
        with pytest.raises(ConflictError, match="id"):
            await notebooks.create(bob, "a-1", "other.py", "x")
        with pytest.raises(ConflictError, match="already exists"):
            await notebooks.create(alice, "a-3", "shared-name.py", "x")
        with pytest.raises(ConflictError, match="already exists"):
            await notebooks.rename(alice, "a-2", path="shared-name.py")


@pytest.mark.parametrize("bad_id", ["", "a" * 65, "has space", "../x", "dot.py", "é"])
async def test_notebook_ids_are_url_safe(
    sessions: async_sessionmaker[AsyncSession], bad_id: str
) -> None:
    async with sessions() as session:
        user = (await UserRepository(session).create("alice")).user
        with pytest.raises(ValueError, match="notebook id"):
            await NotebookRepository(session).create(user.id, bad_id, "a.py", "A")


async def test_rename_open_and_delete(sessions: async_sessionmaker[AsyncSession]) -> None:
    alice, _ = await _two_users(sessions)
    async with sessions.begin() as session:
        notebooks = NotebookRepository(session)
        renamed = await notebooks.rename(alice, "a-2", name="Two", path="moved/two.py")
        assert renamed is not None
        opened = await notebooks.mark_opened(alice, "a-2", now=T0)
        assert opened is not None
    async with sessions.begin() as session:
        notebook = await NotebookRepository(session).get(alice, "a-2")
        assert notebook is not None
        assert (notebook.name, notebook.path, notebook.last_opened_at) == (
            "Two",
            "moved/two.py",
            T0,
        )
        assert await NotebookRepository(session).delete(alice, "a-2")
    async with sessions() as session:
        assert await NotebookRepository(session).get(alice, "a-2") is None


async def test_status_and_failure_reason(sessions: async_sessionmaker[AsyncSession]) -> None:
    alice, _ = await _two_users(sessions)
    async with sessions.begin() as session:
        notebooks = NotebookRepository(session)
        created = await notebooks.get(alice, "a-1")
        assert created is not None
        assert created.status is NotebookStatus.STOPPED
        await notebooks.set_status("a-1", NotebookStatus.FAILED, failure_reason="exit 1")
        await notebooks.set_status("a-2", NotebookStatus.RUNNING, failure_reason="ignored")
        await notebooks.set_status("b-1", NotebookStatus.STARTING)
        assert await notebooks.set_status("nope", NotebookStatus.RUNNING) is None
    async with sessions() as session:
        notebooks = NotebookRepository(session)
        failed = await notebooks.find("a-1")
        assert failed is not None
        assert (failed.status, failed.failure_reason) == (NotebookStatus.FAILED, "exit 1")
        live = await notebooks.list_by_status(NotebookStatus.STARTING, NotebookStatus.RUNNING)
        assert [n.id for n in live] == ["a-2", "b-1"]
        running = await notebooks.find("a-2")
        assert running is not None
        assert running.failure_reason is None

    # After a restart no marimo process is left, so starting/running become stopped.
    async with sessions.begin() as session:
        assert await NotebookRepository(session).reset_statuses() == 2
    async with sessions() as session:
        notebooks = NotebookRepository(session)
        assert await notebooks.list_by_status(NotebookStatus.RUNNING) == []
        failed = await notebooks.find("a-1")
        assert failed is not None
        assert failed.status is NotebookStatus.FAILED


async def test_a_deleted_notebooks_id_is_never_given_out_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice, bob = await _two_users(sessions)
    async with sessions.begin() as session:
        assert await NotebookRepository(session).delete(alice, "a-1")
    async with sessions() as session:
        assert not await NotebookRepository(session).id_available("a-1")
    for owner in (bob, alice):
        with pytest.raises(ConflictError, match="not available"):
            async with sessions.begin() as session:
                await NotebookRepository(session).create(owner, "a-1", "again.py", "Again")


async def test_audit_of_a_notebook_is_its_owners_own(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice, bob = await _two_users(sessions)
    async with sessions.begin() as session:
        audit = AuditRepository(session)
        await audit.append(user_id=alice, notebook_id="a-1", tool_name="t", args={}, outcome="ok")
        await audit.append(user_id=bob, notebook_id="a-1", tool_name="t", args={}, outcome="x")
    async with sessions() as session:
        mine = await AuditRepository(session).list_for_notebook("a-1", user_id=alice)
        assert [e.outcome for e in mine] == ["ok"]


async def test_lists_are_in_codepoint_order_on_every_backend(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """SQLite compares text by codepoint; a PostgreSQL server's default collation is usually
    linguistic (the test cluster's is ICU en-US), where "apple" comes before "Zebra"."""
    names = ["apple", "Zebra", "_draft", "Äpfel", "zebra", "10", "9"]
    async with sessions.begin() as session:
        users = UserRepository(session)
        owner = (await users.create("Zoe")).user
        for name in ("amy", "Bob", "9lives"):
            await users.create(name)
        notebooks = NotebookRepository(session)
        for i, name in enumerate(names):
            await notebooks.create(owner.id, f"n{i}", f"n{i}.py", name)
        # Equal names fall back to the id, also by codepoint.
        await notebooks.create(owner.id, "B", "b.py", "same")
        await notebooks.create(owner.id, "a", "a.py", "same")
    async with sessions() as session:
        listed = await NotebookRepository(session).list_for_owner(owner.id)
        assert [n.name for n in listed] == sorted([*names, "same", "same"])
        assert [n.id for n in listed if n.name == "same"] == ["B", "a"]
        assert [u.name for u in await UserRepository(session).list_all()] == [
            "9lives",
            "Bob",
            "Zoe",
            "amy",
        ]
