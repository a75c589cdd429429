"""Persistence: SQLAlchemy 2 async models, repositories, and in-package alembic migrations.

Start-up: `await upgrade_database(url)`, then `engine = create_engine(url)` and
`sessions = create_sessionmaker(engine)`; per unit of work
`async with sessions.begin() as session:` and the repositories over `session`.
"""

from __future__ import annotations

from hexa.store.database import create_engine, create_sessionmaker, is_sqlite
from hexa.store.migration import (
    alembic_config,
    backup_sqlite,
    current_revision,
    head_revision,
    upgrade_database,
)
from hexa.store.models import (
    Approval,
    ApprovalStatus,
    AuditEntry,
    Base,
    ChatMessage,
    ChatRole,
    Decision,
    Notebook,
    NotebookStatus,
    Replica,
    Runtime,
    Turn,
    TurnStatus,
    User,
    new_uuid,
    utcnow,
)
from hexa.store.repositories import (
    ApprovalRepository,
    AuditRepository,
    ChatRepository,
    NewUser,
    NotebookRepository,
    ReplicaRepository,
    RuntimeRepository,
    SessionRepository,
    TurnRepository,
    UserRepository,
    args_sha256,
    canonical_json,
    hash_token,
)

__all__ = [
    "Approval",
    "ApprovalRepository",
    "ApprovalStatus",
    "AuditEntry",
    "AuditRepository",
    "Base",
    "ChatMessage",
    "ChatRepository",
    "ChatRole",
    "Decision",
    "NewUser",
    "Notebook",
    "NotebookRepository",
    "NotebookStatus",
    "Replica",
    "ReplicaRepository",
    "Runtime",
    "RuntimeRepository",
    "SessionRepository",
    "Turn",
    "TurnRepository",
    "TurnStatus",
    "User",
    "UserRepository",
    "alembic_config",
    "args_sha256",
    "backup_sqlite",
    "canonical_json",
    "create_engine",
    "create_sessionmaker",
    "current_revision",
    "hash_token",
    "head_revision",
    "is_sqlite",
    "new_uuid",
    "upgrade_database",
    "utcnow",
]
