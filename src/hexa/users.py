"""Users and their tokens: who is asking, and where their notebooks live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.errors import BadRequestError, ConflictError, NotFoundError
from hexa.store import SessionRepository, User, UserRepository, utcnow

SESSION_SECONDS = 14 * 24 * 3600  # a browser stays signed in for 14 days


@dataclass(frozen=True)
class UserListing:
    id: int
    name: str
    is_default: bool
    created_at: datetime
    live_sessions: int


@dataclass(frozen=True)
class Principal:
    """An authenticated user, as the rest of Hexa sees them."""

    id: int
    name: str


class UserService:
    """Authenticates tokens and browser sessions, adds, lists, rotates and removes users."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], notebooks_root: Path) -> None:
        self._sessions = sessions
        self._root = notebooks_root

    def folder(self, user: Principal) -> Path:
        """The user's notebook folder; created on first use."""
        path = self._root / user.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def ensure_default(self, token: str) -> Principal:
        async with self._sessions.begin() as session:
            user = await UserRepository(session).ensure_default("default", token)
            principal = Principal(user.id, user.name)
        self.folder(principal)
        return principal

    async def add(self, name: str) -> tuple[Principal, str]:
        """Create a user; their token in clear (shown once, stored only as a hash)."""
        try:
            async with self._sessions.begin() as session:
                created = await UserRepository(session).create(name)
                principal = Principal(created.user.id, created.user.name)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from exc
        self.folder(principal)
        return principal, created.token

    async def start_session(self, token: str) -> str | None:
        """A browser session for the holder of `token` (its secret, for the cookie)."""
        user = await self.authenticate(token)
        if user is None:
            return None
        now = utcnow()
        async with self._sessions.begin() as session:
            return await SessionRepository(session).start(
                user.id, expires_at=now + timedelta(seconds=SESSION_SECONDS), now=now
            )

    async def session_user(self, secret: str) -> Principal | None:
        """The user of a live browser session. Never cached: a sign-out or a rotation
        (by the CLI, another process, or another replica) takes effect at once."""
        async with self._sessions() as session:
            user = await SessionRepository(session).user_of(secret, now=utcnow())
            return Principal(user.id, user.name) if user is not None else None

    async def end_session(self, secret: str) -> None:
        async with self._sessions.begin() as session:
            await SessionRepository(session).revoke(secret, now=utcnow())

    async def rotate(self, name: str) -> str:
        """A new token for `name`; the old one and every browser session stop working."""
        async with self._sessions.begin() as session:
            users = UserRepository(session)
            user = await _named(users, name)
            token = await users.rotate_token(user.id)
            await SessionRepository(session).revoke_all(user.id, now=utcnow())
        assert token is not None
        return token

    async def remove(self, name: str) -> None:
        """Delete the user with their notebooks' records (their folder stays on disk)."""
        async with self._sessions.begin() as session:
            users = UserRepository(session)
            user = await _named(users, name)
            if user.is_default:
                raise ConflictError("the default user cannot be removed; rotate its token")
            await users.delete(user.id)

    async def listing(self) -> list[UserListing]:
        now = utcnow()
        async with self._sessions() as session:
            users = await UserRepository(session).list_all()
            sessions = SessionRepository(session)
            return [
                UserListing(
                    u.id,
                    u.name,
                    u.is_default,
                    u.created_at,
                    await sessions.count_live(u.id, now=now),
                )
                for u in users
            ]

    async def authenticate(self, token: str) -> Principal | None:
        """The holder of an API token (one indexed look-up of its hash; not cached, so a
        rotation anywhere takes effect at once)."""
        if not token:
            return None
        async with self._sessions() as session:
            user = await UserRepository(session).find_by_token(token)
            return Principal(user.id, user.name) if user is not None else None


async def _named(users: UserRepository, name: str) -> User:
    user = await users.get_by_name(name)
    if user is None:
        raise NotFoundError(f"no user {name}")
    return user
