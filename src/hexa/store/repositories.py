"""Typed data access for the services: one small repository per table, over one AsyncSession.

Repositories flush but never commit: the caller owns the transaction, so a state change and
its audit entry land together (`async with sessionmaker.begin() as session: ...`). They
never use SAVEPOINTs either (unreliable on pysqlite, see `database.create_engine`): a
duplicate is reported as `ConflictError` after a look-up, and the rare race past that look-up
surfaces as sqlalchemy's `IntegrityError`, after which the transaction must be rolled back.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hexa.errors import ConflictError
from hexa.store.models import (
    Approval,
    ApprovalStatus,
    AuditEntry,
    BrowserSession,
    ChatMessage,
    ChatRole,
    Decision,
    Notebook,
    NotebookStatus,
    RetiredNotebookId,
    Turn,
    TurnStatus,
    User,
    utcnow,
)

# Safe as a folder name: no dots or dashes first, so no "..", no option-like names.
USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def hash_token(token: str) -> str:
    """The stored form of an API token: sha256 hex.

    A fast hash is enough because tokens are long and random (not guessable passwords),
    and it keeps the lookup a single indexed equality.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same arguments always give the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def args_sha256(args: Mapping[str, Any]) -> str:
    """The digest that binds an approval to one tool call's exact arguments."""
    return hashlib.sha256(canonical_json(args).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewUser:
    """A freshly created user and their token in clear: the only time it is available."""

    user: User
    token: str


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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
        if await self.find_by_token(token) is not None:
            raise ConflictError("token already belongs to another user")
        user = User(name=name, token_hash=hash_token(token), is_default=is_default)
        self._session.add(user)
        await self._session.flush()
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
        return list(await self._session.scalars(select(User).order_by(User.name)))

    async def rotate_token(self, user_id: int, token: str | None = None) -> str | None:
        """Give the user a new token (random unless given) and return it; None if no user."""
        user = await self.get(user_id)
        if user is None:
            return None
        token = new_token() if token is None else token
        holder = await self.find_by_token(token)
        if holder is not None and holder.id != user.id:
            raise ConflictError("token already belongs to another user")
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


class SessionRepository:
    """Browser sessions: a random secret in the cookie, its hash here."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def start(self, user_id: int, *, expires_at: datetime, now: datetime) -> str:
        secret = new_token()
        self._session.add(
            BrowserSession(
                id=hash_token(secret), user_id=user_id, created_at=now, expires_at=expires_at
            )
        )
        await self._session.flush()
        return secret

    async def user_of(self, secret: str, *, now: datetime) -> User | None:
        """The user of a live (unexpired, unrevoked) session, or None."""
        if not secret:
            return None
        return await self._session.scalar(
            select(User)
            .join(BrowserSession, BrowserSession.user_id == User.id)
            .where(
                BrowserSession.id == hash_token(secret),
                BrowserSession.revoked_at.is_(None),
                BrowserSession.expires_at > now,
            )
        )

    async def revoke(self, secret: str, *, now: datetime) -> bool:
        result = await self._session.execute(
            update(BrowserSession)
            .where(BrowserSession.id == hash_token(secret), BrowserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return _rowcount(result) == 1

    async def revoke_all(self, user_id: int, *, now: datetime) -> int:
        result = await self._session.execute(
            update(BrowserSession)
            .where(BrowserSession.user_id == user_id, BrowserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return _rowcount(result)

    async def count_live(self, user_id: int, *, now: datetime) -> int:
        rows = await self._session.scalars(
            select(BrowserSession.id).where(
                BrowserSession.user_id == user_id,
                BrowserSession.revoked_at.is_(None),
                BrowserSession.expires_at > now,
            )
        )
        return len(list(rows))


class NotebookRepository:
    """Notebooks, always looked up through their owner so users stay isolated."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        owner_id: int,
        notebook_id: str,
        path: str,
        name: str,
        *,
        now: datetime | None = None,
    ) -> Notebook:
        """Register a notebook. Raises ConflictError if the id is taken (by anyone: ids are
        global, they are URLs) or the owner already has a notebook at `path`."""
        notebook = Notebook(
            id=notebook_id,
            owner_id=owner_id,
            path=path,
            name=name,
            created_at=now or utcnow(),
        )
        if not await self.id_available(notebook_id):
            raise ConflictError(f"notebook id {notebook_id!r} is not available; choose another")
        if await self.get_by_path(owner_id, path) is not None:
            raise ConflictError(f"a notebook at {path!r} already exists")
        self._session.add(notebook)
        await self._session.flush()
        return notebook

    async def id_available(self, notebook_id: str) -> bool:
        """Neither in use (by anyone: ids are URLs) nor retired (ids are never reused)."""
        for model in (Notebook, RetiredNotebookId):
            if await self._session.get(model, notebook_id) is not None:
                return False
        return True

    async def get(self, owner_id: int, notebook_id: str) -> Notebook | None:
        """The owner's notebook with this id; None if absent or someone else's."""
        notebook = await self._session.get(Notebook, notebook_id)
        if notebook is None or notebook.owner_id != owner_id:
            return None
        return notebook

    async def find(self, notebook_id: str) -> Notebook | None:
        """The notebook with this id, whoever owns it: for the runtime, never for a user."""
        return await self._session.get(Notebook, notebook_id)

    async def get_by_path(self, owner_id: int, path: str) -> Notebook | None:
        return await self._session.scalar(
            select(Notebook).where(Notebook.owner_id == owner_id, Notebook.path == path)
        )

    async def list_for_owner(self, owner_id: int) -> list[Notebook]:
        stmt = (
            select(Notebook)
            .where(Notebook.owner_id == owner_id)
            .order_by(Notebook.name, Notebook.id)
        )
        return list(await self._session.scalars(stmt))

    async def list_by_status(self, *statuses: NotebookStatus) -> list[Notebook]:
        """Every owner's notebooks in these states (e.g. what was running before a crash)."""
        stmt = select(Notebook).where(Notebook.status.in_(statuses)).order_by(Notebook.id)
        return list(await self._session.scalars(stmt))

    async def rename(
        self,
        owner_id: int,
        notebook_id: str,
        *,
        name: str | None = None,
        path: str | None = None,
    ) -> Notebook | None:
        """Change the display name and/or the path (after the file moved). Raises ConflictError
        if the owner already has another notebook at `path`."""
        notebook = await self.get(owner_id, notebook_id)
        if notebook is None:
            return None
        if path is not None and path != notebook.path:
            if await self.get_by_path(owner_id, path) is not None:
                raise ConflictError(f"a notebook at {path!r} already exists")
            notebook.path = path
        if name is not None:
            notebook.name = name
        await self._session.flush()
        return notebook

    async def delete(self, owner_id: int, notebook_id: str) -> bool:
        """Forget the notebook and its turns, chat and approvals (its file is not touched)."""
        notebook = await self.get(owner_id, notebook_id)
        if notebook is None:
            return False
        await self._session.delete(notebook)
        self._session.add(RetiredNotebookId(id=notebook_id))
        await self._session.flush()
        return True

    async def mark_opened(
        self, owner_id: int, notebook_id: str, *, now: datetime | None = None
    ) -> Notebook | None:
        notebook = await self.get(owner_id, notebook_id)
        if notebook is None:
            return None
        notebook.last_opened_at = now or utcnow()
        await self._session.flush()
        return notebook

    async def set_status(
        self, notebook_id: str, status: NotebookStatus, *, failure_reason: str | None = None
    ) -> Notebook | None:
        """Record the runtime state; `failure_reason` is kept only with FAILED."""
        notebook = await self._session.get(Notebook, notebook_id)
        if notebook is None:
            return None
        notebook.status = status
        notebook.failure_reason = failure_reason if status is NotebookStatus.FAILED else None
        await self._session.flush()
        return notebook

    async def reset_statuses(self) -> int:
        """Mark starting/running notebooks stopped; at start no process survives a restart."""
        result = await self._session.execute(
            update(Notebook)
            .where(Notebook.status.in_([NotebookStatus.STARTING, NotebookStatus.RUNNING]))
            .values(status=NotebookStatus.STOPPED, failure_reason=None)
            .execution_options(synchronize_session="fetch")
        )
        return _rowcount(result)


class TurnRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        notebook_id: str,
        user_id: int,
        prompt: str,
        *,
        cells_before_json: str | None = None,
        now: datetime | None = None,
    ) -> Turn:
        turn = Turn(
            notebook_id=notebook_id,
            user_id=user_id,
            prompt=prompt,
            status=TurnStatus.RUNNING,
            cells_before_json=cells_before_json,
            created_at=now or utcnow(),
        )
        self._session.add(turn)
        await self._session.flush()
        return turn

    async def get(self, turn_id: str) -> Turn | None:
        return await self._session.get(Turn, turn_id)

    async def interrupt_running(self, reason: str, *, now: datetime | None = None) -> list[Turn]:
        """Turns left `running` by a Hexa that stopped mid-turn: failed, with `reason`.
        (A turn waiting for an approval is not running: it can still be answered.)"""
        turns = list(
            await self._session.scalars(select(Turn).where(Turn.status == TurnStatus.RUNNING))
        )
        for turn in turns:
            turn.status = TurnStatus.FAILED
            turn.reply = reason
            turn.finished_at = now or utcnow()
        await self._session.flush()
        return turns

    async def update(
        self,
        turn_id: str,
        *,
        status: TurnStatus | None = None,
        messages_json: str | None = None,
        cells_before_json: str | None = None,
        cells_after_json: str | None = None,
        reply: str | None = None,
        finished_at: datetime | None = None,
    ) -> Turn | None:
        """Set the given fields (None leaves a field as it is). Moving to DONE or FAILED
        stamps `finished_at` with now unless given or already set."""
        turn = await self.get(turn_id)
        if turn is None:
            return None
        if status is not None:
            turn.status = status
            if status in (TurnStatus.DONE, TurnStatus.FAILED) and turn.finished_at is None:
                turn.finished_at = finished_at or utcnow()
        if finished_at is not None:
            turn.finished_at = finished_at
        if messages_json is not None:
            turn.messages_json = messages_json
        if cells_before_json is not None:
            turn.cells_before_json = cells_before_json
        if cells_after_json is not None:
            turn.cells_after_json = cells_after_json
        if reply is not None:
            turn.reply = reply
        await self._session.flush()
        return turn

    async def list_for_notebook(self, notebook_id: str, *, limit: int = 50) -> list[Turn]:
        """The notebook's turns, newest first."""
        stmt = (
            select(Turn)
            .where(Turn.notebook_id == notebook_id)
            .order_by(Turn.created_at.desc(), Turn.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(stmt))


class ChatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        notebook_id: str,
        role: ChatRole,
        content: str,
        *,
        turn_id: str | None = None,
        data_json: str | None = None,
        now: datetime | None = None,
    ) -> ChatMessage:
        message = ChatMessage(
            notebook_id=notebook_id,
            turn_id=turn_id,
            role=role,
            content=content,
            data_json=data_json,
            created_at=now or utcnow(),
        )
        self._session.add(message)
        await self._session.flush()
        return message

    async def list_for_notebook(
        self, notebook_id: str, *, limit: int | None = None, after_id: int | None = None
    ) -> list[ChatMessage]:
        """The conversation in order (oldest first): the last `limit` messages, or those
        after message `after_id` (for a client catching up)."""
        stmt = select(ChatMessage).where(ChatMessage.notebook_id == notebook_id)
        if after_id is not None:
            stmt = stmt.where(ChatMessage.id > after_id)
        if limit is None:
            return list(await self._session.scalars(stmt.order_by(ChatMessage.id)))
        newest = await self._session.scalars(stmt.order_by(ChatMessage.id.desc()).limit(limit))
        return list(reversed(newest.all()))


class ApprovalRepository:
    """Approvals of destructive tool calls: stored before the question is shown, answered
    at most once, bound to user, notebook, tool call and arguments, and carried out once."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        turn_id: str,
        user_id: int,
        notebook_id: str,
        tool_call_id: str,
        tool_name: str,
        args: Mapping[str, Any],
        description: str,
        expires_at: datetime,
        now: datetime | None = None,
        bound_sha256: str | None = None,
        preview: Mapping[str, Any] | None = None,
    ) -> Approval:
        """`args` and `preview` are stored to be shown (redacted); `bound_sha256` is what a
        later `consume` must match: the hash of the exact call (default: of `args`)."""
        now = now or utcnow()
        if expires_at <= now:
            raise ValueError("an approval must expire after it is created")
        approval = Approval(
            turn_id=turn_id,
            user_id=user_id,
            notebook_id=notebook_id,
            tool_call_id=tool_call_id,
            tool_name=tool_name,
            args_json=canonical_json(args),
            args_sha256=bound_sha256 or args_sha256(args),
            description=description,
            preview_json=canonical_json(preview) if preview is not None else None,
            status=ApprovalStatus.PENDING,
            created_at=now,
            expires_at=expires_at,
        )
        self._session.add(approval)
        await self._session.flush()
        return approval

    async def get(self, approval_id: str) -> Approval | None:
        return await self._session.get(Approval, approval_id)

    async def list_pending(self, notebook_id: str, *, now: datetime) -> list[Approval]:
        """Still-answerable approvals of a notebook, oldest first."""
        stmt = (
            select(Approval)
            .where(
                Approval.notebook_id == notebook_id,
                Approval.status == ApprovalStatus.PENDING,
                Approval.expires_at > now,
            )
            .order_by(Approval.created_at, Approval.id)
        )
        return list(await self._session.scalars(stmt))

    async def for_turn(self, turn_id: str) -> list[Approval]:
        """Every approval one turn asked for, oldest first, as the database has them now."""
        stmt = (
            select(Approval)
            .where(Approval.turn_id == turn_id)
            .order_by(Approval.created_at, Approval.id)
            .execution_options(populate_existing=True)
        )
        return list(await self._session.scalars(stmt))

    async def due(self, now: datetime) -> list[Approval]:
        """Pending approvals whose time is up (not yet marked expired)."""
        stmt = select(Approval).where(
            Approval.status == ApprovalStatus.PENDING, Approval.expires_at <= now
        )
        return list(await self._session.scalars(stmt))

    async def decide(
        self,
        approval_id: str,
        user_id: int,
        approve: bool,
        now: datetime,
        *,
        notebook_id: str | None = None,
    ) -> Approval | None:
        """Approve or reject, if the approval is still pending, unexpired and `user_id`'s
        (and in `notebook_id`, when given). Returns the decided approval, or None when
        nothing changed: unknown, someone else's, already decided, or expired.

        One conditional UPDATE, so of two concurrent calls exactly one matches the row.
        """
        stmt = (
            update(Approval)
            .where(
                Approval.id == approval_id,
                Approval.user_id == user_id,
                Approval.status == ApprovalStatus.PENDING,
                Approval.expires_at > now,
            )
            .values(
                status=ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED,
                decided_at=now,
                decided_by=user_id,
            )
            .execution_options(synchronize_session=False)
        )
        if notebook_id is not None:
            stmt = stmt.where(Approval.notebook_id == notebook_id)
        if _rowcount(await self._session.execute(stmt)) != 1:
            return None
        return await self._session.get(Approval, approval_id, populate_existing=True)

    async def consume(
        self,
        approval_id: str,
        *,
        tool_name: str,
        bound_sha256: str,
        now: datetime,
    ) -> Approval | None:
        """Claim an approved call for execution: succeeds once, and only if the call about
        to run is the one approved (same tool, same binding hash: arguments and the content
        the person was shown). None means: do not run."""
        result = await self._session.execute(
            update(Approval)
            .where(
                Approval.id == approval_id,
                Approval.status == ApprovalStatus.APPROVED,
                Approval.consumed_at.is_(None),
                Approval.tool_name == tool_name,
                Approval.args_sha256 == bound_sha256,
            )
            .values(consumed_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return None
        return await self._session.get(Approval, approval_id, populate_existing=True)

    async def expire_due(self, now: datetime) -> int:
        """Mark pending approvals whose time is up as expired; returns how many."""
        result = await self._session.execute(
            update(Approval)
            .where(Approval.status == ApprovalStatus.PENDING, Approval.expires_at <= now)
            .values(status=ApprovalStatus.EXPIRED)
            .execution_options(synchronize_session="fetch")
        )
        return _rowcount(result)


class AuditRepository:
    """The append-only audit log: `append` and read; the database refuses anything else."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self,
        *,
        user_id: int,
        notebook_id: str,
        tool_name: str,
        args: Mapping[str, Any] | str,
        outcome: str,
        user_name: str | None = None,
        turn_id: str | None = None,
        prompt: str | None = None,
        code_before: str | None = None,
        code_after: str | None = None,
        decision: Decision | None = None,
        duration_ms: float | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Write one entry; `args` as a mapping is stored as canonical JSON, a str as is."""
        entry = AuditEntry(
            at=at or utcnow(),
            user_id=user_id,
            user_name=user_name,
            notebook_id=notebook_id,
            turn_id=turn_id,
            prompt=prompt,
            tool_name=tool_name,
            args_json=args if isinstance(args, str) else canonical_json(args),
            code_before=code_before,
            code_after=code_after,
            decision=decision,
            outcome=outcome,
            duration_ms=duration_ms,
        )
        self._session.add(entry)
        await self._session.flush()
        return entry

    async def list_for_notebook(
        self,
        notebook_id: str,
        *,
        user_id: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        """The notebook's entries (only those `user_id` made, when given), newest (last
        appended) first; `before_id` pages back."""
        stmt = select(AuditEntry).where(AuditEntry.notebook_id == notebook_id)
        if user_id is not None:
            stmt = stmt.where(AuditEntry.user_id == user_id)
        if before_id is not None:
            stmt = stmt.where(AuditEntry.id < before_id)
        stmt = stmt.order_by(AuditEntry.id.desc()).limit(limit)
        return list(await self._session.scalars(stmt))


def _rowcount(result: Result[Any]) -> int:
    # An UPDATE's result is a CursorResult; the session API only types it as Result.
    return cast("CursorResult[Any]", result).rowcount
