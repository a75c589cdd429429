"""Two parts of an agent turn measured alone, in this process, as CPU time per turn.

- `framework_ms`: the turn's pydantic-ai run (Hexa's `TurnRunner`, the builtin model, the
  registry's real tool definitions) whose `add_cell` answers at once instead of reaching
  marimo: what the agent framework costs for the two model steps of an add-and-run turn.
- `store_ms`: the turn's two write transactions through Hexa's repositories on SQLite (the
  turn row and the person's message; then the audit entry, the turn's end and the chat's
  tool line and reply), as `hexa.agent.turns` writes them.

Neither talks to marimo or HTTP: together they are a floor under Hexa's own part of a turn
that no change to the rest of Hexa removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from hexa.agent.builtin import builtin_model
from hexa.agent.factory import default_registry
from hexa.agent.model_run import TurnRunner
from hexa.agent.redaction import Redactor
from hexa.agent.registry import ToolContext, ToolOutcome, ToolRegistry
from hexa.agent.toolset import CallRecord, TurnState
from hexa.store import ChatRole, TurnStatus, new_uuid
from hexa.store.database import create_engine, create_sessionmaker
from hexa.store.migration import upgrade_database
from hexa.store.repositories.audit import AuditRepository
from hexa.store.repositories.chat import ChatRepository
from hexa.store.repositories.notebooks import NotebookRepository
from hexa.store.repositories.turns import TurnRepository
from hexa.store.repositories.users import UserRepository
from hexa.users import Principal


class _NoLedger:
    """A turn's side records, dropped (the store is measured on its own)."""

    def calling(self, state: TurnState) -> None:
        pass

    def snapshot(
        self, state: TurnState, notebook_id: str
    ) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def consume(
        self, state: TurnState, approval_id: str, tool_name: str, bound_sha256: str
    ) -> bool:
        return False

    async def record(self, state: TurnState, record: CallRecord) -> None:
        pass


def _instant_registry() -> ToolRegistry:
    """The shipped tools, with `add_cell` answering at once."""

    async def added(ctx: ToolContext, args: Any) -> ToolOutcome:
        return ToolOutcome("Added cell c1 and ran it. Output:\n42", "added c1")

    registry = ToolRegistry()
    for spec in default_registry():
        registry.register(dataclasses.replace(spec, run=added) if spec.name == "add_cell" else spec)
    return registry


async def _per_turn(turn: Callable[[int], Awaitable[None]], n: int) -> float:
    for i in range(min(20, n)):  # first calls pay imports and caches
        await turn(-1 - i)
    start = time.process_time()
    for i in range(n):
        await turn(i)
    return (time.process_time() - start) / n * 1000


async def framework_ms(n: int) -> float:
    runner = TurnRunner(_instant_registry(), _NoLedger(), redactor=Redactor(()), model_timeout=60)
    runner.warm()
    user = Principal(1, "default")

    async def turn(i: int) -> None:
        # Tools here never reach a notebook: the context's services are not needed.
        tools = ToolContext(user, "nb", cast(Any, None), 5.0, 100_000, cast(Any, None))
        prompt = f"```python\nx_{i} = 2\nx_{i}\n```"
        outcome = await runner.run(
            TurnState(tools, new_uuid(), prompt),
            model=builtin_model(),
            publish=lambda event: None,
            prompt=prompt,
        )
        if outcome.error is not None or "42" not in (outcome.text or ""):
            raise SystemExit(f"the turn did not add and run the cell: {outcome}")

    return await _per_turn(turn, n)


async def store_ms(n: int) -> float:
    with tempfile.TemporaryDirectory(prefix="hexa-turnparts-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'hexa.db'}"
        await upgrade_database(url, backup=False)
        engine = create_engine(url)
        sessions = create_sessionmaker(engine)
        try:
            async with sessions.begin() as session:
                user = (await UserRepository(session).create("bench")).user
                await NotebookRepository(session).create(user.id, "nb", "nb.py", "nb")

            async def turn(i: int) -> None:
                turn_id = new_uuid()
                async with sessions.begin() as session:  # while the tool call waits
                    await TurnRepository(session).create("nb", user.id, "x", turn_id=turn_id)
                    await ChatRepository(session).add("nb", ChatRole.USER, "x", turn_id=turn_id)
                async with sessions.begin() as session:  # the turn's end
                    await AuditRepository(session).append(
                        user_id=user.id,
                        notebook_id="nb",
                        tool_name="add_cell",
                        args={"code": "x = 2"},
                        outcome="added c1",
                        turn_id=turn_id,
                    )
                    await TurnRepository(session).end(
                        turn_id,
                        TurnStatus.DONE,
                        "42",
                        cells_before_json="[]",
                        cells_after_json=json.dumps([["c1", "x = 2"]]),
                        messages_json="[]",
                    )
                    lines = [(ChatRole.TOOL, "added c1", "{}"), (ChatRole.ASSISTANT, "42", None)]
                    await ChatRepository(session).add_many("nb", lines, turn_id=turn_id)

            return await _per_turn(turn, n)
        finally:
            await engine.dispose()


def measure(n: int) -> dict[str, float]:
    """CPU ms per turn of each part (a fresh event loop each, as a server has its own)."""
    return {
        "framework": asyncio.run(framework_ms(n)),
        "store": asyncio.run(store_ms(n)),
    }
