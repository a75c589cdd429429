"""The chat shown beside a notebook: the person's prompts and the agent's replies, in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from hexa.store.models import ChatMessage, ChatRole, utcnow
from hexa.store.repositories.base import Repository


class ChatRepository(Repository):
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
        [message] = await self.add_many(
            notebook_id, [(role, content, data_json)], turn_id=turn_id, now=now
        )
        return message

    async def add_many(
        self,
        notebook_id: str,
        messages: Sequence[tuple[ChatRole, str, str | None]],
        *,
        turn_id: str | None = None,
        now: datetime | None = None,
    ) -> list[ChatMessage]:
        """Several messages (role, content, data_json) in order, written in one round trip."""
        at = now or utcnow()
        rows = [
            ChatMessage(
                notebook_id=notebook_id,
                turn_id=turn_id,
                role=role,
                content=content,
                data_json=data_json,
                created_at=at,
            )
            for role, content, data_json in messages
        ]
        self._session.add_all(rows)
        await self._session.flush()
        return rows

    async def list_for_notebook(
        self, notebook_id: str, *, limit: int | None = None, after_id: int | None = None
    ) -> list[ChatMessage]:
        """The conversation in order (oldest first): the last `limit` messages, or those
        after message `after_id` (for a client catching up)."""
        stmt = select(ChatMessage).where(ChatMessage.notebook_id == notebook_id)
        if after_id is not None:
            stmt = stmt.where(ChatMessage.id > after_id)
        if limit is None:
            return await self._all(stmt.order_by(ChatMessage.id))
        newest = await self._all(stmt.order_by(ChatMessage.id.desc()).limit(limit))
        return list(reversed(newest))
