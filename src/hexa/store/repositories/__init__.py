"""Typed data access for the services: one small repository per table, over one AsyncSession.

Each repository lives in a module named for what it holds (`users`, `browser_sessions`,
`notebooks`, `runtimes` (replicas and where notebooks run), `turns`, `chat`,
`approvals`, `audit`); what they share, and the transaction
rules they all follow (flush, never commit; no SAVEPOINTs), is in `base`. Tokens and the
digests stored in their place are in `digests`.
"""

from __future__ import annotations

from hexa.store.repositories.approvals import ApprovalRepository
from hexa.store.repositories.audit import AuditRepository
from hexa.store.repositories.browser_sessions import SessionRepository
from hexa.store.repositories.chat import ChatRepository
from hexa.store.repositories.digests import args_sha256, canonical_json, hash_token, new_token
from hexa.store.repositories.notebooks import NotebookRepository
from hexa.store.repositories.runtimes import ReplicaRepository, RuntimeRepository
from hexa.store.repositories.turns import TurnRepository
from hexa.store.repositories.users import USER_NAME_PATTERN, NewUser, UserRepository

__all__ = [
    "USER_NAME_PATTERN",
    "ApprovalRepository",
    "AuditRepository",
    "ChatRepository",
    "NewUser",
    "NotebookRepository",
    "ReplicaRepository",
    "RuntimeRepository",
    "SessionRepository",
    "TurnRepository",
    "UserRepository",
    "args_sha256",
    "canonical_json",
    "hash_token",
    "new_token",
]
