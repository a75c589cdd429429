"""The registry as a pydantic-ai toolset: tiers become approvals, calls become audit rows.

pydantic-ai validates arguments against each tool's pydantic model (a malformed call goes
back to the model as a retry, and an unknown tool name likewise) and then calls
`call_tool`, which:

- pauses a destructive call the person has not approved (`ApprovalRequired`: the run ends
  with `DeferredToolRequests` and the service stores the question);
- carries out an approved one only after claiming its stored approval, once, for these
  exact arguments (`TurnLedger.consume`): nothing destructive runs without a stored yes;
- takes the turn's undo snapshot before the first call that changes cells;
- turns every failure into text for the model, so the turn goes on;
- writes one audit entry per call (`TurnLedger.record`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic_ai import ApprovalRequired, RunContext
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from hexa.agent.registry import (
    ApprovalPreview,
    Tier,
    ToolContext,
    ToolError,
    ToolOutcome,
    ToolRegistry,
    ToolSpec,
)
from hexa.errors import HexaError, from_marimo
from hexa.marimo.errors import MarimoError
from hexa.store import Decision, args_sha256

MAX_RETRIES = 3  # malformed calls of one tool the model may correct per run
PREVIEW_TIMEOUT = 10.0


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


class TurnLedger(Protocol):
    """Where a turn's side records go (the service, over the database)."""

    async def snapshot(self, state: TurnState, notebook_id: str) -> None: ...

    async def consume(
        self, state: TurnState, approval_id: str, tool_name: str, bound_sha256: str
    ) -> bool: ...

    async def record(self, state: TurnState, record: CallRecord) -> None: ...


def canonical_arguments(spec: ToolSpec[Any], raw: Any) -> dict[str, Any]:
    """The validated arguments as JSON (what the call runs with)."""
    dumped: dict[str, Any] = spec.parse(raw).model_dump(mode="json")
    return dumped


def binding_sha256(tool_name: str, arguments: dict[str, Any], shown: str | None) -> str:
    """What an approval binds, hashed the same way when it is asked for and when the call
    runs: the tool, its validated arguments as they are (never a redacted copy), and the
    code of the cells the person was shown. marimo hands out cell ids by position, so after
    a reorder and a restart an id can name another cell; its code then differs, and the
    call is refused as stale instead of acting on a cell nobody approved."""
    return args_sha256({"tool": tool_name, "arguments": arguments, "shown": shown or ""})


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
        if self._version != self._registry.version:
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
            self._version = self._registry.version
        return dict(self._tools)

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[TurnState],
        tool: ToolsetTool[TurnState],
    ) -> Any:
        state = ctx.deps
        spec = self._registry.get(name)
        if spec is None:  # listed by get_tools, so only if the registry changed meanwhile
            return f"Error: there is no tool {name!r}."
        args = spec.parse(tool_args)
        arguments = args.model_dump(mode="json")
        notebook_id = state.tools.target(args)
        call_id = ctx.tool_call_id or ""
        decision: Decision | None = Decision.AUTO
        if spec.tier is Tier.DESTRUCTIVE:
            preview = await self._preview(spec, state.tools, args)
            bound = binding_sha256(name, arguments, preview.code_before)
            if not ctx.tool_call_approved:
                raise ApprovalRequired(
                    metadata={
                        "notebook_id": notebook_id,
                        "description": preview.description,
                        "code_before": preview.code_before,
                        "code_after": preview.code_after,
                        "binding_sha256": bound,
                    }
                )
            approval_id = state.approved.get(call_id)
            if approval_id is None or not await self._ledger.consume(
                state, approval_id, name, bound
            ):
                refused = ToolOutcome(
                    "Not run: there is no valid approval for exactly this call on exactly "
                    "these cells (they may have changed since the approval was shown). "
                    "Read the notebook again and ask again if it is still wanted.",
                    "not run: no valid approval for these cells as they are now",
                    ok=False,
                )
                await self._finish(state, call_id, spec, arguments, notebook_id, None, refused, 0.0)
                return refused.content
            decision = Decision.APPROVED
        if spec.changes_cells:  # the ledger takes one snapshot per notebook and turn
            await self._ledger.snapshot(state, notebook_id)
        started = time.perf_counter()
        outcome = await self._run(spec, state.tools, args)
        elapsed = (time.perf_counter() - started) * 1000
        await self._finish(state, call_id, spec, arguments, notebook_id, decision, outcome, elapsed)
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

    @staticmethod
    async def _preview(spec: ToolSpec[Any], tools: ToolContext, args: Any) -> ApprovalPreview:
        generic = ApprovalPreview(f"Run {spec.name} on notebook {tools.target(args)}")
        if spec.preview is None:
            return generic
        try:
            async with asyncio.timeout(PREVIEW_TIMEOUT):
                return await spec.preview(tools, args)
        except (MarimoError, HexaError, TimeoutError) as exc:
            message = getattr(exc, "message", None) or type(exc).__name__
            return ApprovalPreview(f"{generic.description} ({message})")
