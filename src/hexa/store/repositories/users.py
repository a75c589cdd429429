"""Users and their API tokens (stored only as hashes).

A taken name or token is found by a look-up before the insert and reported as
`ConflictError`; a concurrent insert past that look-up surfaces as sqlalchemy's
`IntegrityError` (no SAVEPOINTs, see `base`), after which the transaction must be rolled back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from hexa.errors import ConflictError
from hexa.store.models import User
from hexa.store.repositories.base import Repository, by_codepoint
from hexa.store.repositories.digests import hash_token, new_token

# Safe as a folder name: no dots or dashes first, so no "..", no option-like names.
USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class NewUser:
    """A freshly created user and their token in clear: the only time it is available."""

    user: User
    token: str


class UserRepository(Repository):
    async def create(
        self, name: str, *, is_default: bool = False, token: str | None = None
    ) -> NewUser:
        """Add a user; `token` defaults to a fresh random one. Raises ConflictError if taken."""
        if not USER_NAME_PATTERN.fullmatch(name):
            raise ValueError(
                f"user name must be 1-64 of [A-Za-z0-9_.-], starting alphanumeric: {name!r}"
            )
        token = new_token() if token is None else token
        if not token:
            raise ValueError("empty token")
        if await self.get_by_name(name) is not None:
            raise ConflictError(f"user {name!r} already exists")
        await self._check_token_free(token)
        user = await self._add(User(name=name, token_hash=hash_token(token), is_default=is_default))
        return NewUser(user=user, token=token)

    async def get(self, user_id: int) -> User | None:
        return await self._session.get(User, user_id)

    async def get_by_name(self, name: str) -> User | None:
        return await self._session.scalar(select(User).where(User.name == name))

    async def find_by_token(self, token: str) -> User | None:
        """The user holding `token`, or None. Only hashes are compared, in the database."""
        if not token:
            return None
        return await self._session.scalar(select(User).where(User.token_hash == hash_token(token)))

    async def list_all(self) -> list[User]:
        """Every user, by name (in codepoint order, see `by_codepoint`)."""
        return by_codepoint(await self._all(select(User)), lambda u: u.name)

    async def rotate_token(self, user_id: int, token: str | None = None) -> str | None:
        """Give the user a new token (random unless given) and return it; None if no user."""
        user = await self.get(user_id)
        if user is None:
            return None
        token = new_token() if token is None else token
        await self._check_token_free(token, for_user_id=user.id)
        user.token_hash = hash_token(token)
        await self._session.flush()
        return token

    async def ensure_default(self, name: str, token: str) -> User:
        """The default user (the one `hexa serve` prints a URL for), now holding `token`.

        Created on first start with `name`; afterwards only its token is replaced, so an
        unset `HEXA_TOKEN` (a new random token each start) revokes the previous one.
        """
        default = await self._session.scalar(
            select(User).where(User.is_default.is_(True)).order_by(User.id)
        )
        if default is None:
            return (await self.create(name, is_default=True, token=token)).user
        await self.rotate_token(default.id, token)
        return default

    async def delete(self, user_id: int) -> bool:
        """Delete the user and (by cascade) their notebooks, turns, chat and approvals."""
        user = await self.get(user_id)
        if user is None:
            return False
        await self._session.delete(user)
        await self._session.flush()
        return True

    async def _check_token_free(self, token: str, *, for_user_id: int | None = None) -> None:
        """Raise ConflictError if a user other than `for_user_id` holds `token`."""
        holder = await self.find_by_token(token)
        if holder is not None and holder.id != for_user_id:
            raise ConflictError("token already belongs to another user")
