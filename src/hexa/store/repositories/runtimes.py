"""Replicas and their heartbeats, and where each notebook runs (README "Scale out").

A `runtimes` row is a claim: the replica named in it alone starts, stops and culls the
notebook. A claim passes to another replica only by a conditional UPDATE that names the
holder it replaces, and only when that holder's heartbeat has gone stale, so two replicas
that race for a notebook get one winner.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from hexa.store.models import Replica, Runtime, utcnow
from hexa.store.repositories.base import Repository


class ReplicaRepository(Repository):
    async def beat(self, replica_id: str, *, now: datetime | None = None) -> None:
        """Record that `replica_id` is alive now (its row made on its first beat)."""
        now = now or utcnow()
        changed = await self._changed(
            update(Replica).where(Replica.id == replica_id).values(heartbeat_at=now)
        )
        if changed == 0:
            await self._add(Replica(id=replica_id, started_at=now, heartbeat_at=now))

    async def live(self, timeout: float, *, now: datetime | None = None) -> set[str]:
        """The replicas whose last heartbeat is at most `timeout` seconds old."""
        since = (now or utcnow()) - timedelta(seconds=timeout)
        rows = await self._session.scalars(select(Replica.id).where(Replica.heartbeat_at >= since))
        return set(rows)

    async def forget(self, replica_id: str) -> None:
        """A replica that stops cleanly says so: its claims are free at once."""
        await self._session.execute(delete(Replica).where(Replica.id == replica_id))


class RuntimeRepository(Repository):
    async def get(self, notebook_id: str) -> Runtime | None:
        return await self._session.get(Runtime, notebook_id, populate_existing=True)

    async def for_notebooks(self, notebook_ids: list[str]) -> dict[str, Runtime]:
        if not notebook_ids:
            return {}
        rows = await self._all(select(Runtime).where(Runtime.notebook_id.in_(notebook_ids)))
        return {row.notebook_id: row for row in rows}

    async def claim(
        self,
        notebook_id: str,
        replica_id: str,
        sandbox: str,
        *,
        live: set[str],
        now: datetime | None = None,
    ) -> Runtime | None:
        """Claim the notebook for `replica_id`: None when a live replica holds it.

        Free, or held by this replica or by one not in `live`: the claim is this replica's.
        A concurrent first claim surfaces as sqlalchemy's IntegrityError (see `base`).
        """
        now = now or utcnow()
        held = await self.get(notebook_id)
        if held is None:
            return await self._add(
                Runtime(
                    notebook_id=notebook_id,
                    replica_id=replica_id,
                    sandbox=sandbox,
                    claimed_at=now,
                    last_activity_at=now,
                )
            )
        holder = held.replica_id
        if holder != replica_id and holder in live:
            return None
        changed = await self._changed(
            update(Runtime)
            .where(Runtime.notebook_id == notebook_id, Runtime.replica_id == holder)
            .values(
                replica_id=replica_id,
                sandbox=sandbox,
                origin=None,
                token=None,
                session_id=None,
                claimed_at=now,
                last_activity_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return await self.get(notebook_id) if changed == 1 else None

    async def publish(
        self,
        notebook_id: str,
        replica_id: str,
        *,
        origin: str,
        token: str,
        session_id: str,
        base_path: str | None = None,
        file_key: str | None = None,
    ) -> bool:
        """The claimed notebook runs: how to reach it. False if the claim was lost."""
        changed = await self._changed(
            update(Runtime)
            .where(Runtime.notebook_id == notebook_id, Runtime.replica_id == replica_id)
            .values(
                origin=origin,
                token=token,
                session_id=session_id,
                base_path=base_path,
                file_key=file_key,
            )
            .execution_options(synchronize_session=False)
        )
        return changed == 1

    async def release(self, notebook_id: str, replica_id: str) -> None:
        """The notebook stopped here: no replica holds it (a lost claim is left alone)."""
        await self._session.execute(
            delete(Runtime)
            .where(Runtime.notebook_id == notebook_id, Runtime.replica_id == replica_id)
            .execution_options(synchronize_session=False)
        )

    async def release_all(self, replica_id: str) -> int:
        """Every claim of this replica (at start: its previous run's marimos are gone)."""
        result = await self._session.execute(
            delete(Runtime)
            .where(Runtime.replica_id == replica_id)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def touch(self, notebook_id: str, *, now: datetime | None = None) -> None:
        await self._changed(
            update(Runtime)
            .where(Runtime.notebook_id == notebook_id)
            .values(last_activity_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )

    async def last_activity(self, notebook_ids: list[str]) -> dict[str, datetime]:
        if not notebook_ids:
            return {}
        rows = await self._session.execute(
            select(Runtime.notebook_id, Runtime.last_activity_at).where(
                Runtime.notebook_id.in_(notebook_ids)
            )
        )
        return {row[0]: row[1] for row in rows}
