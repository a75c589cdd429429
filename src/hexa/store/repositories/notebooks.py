"""Notebooks, and the ids of deleted ones, which are retired rather than reused.

A taken id or path is found by a look-up before the insert and reported as `ConflictError`;
a concurrent insert past that look-up surfaces as sqlalchemy's `IntegrityError` (no
SAVEPOINTs, see `base`), after which the transaction must be rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from hexa.errors import ConflictError
from hexa.store.models import Notebook, NotebookStatus, RetiredNotebookId, Runtime, utcnow
from hexa.store.repositories.base import Repository, by_codepoint


class NotebookRepository(Repository):
    """Notebooks, always looked up through their owner so users stay isolated."""

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
        await self._check_path_free(owner_id, path)
        return await self._add(notebook)

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
        """The owner's notebooks by name, then id (in codepoint order, see `by_codepoint`)."""
        notebooks = await self._all(select(Notebook).where(Notebook.owner_id == owner_id))
        return by_codepoint(notebooks, lambda n: (n.name, n.id))

    async def list_by_status(self, *statuses: NotebookStatus) -> list[Notebook]:
        """Every owner's notebooks in these states (e.g. what was running before a crash),
        by id."""
        notebooks = await self._all(select(Notebook).where(Notebook.status.in_(statuses)))
        return by_codepoint(notebooks, lambda n: n.id)

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
            await self._check_path_free(owner_id, path)
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
        await self._add(RetiredNotebookId(id=notebook_id))
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
        notebook = await self.find(notebook_id)
        if notebook is None:
            return None
        notebook.status = status
        notebook.failure_reason = failure_reason if status is NotebookStatus.FAILED else None
        await self._session.flush()
        return notebook

    async def reset_statuses(self, *, keep_held_by: Iterable[str] = ()) -> int:
        """Mark starting/running notebooks stopped (at start: no process of this replica
        survives its restart), except those another live replica runs (`keep_held_by`)."""
        stmt = update(Notebook).where(
            Notebook.status.in_([NotebookStatus.STARTING, NotebookStatus.RUNNING])
        )
        held = list(keep_held_by)
        if held:
            stmt = stmt.where(
                Notebook.id.not_in(select(Runtime.notebook_id).where(Runtime.replica_id.in_(held)))
            )
        return await self._changed(
            stmt.values(status=NotebookStatus.STOPPED, failure_reason=None).execution_options(
                synchronize_session="fetch"
            )
        )

    async def _check_path_free(self, owner_id: int, path: str) -> None:
        """Raise ConflictError if the owner already has a notebook at `path`."""
        if await self.get_by_path(owner_id, path) is not None:
            raise ConflictError(f"a notebook at {path!r} already exists")
