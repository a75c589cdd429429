"""Scripted conversations with the builtin model against a real marimo: what the agent
does shows in the kernel, in the file, and on the notebook's event stream."""

from __future__ import annotations

import asyncio
import re

import pytest

from hexa.agent.events import MarimoNotification, RunFinished
from hexa.agent.models import ModelChoice
from hexa.errors import ConflictError
from hexa.marimo.models import CreateCell
from tests.integration.marimo.conftest import wait_file

from .conftest import Setup

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def new_id(message: str) -> str:
    found = re.search(r"cell `([A-Za-z0-9_-]+)`", message)
    assert found, message
    return found.group(1)


async def ids(setup: Setup) -> list[str]:
    return [c["cell_id"] for c in (await setup.client.cell_map())["cells"]]


async def test_add_edit_move_run_and_read_back(setup: Setup) -> None:
    service, user = setup.service, setup.user
    reply = await service.chat(
        user, "nb", "add a cell:\n```python\nagent_y = total * 10\nagent_y\n```"
    )
    assert reply.status == "done", reply.message
    cell = new_id(reply.message)
    assert "420" in reply.message  # its output, read back from marimo
    await wait_file(setup.path, lambda text: "agent_y = total * 10" in text)
    first, second = (await ids(setup))[:2]
    assert (await ids(setup))[-1] == cell

    reply = await service.chat(
        user, "nb", f"edit cell {cell}: ```python\nagent_y = total * 100\nagent_y\n```"
    )
    assert "4200" in reply.message
    await wait_file(setup.path, lambda text: "total * 100" in text and "total * 10\n" not in text)

    reply = await service.chat(user, "nb", f"move cell {cell} after {first}")
    assert reply.tool_calls[0].status == "ok"
    assert await ids(setup) == [first, cell, second]

    reply = await service.chat(user, "nb", "run all")
    assert "Ran 3 cell(s)" in reply.message
    assert "4200" in reply.message

    reply = await service.chat(user, "nb", f"show output of cell {cell}")
    assert "4200" in reply.message
    reply = await service.chat(user, "nb", "show variables")
    assert "agent_y" in reply.message
    assert "4200" in reply.message
    reply = await service.chat(user, "nb", "list cells")
    assert cell in reply.message

    audit = await service.audit(user, "nb")
    tools = [e.tool_name for e in reversed(audit)]
    assert tools[:4] == ["add_cell", "edit_cell", "move_cell", "run_cells"]
    edit = next(e for e in audit if e.tool_name == "edit_cell")
    assert edit.code_before == "agent_y = total * 10\nagent_y"
    assert edit.code_after == "agent_y = total * 100\nagent_y"


async def test_errors_reach_the_person(setup: Setup) -> None:
    reply = await setup.service.chat(setup.user, "nb", "```python\n1 / 0\n```")
    assert "ZeroDivisionError" in reply.message
    reply = await setup.service.chat(setup.user, "nb", "```python\nbase = 1\n```")
    assert "nothing was added" in reply.message
    assert "base" in reply.message
    reply = await setup.service.chat(setup.user, "nb", "show errors")
    assert "ZeroDivisionError" in reply.message or "division" in reply.message


async def test_delete_leaves_the_file_untouched_until_approved(setup: Setup) -> None:
    service, user = setup.service, setup.user
    reply = await service.chat(user, "nb", "```python\ndoomed = 1\n```")
    cell = new_id(reply.message)
    await wait_file(setup.path, lambda text: "doomed = 1" in text)
    reply = await service.chat(user, "nb", f"delete cell {cell}")
    assert reply.pending_approval is not None
    assert "doomed = 1" in (reply.pending_approval.code_before or "")
    # marimo saves asynchronously, and each save writes the whole notebook: once a later
    # edit shows in the file, a delete made before it would show too.
    await setup.client.apply([CreateCell("approval_barrier = 1", run=False)])
    text = await wait_file(setup.path, lambda text: "approval_barrier = 1" in text)
    assert "doomed = 1" in text
    assert cell in await ids(setup)

    # A restarted server (a new service over the same database) carries it out.
    done = await setup.another_service().approve(user, "nb", reply.pending_approval.id)
    assert "Deleted" in done.message
    await wait_file(setup.path, lambda text: "doomed = 1" not in text)
    assert cell not in await ids(setup)
    with pytest.raises(ConflictError):
        await service.approve(user, "nb", reply.pending_approval.id)


async def test_reject_leaves_the_notebook_as_it_was(setup: Setup) -> None:
    before = await ids(setup)
    reply = await setup.service.chat(setup.user, "nb", f"delete cell {before[0]}")
    assert reply.pending_approval is not None
    told = await setup.service.reject(setup.user, "nb", reply.pending_approval.id)
    assert told.message.startswith("OK, I did not run")
    assert await ids(setup) == before
    assert "base = 40" in setup.file()


async def test_undo_restores_cells_file_and_ids(setup: Setup) -> None:
    service, user = setup.service, setup.user
    before = await ids(setup)
    codes = [c["code"] for c in await setup.client.cell_runtime_data([])]
    reply = await service.chat(user, "nb", "```python\nscratch = 5\n```")
    added = new_id(reply.message)
    await service.chat(user, "nb", f"edit cell {before[0]}: ```python\nbase = 1000\n```")
    await wait_file(setup.path, lambda text: "base = 1000" in text)
    undone = await service.undo(user, "nb")
    assert undone.notebooks == ["nb"]
    await wait_file(setup.path, lambda text: "base = 40" in text and "base = 1000" not in text)
    after = await ids(setup)
    assert after[0] == before[0]
    assert added in after
    await service.undo(user, "nb")
    await wait_file(setup.path, lambda text: "scratch" not in text)
    assert await ids(setup) == before
    assert [c["code"] for c in await setup.client.cell_runtime_data([])] == codes
    # (marimo re-serialises the file on save, e.g. `return (total,)` becomes `return`.)
    outputs = await setup.client.cell_outputs([before[1]])
    assert "42" in str(outputs[0]["visual_output"])  # the kernel ran the restored code


async def test_undo_brings_back_an_approved_delete(setup: Setup) -> None:
    before = await ids(setup)
    reply = await setup.service.chat(setup.user, "nb", f"delete cell {before[1]}")
    assert reply.pending_approval is not None
    await setup.service.approve(setup.user, "nb", reply.pending_approval.id)
    await wait_file(setup.path, lambda text: "base + 2" not in text)
    await setup.service.undo(setup.user, "nb")
    await wait_file(setup.path, lambda text: "total = base + 2" in text)
    assert len(await ids(setup)) == 2


async def test_events_carry_the_turn_and_marimos_notifications(setup: Setup) -> None:
    seen: list[dict[str, object]] = []

    def ran(event: dict[str, object], cell: str) -> bool:
        data = event.get("data")
        return (
            event.get("op") == "cell-op" and isinstance(data, dict) and data.get("cell_id") == cell
        )

    async with setup.service.listen(setup.user, "nb") as events:
        # marimo greets a viewer as it connects: from then on its notifications are relayed.
        async with asyncio.timeout(20):
            while not isinstance(await events.get(), MarimoNotification):
                pass
        reply = await setup.service.chat(setup.user, "nb", "```python\nstreamed = 7\nstreamed\n```")
        cell = new_id(reply.message)
        async with asyncio.timeout(20):
            while not (
                any(e["type"] == "turn_done" for e in seen)
                and any(e["type"] == "marimo" and ran(e, cell) for e in seen)
            ):
                seen.append((await events.get()).model_dump(mode="json"))
    types = {e["type"] for e in seen}
    assert {"turn_started", "tool_call_started", "tool_call_finished", "text_delta"} <= types
    assert any(e["type"] == "marimo" and e["op"] == "notebook-document-transaction" for e in seen)


async def test_a_long_run_says_still_running_then_finishes(setup: Setup) -> None:
    service = setup.service
    service._run_wait = 1.0
    async with service.listen(setup.user, "nb") as events:
        reply = await service.chat(
            setup.user, "nb", "```python\nimport time\ntime.sleep(4)\nslept = 1\n```"
        )
        assert "still running" in reply.message
        async with asyncio.timeout(30):
            while not isinstance(event := await events.get(), RunFinished):
                pass
    assert event.ok is True
    await wait_file(setup.path, lambda text: "slept = 1" in text)


async def test_restart_kernel_after_approval(setup: Setup) -> None:
    reply = await setup.service.chat(setup.user, "nb", "restart kernel")
    assert reply.pending_approval is not None
    done = await setup.service.approve(setup.user, "nb", reply.pending_approval.id)
    assert "Restarted" in done.message
    reply = await setup.service.chat(setup.user, "nb", "list cells")
    assert reply.status == "done"


async def test_clear_outputs_is_honest(setup: Setup) -> None:
    reply = await setup.service.chat(setup.user, "nb", "clear outputs")
    assert reply.pending_approval is not None
    done = await setup.service.approve(setup.user, "nb", reply.pending_approval.id)
    assert "no way to clear an output" in done.message


async def test_help_and_a_plain_answer_need_no_tool(setup: Setup) -> None:
    reply = await setup.service.chat(setup.user, "nb", "help")
    assert "run all" in reply.message
    assert reply.tool_calls == []
    assert setup.service.info().commands
    _ = ModelChoice  # (the builtin is the default model)
