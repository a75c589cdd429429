"""The registry as a pydantic-ai toolset: tiers become approvals, calls become audit rows.

pydantic-ai validates arguments against each tool's pydantic model (a malformed call goes
back to the model as a retry, and an unknown tool name likewise) and then calls
`call_tool`, which:

- lets the safety gate (`hexa.agent.gate`) decide a destructive call: ask first, or run
  it once after claiming its stored yes for exactly these arguments;
- takes the turn's undo snapshot around the first call that changes cells;
- turns every failure into text for the model, so the turn goes on;
- writes one audit entry per call (`TurnLedger.record`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic_ai import RunContext
from pydantic_ai.messages import BinaryContent, ToolReturn
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from hexa.agent import gate
from hexa.agent.registry import (
    Tier,
    ToolContext,
    ToolError,
    ToolOutcome,
    ToolRegistry,
    ToolSpec,
)
from hexa.errors import HexaError, from_marimo
from hexa.marimo.errors import MarimoError
from hexa.store import Decision

MAX_RETRIES = 3  # malformed calls of one tool the model may correct per run


@dataclass
class CallRecord:
    """One tool call that reached `call_tool`, as the audit log and the chat keep it."""

    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]
    notebook_id: str
    tier: Tier
    decision: Decision | None
    outcome: ToolOutcome
    duration_ms: float


@dataclass
class TurnState:
    """The agent run's deps: who, where, and what this turn has done so far."""

    tools: ToolContext
    turn_id: str
    prompt: str
    # tool_call_id -> approval id, for the approved calls this run may carry out
    approved: dict[str, str] = field(default_factory=dict)
    records: dict[str, CallRecord] = field(default_factory=dict)
    images: bool = False  # the model takes images: outcomes' images go with their text


class TurnLedger(Protocol):
    """Where a turn's side records go (the service, over the database)."""

    def calling(self, state: TurnState) -> None:
        """The run is about to wait on a tool call: a moment to write what is pending."""

    def snapshot(
        self, state: TurnState, notebook_id: str
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Entered around a call that changes cells (the turn's undo snapshot)."""
        ...

    async def consume(
        self, state: TurnState, approval_id: str, tool_name: str, bound_sha256: str
    ) -> bool: ...

    async def record(self, state: TurnState, record: CallRecord) -> None: ...


class RegistryToolset(AbstractToolset[TurnState]):
    def __init__(self, registry: ToolRegistry, ledger: TurnLedger) -> None:
        self._registry = registry
        self._ledger = ledger
        # Tool definitions are asked for before every model request; generating the
        # JSON schemas each time cost more than the rest of a builtin turn.
        self._tools: dict[str, ToolsetTool[TurnState]] = {}
        self._version = -1

    @property
    def id(self) -> str:
        return "hexa-tools"

    async def get_tools(self, ctx: RunContext[TurnState]) -> dict[str, ToolsetTool[TurnState]]:
        return dict(self.warm())

    def warm(self) -> dict[str, ToolsetTool[TurnState]]:
        """The tool definitions, made now if the registry changed since (callable from a
        thread: at start-up, so the first turn does not pay for the schemas)."""
        if self._version != self._registry.version:
            version = self._registry.version
            self._tools = {
                spec.name: ToolsetTool(
                    toolset=self,
                    tool_def=ToolDefinition(
                        name=spec.name,
                        description=spec.description,
                        parameters_json_schema=spec.json_schema(),
                    ),
                    max_retries=MAX_RETRIES,
                    args_validator=spec.args_model.__pydantic_validator__,
                )
                for spec in self._registry
            }
            self._version = version
        return self._tools

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[TurnState],
        tool: ToolsetTool[TurnState],
    ) -> Any:
        state = ctx.deps
        self._ledger.calling(state)
        spec = self._registry.get(name)
        if spec is None:  # listed by get_tools, so only if the registry changed meanwhile
            return f"Error: there is no tool {name!r}."
        args = spec.parse(tool_args)
        arguments = args.model_dump(mode="json")
        notebook_id = state.tools.target(args)
        call_id = ctx.tool_call_id or ""
        admitted = await gate.admit(
            spec,
            state.tools,
            args,
            approved=ctx.tool_call_approved,
            approval_id=state.approved.get(call_id),
            consume=lambda approval_id, tool, bound: self._ledger.consume(
                state, approval_id, tool, bound
            ),
        )
        if isinstance(admitted, ToolOutcome):  # refused: audited, and the model is told
            await self._finish(state, call_id, spec, arguments, notebook_id, None, admitted, 0.0)
            return admitted.content
        decision = admitted
        state.tools.left.pop(notebook_id, None)  # only this call's batches count
        started = time.perf_counter()
        # The ledger takes one undo snapshot per notebook and turn, around the first call
        # that changes it.
        around = (
            self._ledger.snapshot(state, notebook_id)
            if spec.changes_cells
            else contextlib.nullcontext()
        )
        async with around:
            outcome = await self._run(spec, state.tools, args)
        elapsed = (time.perf_counter() - started) * 1000
        await self._finish(state, call_id, spec, arguments, notebook_id, decision, outcome, elapsed)
        if outcome.images and state.images:
            return ToolReturn(
                return_value=outcome.content,
                content=[
                    "The images of the outputs above:",
                    *(BinaryContent(i.data, media_type=i.media_type) for i in outcome.images),
                ],
            )
        return outcome.content

    async def _finish(
        self,
        state: TurnState,
        call_id: str,
        spec: ToolSpec[Any],
        arguments: dict[str, Any],
        notebook_id: str,
        decision: Decision | None,
        outcome: ToolOutcome,
        elapsed: float,
    ) -> None:
        record = CallRecord(
            call_id, spec.name, arguments, notebook_id, spec.tier, decision, outcome, elapsed
        )
        state.records[call_id] = record
        await self._ledger.record(state, record)

    @staticmethod
    async def _run(spec: ToolSpec[Any], tools: ToolContext, args: Any) -> ToolOutcome:
        try:
            return await spec.run(tools, args)
        except ToolError as exc:
            return ToolOutcome(f"Error: {exc}", f"error: {exc}", ok=False)
        except (MarimoError, TimeoutError) as exc:
            error = from_marimo(exc, tools.target(args))
            hint = " get_notebook_map lists the cell ids." if error.status == 404 else ""
            return ToolOutcome(
                f"Error: {error.message}.{hint}", f"error: {error.message}", ok=False
            )
        except HexaError as exc:  # e.g. another notebook that is not the user's, or down
            return ToolOutcome(f"Error: {exc.message}", f"error: {exc.message}", ok=False)
