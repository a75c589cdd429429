"""The audit log: one entry per tool call the agent made, appended and never changed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hexa.store.models import AuditEntry, Decision, utcnow
from hexa.store.repositories.base import Repository
from hexa.store.repositories.digests import canonical_json


class AuditRepository(Repository):
    """The append-only audit log: `append` and read; the database refuses anything else."""

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
        return await self._add(
            AuditEntry(
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
        )

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
        return await self._all(stmt.order_by(AuditEntry.id.desc()).limit(limit))
