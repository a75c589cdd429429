from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hexa.errors import ConflictError
from hexa.store import User, UserRepository, hash_token


async def test_token_finds_its_user_and_nothing_else(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        alice = await UserRepository(session).create("alice")
        bob = await UserRepository(session).create("bob")
    assert alice.token != bob.token
    assert len(alice.token) >= 40

    async with sessions() as session:
        users = UserRepository(session)
        found = await users.find_by_token(alice.token)
        assert found is not None
        assert found.name == "alice"
        found = await users.find_by_token(bob.token)
        assert found is not None
        assert found.name == "bob"
        assert await users.find_by_token(alice.token + "x") is None
        assert await users.find_by_token("") is None
        assert await users.find_by_token(hash_token(alice.token)) is None


@pytest.mark.sqlite_only
async def test_clear_tokens_are_never_written(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine, db_path: Path
) -> None:
    async with sessions.begin() as session:
        alice = await UserRepository(session).create("alice")
    async with sessions() as session:
        stored = (await session.scalars(select(User.token_hash))).all()
    assert stored == [hash_token(alice.token)]

    await engine.dispose()  # checkpoints the WAL into the main file
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    raw = b"".join(p.read_bytes() for p in files)
    assert hash_token(alice.token).encode() in raw
    assert alice.token.encode() not in raw


async def test_names_are_unique_and_folder_safe(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        users = UserRepository(session)
        await users.create("alice")
        with pytest.raises(ConflictError):
            await users.create("alice")
        for bad in ("", "..", ".hidden", "a/b", "-rf", "x" * 65, "al ice"):
            with pytest.raises(ValueError, match="user name"):
                await users.create(bad)


async def test_a_given_token_cannot_be_shared(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        users = UserRepository(session)
        await users.create("alice", token="s3cret-token")
        with pytest.raises(ConflictError):
            await users.create("bob", token="s3cret-token")


async def test_rotating_a_token_revokes_the_old_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        alice = await UserRepository(session).create("alice")
        new_token = await UserRepository(session).rotate_token(alice.user.id)
    assert new_token is not None
    assert new_token != alice.token
    async with sessions() as session:
        users = UserRepository(session)
        assert await users.find_by_token(alice.token) is None
        assert await users.find_by_token(new_token) is not None
        assert await users.rotate_token(12345) is None


async def test_ensure_default_creates_once_then_follows_the_token(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        first = await UserRepository(session).ensure_default("me", "token-one")
    async with sessions.begin() as session:
        again = await UserRepository(session).ensure_default("me", "token-one")
    assert again.id == first.id
    assert again.is_default

    # A restart with a new token: same user, old token revoked.
    async with sessions.begin() as session:
        rotated = await UserRepository(session).ensure_default("me", "token-two")
    assert rotated.id == first.id
    async with sessions() as session:
        users = UserRepository(session)
        assert await users.find_by_token("token-one") is None
        found = await users.find_by_token("token-two")
        assert found is not None
        assert found.id == first.id
        assert [u.name for u in await users.list_all()] == ["me"]
