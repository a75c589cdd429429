"""Destructive calls wait for a stored, once-only, expiring yes (fake marimo notebooks)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select, update

from hexa.agent.builtin import builtin_model
from hexa.errors import ConflictError, NotFoundError
from hexa.marimo.models import DeleteCell
from hexa.store import (
    Approval,
    ApprovalStatus,
    AuditEntry,
    AuditRepository,
    Decision,
    Turn,
    TurnRepository,
    TurnStatus,
)

from .conftest import World, collector
from .scripts import Seen, scripted


async def audit(world: World) -> list[AuditEntry]:
    async with world.sessions() as session:
        return list(reversed(await AuditRepository(session).list_for_notebook("nb1")))


async def approval_row(world: World, approval_id: str) -> Approval:
    async with world.sessions() as session:
        row = await session.get(Approval, approval_id)
    assert row is not None
    return row


def deletes(world: World) -> int:
    return sum(isinstance(op, DeleteCell) for batch in world.nb.applied for op in batch)


async def test_delete_waits_for_approval_and_then_runs_once(world: World) -> None:
    service = world.service()
    drain = collector(service, "nb1")
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    pending = reply.pending_approval
    assert pending is not None
    assert reply.status == "waiting_approval"
    assert pending.operation == "delete_cells"
    assert pending.arguments["cell_ids"] == ["vblA"]
    assert "vblA" in pending.description
    assert "notebook 'Sales report'" in pending.description  # its name, not its id
    assert "x + 1" in (pending.code_before or "")
    assert [c.status for c in reply.tool_calls] == ["pending_approval"]
    assert [c.cell_id for c in world.nb.cells] == ["Hbol", "MJUe", "vblA"]  # untouched
    assert world.nb.applied == []
    requested = [e for e in drain() if e["type"] == "approval_requested"]
    assert requested[0]["approval"]["id"] == pending.id
    row = await approval_row(world, pending.id)
    assert row.status is ApprovalStatus.PENDING
    assert row.user_id == world.alice.id

    done = await service.approve(world.alice, "nb1", pending.id)
    assert done.status == "done"
    assert "Deleted cell(s) `vblA`" in done.message
    assert [c.cell_id for c in world.nb.cells] == ["Hbol", "MJUe"]
    assert [(c.tool_name, c.status) for c in done.tool_calls] == [("delete_cells", "ok")]
    row = await approval_row(world, pending.id)
    assert row.status is ApprovalStatus.APPROVED
    assert row.consumed_at is not None
    [entry] = await audit(world)
    assert entry.decision is Decision.APPROVED
    assert entry.code_before is not None
    assert entry.code_before.endswith("x + 1")
    with pytest.raises(ConflictError, match="already approved"):
        await service.approve(world.alice, "nb1", pending.id)
    assert deletes(world) == 1


async def test_rejection_is_told_to_the_model_which_answers(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    answer = await service.reject(world.alice, "nb1", reply.pending_approval.id)
    assert answer.status == "done"
    assert answer.message.startswith("OK, I did not run `delete_cells`.")
    assert "rejected" in answer.message
    assert [c.status for c in answer.tool_calls] == ["denied"]
    assert len(world.nb.cells) == 3
    [entry] = await audit(world)
    assert entry.decision is Decision.REJECTED
    assert entry.tool_name == "delete_cells"
    with pytest.raises(ConflictError, match="already rejected"):
        await service.approve(world.alice, "nb1", reply.pending_approval.id)


async def test_two_concurrent_approvals_apply_once(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    approval_id = reply.pending_approval.id
    results = await asyncio.gather(
        service.approve(world.alice, "nb1", approval_id),
        service.approve(world.alice, "nb1", approval_id),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ChatReply", "ConflictError"]
    assert deletes(world) == 1


async def test_two_services_approving_at_once_apply_once(world: World) -> None:
    # Two service objects over one database: only the atomic decide guards this.
    first, second = world.service(), world.service()
    reply = await first.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    approval_id = reply.pending_approval.id
    results = await asyncio.gather(
        first.approve(world.alice, "nb1", approval_id),
        second.approve(world.alice, "nb1", approval_id),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ChatReply", "ConflictError"]
    assert deletes(world) == 1


async def test_an_expired_approval_cannot_be_used(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    world.clock.advance(world.settings.approval_ttl + 1)
    with pytest.raises(ConflictError, match="expired"):
        await service.approve(world.alice, "nb1", reply.pending_approval.id)
    with pytest.raises(ConflictError, match="expired"):
        await service.reject(world.alice, "nb1", reply.pending_approval.id)
    assert len(world.nb.cells) == 3
    row = await approval_row(world, reply.pending_approval.id)
    assert row.status is ApprovalStatus.EXPIRED
    entries = await audit(world)
    assert [e.decision for e in entries] == [Decision.EXPIRED]
    # The conversation goes on; the model hears the call was not run.
    after = await service.chat(world.alice, "nb1", "list cells")
    assert after.status == "done"


async def test_pending_approval_survives_a_restart(world: World) -> None:
    before = world.service()
    reply = await before.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    await before.close()
    after = world.service()  # a new process: everything comes from the database
    history = await after.history(world.alice, "nb1")
    assert [p.id for p in history.pending_approvals] == [reply.pending_approval.id]
    assert history.pending_approvals[0].code_before is not None
    done = await after.approve(world.alice, "nb1", reply.pending_approval.id)
    assert "Deleted" in done.message
    assert len(world.nb.cells) == 2


async def test_wrong_user_or_notebook_is_not_found(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    approval_id = reply.pending_approval.id
    with pytest.raises(NotFoundError):
        await service.approve(world.bob, "bobnb", approval_id)
    with pytest.raises(NotFoundError):
        await service.approve(world.bob, "nb1", approval_id)
    with pytest.raises(NotFoundError):
        await service.approve(world.alice, "nb2", approval_id)
    with pytest.raises(NotFoundError):
        await service.approve(world.alice, "nb1", "no-such-approval")
    assert len(world.nb.cells) == 3
    assert (await approval_row(world, approval_id)).status is ApprovalStatus.PENDING


async def test_a_new_message_supersedes_a_pending_approval(world: World) -> None:
    seen: Seen = []
    service = world.service(
        scripted(("delete_cells", '{"cell_ids": ["vblA"]}'), "moving on", seen=seen)
    )
    reply = await service.chat(world.alice, "nb1", "delete it")
    assert reply.pending_approval is not None
    after = await service.chat(world.alice, "nb1", "never mind, something else")
    assert after.status == "done"
    told = [str(p.content) for p in seen[-1][0][-1].parts if hasattr(p, "content")]
    assert any("new message instead of answering" in t for t in told)
    with pytest.raises(ConflictError, match="already rejected"):
        await service.approve(world.alice, "nb1", reply.pending_approval.id)
    assert len(world.nb.cells) == 3
    entries = await audit(world)
    assert entries[0].decision is Decision.REJECTED
    assert "new message" in entries[0].outcome


async def test_approval_binds_the_exact_arguments(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    # Someone edits the stored conversation so the resumed call would delete another cell.
    async with world.sessions.begin() as session:
        turn = await session.get(Turn, reply.turn_id)
        assert turn is not None
        assert turn.messages_json
        tampered = turn.messages_json.replace('\\"vblA\\"', '\\"Hbol\\"')
        assert tampered != turn.messages_json
        await session.execute(update(Turn).where(Turn.id == turn.id).values(messages_json=tampered))
    done = await service.approve(world.alice, "nb1", reply.pending_approval.id)
    assert "no valid approval" in done.message
    assert [c.cell_id for c in world.nb.cells] == ["Hbol", "MJUe", "vblA"]


async def test_several_destructive_calls_resume_when_all_are_answered(world: World) -> None:
    service = world.service(
        scripted(
            [("delete_cells", '{"cell_ids": ["vblA"]}'), ("restart_kernel", "{}")],
            "both handled",
        )
    )
    reply = await service.chat(world.alice, "nb1", "clean up")
    async with world.sessions() as session:
        rows = list(
            await session.scalars(select(Approval).where(Approval.turn_id == reply.turn_id))
        )
    assert sorted(r.tool_name for r in rows) == ["delete_cells", "restart_kernel"]
    by_name = {r.tool_name: r.id for r in rows}
    first = await service.approve(world.alice, "nb1", by_name["delete_cells"])
    assert first.status == "waiting_approval"
    assert first.pending_approval is not None
    assert first.pending_approval.id == by_name["restart_kernel"]
    assert len(world.nb.cells) == 3
    done = await service.reject(world.alice, "nb1", by_name["restart_kernel"])
    assert done.status == "done"
    assert len(world.nb.cells) == 2
    assert world.notebooks.restarts == []
    statuses = {c.tool_name: c.status for c in done.tool_calls}
    assert statuses == {"delete_cells": "ok", "restart_kernel": "denied"}


async def test_restart_kernel_after_approval(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "restart kernel")
    assert reply.pending_approval is not None
    assert world.notebooks.restarts == []
    done = await service.approve(world.alice, "nb1", reply.pending_approval.id)
    assert world.notebooks.restarts == ["nb1"]
    assert "Restarted" in done.message


async def test_turn_states_follow_the_approval(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(reply.turn_id)
    assert turn is not None
    assert turn.status is TurnStatus.WAITING_APPROVAL
    assert reply.pending_approval is not None
    await service.approve(world.alice, "nb1", reply.pending_approval.id)
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(reply.turn_id)
    assert turn is not None
    assert turn.status is TurnStatus.DONE
    assert json.loads(turn.cells_before_json or "{}")["notebooks"]["nb1"][2]["id"] == "vblA"


def test_builtin_model_is_made_per_turn() -> None:
    assert builtin_model(["a"]) is not builtin_model(["a"])


async def test_an_approval_is_refused_when_its_cell_changed_under_it(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell vblA")
    assert reply.pending_approval is not None
    assert "x + 1" in (reply.pending_approval.code_before or "")
    # marimo hands out ids by position on load: after a reorder and a restart, `vblA`
    # names the cell that was `MJUe`, which nobody asked to delete.
    cells = world.nb.cells
    cells[1].code, cells[2].code = cells[2].code, cells[1].code
    done = await service.approve(world.alice, "nb1", reply.pending_approval.id)
    assert "no valid approval" in done.message
    assert deletes(world) == 0
    assert [c.cell_id for c in world.nb.cells] == ["Hbol", "MJUe", "vblA"]
    [entry] = await audit(world)
    assert "not run" in entry.outcome


async def test_an_approved_call_whose_code_looks_like_a_key_still_runs(world: World) -> None:
    cells = '{"cells": [{"code": "client = make(api_key=\\"sk-live-0123456789abcdef\\")"}]}'
    service = world.service(scripted(("replace_notebook", cells), "replaced"))
    reply = await service.chat(world.alice, "nb1", "start over")
    pending = reply.pending_approval
    assert pending is not None
    # Shown and stored redacted...
    assert "sk-live-0123456789abcdef" not in json.dumps(pending.arguments)
    done = await service.approve(world.alice, "nb1", pending.id)
    # ...but bound to the call as it is, so the approved call runs.
    assert [(c.tool_name, c.status) for c in done.tool_calls] == [("replace_notebook", "ok")]
    assert "sk-live-0123456789abcdef" in world.nb.cells[0].code
