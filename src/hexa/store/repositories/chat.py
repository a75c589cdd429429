"""The chat shown beside a notebook: the person's prompts and the agent's replies, in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select

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
        return await self._add(
            ChatMessage(
                notebook_id=notebook_id,
                turn_id=turn_id,
                role=role,
                content=content,
                data_json=data_json,
                created_at=now or utcnow(),
            )
        )

    async def add_many(
        self,
        notebook_id: str,
        messages: Sequence[tuple[ChatRole, str, str | None]],
        *,
        turn_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Several messages (role, content, data_json), in order (their ids ascend), in one
        statement: no rows come back (the ORM would insert them one by one to read each
        id back)."""
        if not messages:
            return
        at = now or utcnow()
        await self._session.execute(
            insert(ChatMessage),
            [
                {
                    "notebook_id": notebook_id,
                    "turn_id": turn_id,
                    "role": role,
                    "content": content,
                    "data_json": data_json,
                    "created_at": at,
                }
                for role, content, data_json in messages
            ],
        )

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
