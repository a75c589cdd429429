"""Users and their tokens: who is asking, and where their notebooks live."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.notebooks.errors import BadRequestError, ConflictError
from hexa.store import Conflict, UserRepository


@dataclass(frozen=True)
class Principal:
    """An authenticated user, as the rest of Hexa sees them."""

    id: int
    name: str


class UserService:
    """Authenticates tokens (cached briefly: the proxy asks for every asset) and adds users."""

    _CACHE_SECONDS = 30.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession], notebooks_root: Path) -> None:
        self._sessions = sessions
        self._root = notebooks_root
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    def folder(self, user: Principal) -> Path:
        """The user's notebook folder; created on first use."""
        path = self._root / user.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def ensure_default(self, token: str) -> Principal:
        async with self._sessions.begin() as session:
            user = await UserRepository(session).ensure_default("default", token)
            principal = Principal(user.id, user.name)
        self._cache.clear()
        self.folder(principal)
        return principal

    async def add(self, name: str) -> tuple[Principal, str]:
        """Create a user; their token in clear (shown once, stored only as a hash)."""
        try:
            async with self._sessions.begin() as session:
                created = await UserRepository(session).create(name)
                principal = Principal(created.user.id, created.user.name)
        except Conflict as exc:
            raise ConflictError(str(exc)) from exc
        except ValueError as exc:
            raise BadRequestError(str(exc)) from exc
        self.folder(principal)
        return principal, created.token

    async def authenticate(self, token: str) -> Principal | None:
        if not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        async with self._sessions() as session:
            user = await UserRepository(session).find_by_token(token)
            principal = Principal(user.id, user.name) if user is not None else None
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[key] = (principal, now + self._CACHE_SECONDS)
        return principal
