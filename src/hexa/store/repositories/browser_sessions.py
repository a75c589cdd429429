"""The sessions a browser holds after logging in, and whether they are still live."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select, update

from hexa.store.models import BrowserSession, User
from hexa.store.repositories.base import Repository
from hexa.store.repositories.digests import hash_token, new_token


class SessionRepository(Repository):
    """Browser sessions: a random secret in the cookie, its hash here."""

    async def start(self, user_id: int, *, expires_at: datetime, now: datetime) -> str:
        secret = new_token()
        await self._add(
            BrowserSession(
                id=hash_token(secret), user_id=user_id, created_at=now, expires_at=expires_at
            )
        )
        return secret

    async def user_of(self, secret: str, *, now: datetime) -> User | None:
        """The user of a live (unexpired, unrevoked) session, or None."""
        if not secret:
            return None
        return await self._session.scalar(
            select(User)
            .join(BrowserSession, BrowserSession.user_id == User.id)
            .where(BrowserSession.id == hash_token(secret), *_live(now))
        )

    async def revoke(self, secret: str, *, now: datetime) -> bool:
        return await self._revoke(BrowserSession.id == hash_token(secret), now=now) == 1

    async def revoke_all(self, user_id: int, *, now: datetime) -> int:
        return await self._revoke(BrowserSession.user_id == user_id, now=now)

    async def count_live(self, user_id: int, *, now: datetime) -> int:
        stmt = select(BrowserSession.id).where(BrowserSession.user_id == user_id, *_live(now))
        return len(await self._all(stmt))

    async def _revoke(self, which: ColumnElement[bool], *, now: datetime) -> int:
        """Revoke the unrevoked sessions `which` selects; how many there were."""
        return await self._changed(
            update(BrowserSession)
            .where(which, BrowserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def _live(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a session still in use: not revoked and not expired."""
    return (BrowserSession.revoked_at.is_(None), BrowserSession.expires_at > now)
