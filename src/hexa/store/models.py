"""The ORM tables. The schema is created by the migrations in `migrations/`, never `create_all`.

There are deliberately no `relationship()`s: in async code a lazy load raises instead of
doing IO, so repositories query explicitly and flush parents before children.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

NOTEBOOK_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind the store accepts)."""
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so naive values read back are UTC by construction. Naive values
    are refused on the way in: guessing their zone is how audit timestamps go wrong.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware times")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text, so every stored value must be naive UTC in one
        # format; PostgreSQL's timestamptz (asyncpg) wants the aware value.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# PostgreSQL's text types cannot hold NUL (U+0000), which Python strings and SQLite can: a
# chat message, a notebook name or a cell's output may carry one. On PostgreSQL, NUL is
# stored as ESCAPE + "0" and ESCAPE itself as ESCAPE + "1" (U+FFFF, a noncharacter no text
# should hold), and both are read back as they were; on SQLite nothing changes.
_NUL = "\x00"
_ESCAPE = "\uffff"
_ESCAPED = re.compile(f"{_ESCAPE}([01])")


def _escape_nul(value: str) -> str:
    if _NUL not in value and _ESCAPE not in value:
        return value
    return value.replace(_ESCAPE, _ESCAPE + "1").replace(_NUL, _ESCAPE + "0")


def _unescape_nul(value: str) -> str:
    if _ESCAPE not in value:
        return value
    return _ESCAPED.sub(lambda m: _NUL if m[1] == "0" else _ESCAPE, value)


class _NulSafe(TypeDecorator[str]):
    """Any text, NUL included, on every backend (see `_escape_nul`). Comparisons with a
    bound value escape it the same way, so equality and lookups by value still work."""

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return _escape_nul(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return _unescape_nul(value)


class NulSafeText(_NulSafe):
    impl = Text
    cache_ok = True


class NulSafeString(_NulSafe):
    """VARCHAR(n): on PostgreSQL each NUL or U+FFFF counts twice against n."""

    impl = String
    cache_ok = True


class NotebookStatus(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"


class TurnStatus(enum.StrEnum):
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"


class ChatRole(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    SYSTEM = "system"


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Decision(enum.StrEnum):
    """How a tool call in the audit log came to run (or not)."""

    AUTO = "auto"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


# A row id that grows with use and that clients send back (`after_id`, `before_id`): 64-bit
# like SQLite's rowid, which an INTEGER PRIMARY KEY is (BIGINT there would not be one).
RowId = BigInteger().with_variant(Integer(), "sqlite")


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # VARCHAR plus a CHECK, not a native enum type: adding a value later is then a plain
    # batch migration on both SQLite and PostgreSQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    # Named constraints, so that later batch migrations on SQLite can refer to them.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # sha256 hex of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notebook(Base):
    __tablename__ = "notebooks"
    __table_args__ = (UniqueConstraint("owner_id", "path", name="uq_notebooks_owner_id_path"),)

    # Chosen by the client and used in URLs (/nb/<id>/), hence the restricted alphabet.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Relative to the owner's notebook folder; resolving it safely is the caller's job.
    path: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(NulSafeString(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_opened_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[NotebookStatus] = mapped_column(
        _str_enum(NotebookStatus, "notebook_status"), default=NotebookStatus.STOPPED
    )
    failure_reason: Mapped[str | None] = mapped_column(NulSafeText, default=None)

    @validates("id")
    def _validate_id(self, key: str, value: str) -> str:
        if not NOTEBOOK_ID_PATTERN.fullmatch(value):
            raise ValueError(f"notebook id must be 1-64 characters of [A-Za-z0-9_-]: {value!r}")
        return value


class Replica(Base):
    """A running `hexa serve`; its heartbeat says it is alive (README "Scale out")."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


class Runtime(Base):
    """Where a notebook's marimo runs: the replica that started it and how any replica
    reaches it. A row is a claim: only its replica starts, stops and culls the notebook,
    until that replica's heartbeat goes stale and another claims it."""

    __tablename__ = "runtimes"

    notebook_id: Mapped[str] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), primary_key=True
    )
    replica_id: Mapped[str] = mapped_column(String(128), index=True)
    sandbox: Mapped[str] = mapped_column(String(32))
    # Unset while it starts: the address of marimo, its token and Hexa's session there.
    origin: Mapped[str | None] = mapped_column(String(255), default=None)
    token: Mapped[str | None] = mapped_column(String(128), default=None)
    session_id: Mapped[str | None] = mapped_column(String(128), default=None)
    # marimo's base URL path and the file it must serve (hexa.proxy.upstream); unset:
    # /nb/<id> and none, a marimo started for this one notebook.
    base_path: Mapped[str | None] = mapped_column(String(255), default=None)
    file_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Use through any replica; the claiming replica's idle cull reads it.
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)


class BrowserSession(Base):
    """A signed-in browser: its cookie holds a random secret, the database its hash. It
    survives restarts of Hexa and is revoked on its own (sign-out) or with its user's
    token (rotation, removal)."""

    __tablename__ = "browser_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the secret
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class RetiredNotebookId(Base):
    """The id of a deleted notebook: never given to another notebook (see migration 0002)."""

    __tablename__ = "retired_notebook_ids"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(default=utcnow)


class Turn(Base):
    """One agent turn: a user's chat message and everything the agent did for it."""

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_notebook_id_created_at", "notebook_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    notebook_id: Mapped[str] = mapped_column(ForeignKey("notebooks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prompt: Mapped[str] = mapped_column(NulSafeText)
    status: Mapped[TurnStatus] = mapped_column(
        _str_enum(TurnStatus, "turn_status"), default=TurnStatus.RUNNING
    )
    # pydantic-ai's message history for this run (ModelMessagesTypeAdapter JSON).
    messages_json: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    # The notebook's cells before the turn touched them, so the turn can be undone.
    cells_before_json: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    # The cells as the turn left them: undo never reverts what a person changed since.
    cells_after_json: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    reply: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # The replica running it: only a dead replica's running turns are interrupted.
    replica_id: Mapped[str | None] = mapped_column(String(128), default=None)


class ChatMessage(Base):
    """One line of the conversation shown beside a notebook."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    notebook_id: Mapped[str] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), index=True
    )
    turn_id: Mapped[str | None] = mapped_column(
        ForeignKey("turns.id", ondelete="SET NULL"), index=True, default=None
    )
    role: Mapped[ChatRole] = mapped_column(_str_enum(ChatRole, "chat_role"))
    content: Mapped[str] = mapped_column(NulSafeText)
    # Tool call details (name, arguments, result) for the UI's chips.
    data_json: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Approval(Base):
    """A stored question "may the agent do this destructive thing?", answered at most once."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_status_expires_at", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    turn_id: Mapped[str] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    notebook_id: Mapped[str] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), index=True
    )
    tool_call_id: Mapped[str] = mapped_column(String(255))
    tool_name: Mapped[str] = mapped_column(String(255))
    args_json: Mapped[str] = mapped_column(NulSafeText)
    # Binds the yes to these exact arguments: a changed call needs a new approval.
    args_sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(NulSafeText)
    # What the person was shown: {"code_before", "code_after", "changes": [by cell]}.
    preview_json: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    status: Mapped[ApprovalStatus] = mapped_column(
        _str_enum(ApprovalStatus, "approval_status"), default=ApprovalStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # Set when the approved call is carried out, so one yes runs the call once.
    consumed_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One row of the append-only audit log (the database refuses UPDATE and DELETE).

    No foreign keys: the history must outlive the users and notebooks it mentions.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int] = mapped_column(Integer)
    # The name at the time, since the user row may be gone when the log is read.
    user_name: Mapped[str | None] = mapped_column(String(64), default=None)
    notebook_id: Mapped[str] = mapped_column(String(64), index=True)
    turn_id: Mapped[str | None] = mapped_column(String(36), default=None)
    prompt: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    tool_name: Mapped[str] = mapped_column(String(255))
    args_json: Mapped[str] = mapped_column(NulSafeText)
    code_before: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    code_after: Mapped[str | None] = mapped_column(NulSafeText, default=None)
    decision: Mapped[Decision | None] = mapped_column(
        _str_enum(Decision, "audit_decision"), default=None
    )
    outcome: Mapped[str] = mapped_column(NulSafeText)
    duration_ms: Mapped[float | None] = mapped_column(Float, default=None)
