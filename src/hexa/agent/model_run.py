"""One agent run, streamed: pydantic-ai's events become the notebook's events.

A run ends in one of three ways: a text answer, `DeferredToolRequests` (destructive calls
waiting for approval), or an error. Errors of the model provider (HTTP errors, timeouts,
refused connections, a model that keeps calling tools wrongly) become a clear sentence
for the person; they never escape as an exception.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent, AgentRunResultEvent, DeferredToolRequests, DeferredToolResults
from pydantic_ai.exceptions import (
    AgentRunError,
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRequestTimeout,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
    UserError,
)
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolReturnPart,
)
from pydantic_ai.models import Model
from pydantic_ai.usage import UsageLimits

from hexa.agent.events import TextDelta, ToolCallFinished, ToolCallStarted
from hexa.agent.outputs import clip
from hexa.agent.redaction import Redactor
from hexa.agent.registry import ToolOutcome, ToolRegistry
from hexa.agent.toolset import CallRecord, RegistryToolset, TurnLedger, TurnState
from hexa.agent.views import CallStatus, ToolCall
from hexa.live import LiveEvent

logger = logging.getLogger(__name__)

REQUEST_LIMIT = 30  # model requests in one run: a runaway tool loop ends here
RUN_TIMEOUT = 1800.0  # backstop for a whole run (each request and run has its own bound)


@dataclass
class CallView:
    """A tool call as the chat shows it."""

    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]
    status: CallStatus = "running"
    summary: str = ""

    def view(self) -> ToolCall:
        return ToolCall(
            tool_call_id=self.tool_call_id,
            tool_name=self.tool_name,
            arguments=self.arguments,
            status=self.status,
            summary=self.summary,
        )


@dataclass
class RunOutcome:
    text: str | None = None
    deferred: DeferredToolRequests | None = None
    messages: list[ModelMessage] = field(default_factory=list)
    calls: list[CallView] = field(default_factory=list)
    error: str | None = None


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {"_raw": clip(raw, 2000)}
        return parsed if isinstance(parsed, dict) else {"_raw": parsed}
    return {}


def describe_failure(exc: BaseException, model_timeout: float) -> str:
    """What went wrong with the model, for the person (secrets are scrubbed later)."""
    if isinstance(exc, ModelHTTPError):
        body = exc.body if isinstance(exc.body, str) else str(exc.body or "")
        detail = clip(body or exc.message or "", 300)
        return (
            f"The model provider answered with an error (HTTP {exc.status_code}) from "
            f"{exc.model_name}: {detail}"
        )
    if isinstance(exc, ModelRequestTimeout | TimeoutError):
        return f"The model did not answer within {model_timeout:g} seconds. Try again."
    if isinstance(exc, ModelConnectionError):
        return f"Hexa could not reach the model provider: {clip(str(exc), 300)}"
    if isinstance(exc, ModelAPIError):
        return f"The model provider failed: {clip(str(exc), 300)}"
    if isinstance(exc, UsageLimitExceeded):
        return f"The turn was stopped after {REQUEST_LIMIT} model requests: {exc}"
    if isinstance(exc, UnexpectedModelBehavior):
        return f"The model did not follow the protocol: {clip(str(exc), 300)}"
    if isinstance(exc, UserError | AgentRunError):
        return f"The agent could not run: {clip(str(exc), 300)}"
    return "The agent failed unexpectedly; see the server log."


class TurnRunner:
    """Runs the agent for one turn and streams what happens to `publish`."""

    def __init__(
        self,
        registry: ToolRegistry,
        ledger: TurnLedger,
        *,
        redactor: Redactor,
        model_timeout: float,
    ) -> None:
        self._registry = registry
        self._ledger = ledger
        self._redactor = redactor
        self._model_timeout = model_timeout
        self._toolset = RegistryToolset(registry, ledger)
        self._agent: Agent[TurnState, str | DeferredToolRequests] = Agent(
            None,
            output_type=[str, DeferredToolRequests],
            deps_type=TurnState,
            toolsets=[self._toolset],
            retries=3,
        )

    def warm(self) -> None:
        """Make the tool definitions now (see RegistryToolset.warm)."""
        self._toolset.warm()

    async def run(
        self,
        state: TurnState,
        *,
        model: Model,
        publish: Callable[[LiveEvent], None],
        prompt: str | None = None,
        history: Sequence[ModelMessage] | None = None,
        deferred: DeferredToolResults | None = None,
        instructions: str | None = None,
    ) -> RunOutcome:
        outcome = RunOutcome()
        views: dict[str, CallView] = {}
        turn_id = state.turn_id
        try:
            async with self._agent.run_stream_events(
                prompt,
                message_history=history,
                deferred_tool_results=deferred,
                deps=state,
                model=model,
                instructions=instructions,
                usage_limits=UsageLimits(request_limit=REQUEST_LIMIT),
                timeout=RUN_TIMEOUT,
            ) as events:
                async for event in events:
                    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                        if event.part.content:
                            publish(TextDelta(turn_id=turn_id, delta=event.part.content))
                    elif isinstance(event, PartDeltaEvent) and isinstance(
                        event.delta, TextPartDelta
                    ):
                        if event.delta.content_delta:
                            publish(TextDelta(turn_id=turn_id, delta=event.delta.content_delta))
                    elif isinstance(event, FunctionToolCallEvent):
                        part = event.part
                        view = CallView(
                            part.tool_call_id,
                            part.tool_name,
                            self._redactor.json(_arguments(part.args)),
                        )
                        views[part.tool_call_id] = view
                        outcome.calls.append(view)
                        publish(
                            ToolCallStarted(
                                turn_id=turn_id,
                                tool_call_id=view.tool_call_id,
                                tool_name=view.tool_name,
                                arguments=view.arguments,
                            )
                        )
                    elif isinstance(event, FunctionToolResultEvent):
                        await self._finished(state, event, views, publish)
                    elif isinstance(event, AgentRunResultEvent):
                        result = event.result
                        outcome.messages = list(result.all_messages())
                        if isinstance(result.output, DeferredToolRequests):
                            outcome.deferred = result.output
                            waiting = {c.tool_call_id for c in result.output.approvals}
                            for view in outcome.calls:
                                if view.tool_call_id in waiting:
                                    view.status = "pending_approval"
                                    view.summary = "waiting for approval"
                        else:
                            outcome.text = str(result.output)
        except Exception as exc:
            if not isinstance(exc, AgentRunError | TimeoutError | UserError):
                logger.exception("agent run of turn %s failed", turn_id)
            outcome.error = self._redactor.text(describe_failure(exc, self._model_timeout))
            for view in outcome.calls:
                if view.status == "running":
                    view.status = "error"
                    view.summary = "interrupted"
        return outcome

    async def _finished(
        self,
        state: TurnState,
        event: FunctionToolResultEvent,
        views: dict[str, CallView],
        publish: Callable[[LiveEvent], None],
    ) -> None:
        part = event.part
        call_id = part.tool_call_id
        view = views.get(call_id)
        if view is None:  # a result of a call made in an earlier run (approved or denied)
            view = CallView(call_id, part.tool_name, {})
            views[call_id] = view
        record = state.records.get(call_id)
        outcome_kind = getattr(part, "outcome", "success")
        if record is not None:
            view.status = "ok" if record.outcome.ok else "error"
            view.summary = record.outcome.summary
            if not view.arguments:
                view.arguments = record.arguments
            duration: float | None = record.duration_ms
        elif isinstance(part, ToolReturnPart) and outcome_kind == "denied":
            view.status = "denied"
            view.summary = clip(str(part.content), 200)
            duration = None
        else:
            # Never reached a tool: an unknown name or arguments that failed validation.
            content = part.content if isinstance(part, ToolReturnPart) else part.model_response()
            text = clip(content if isinstance(content, str) else str(content), 500)
            view.status = "invalid"
            view.summary = f"invalid call: {clip(text, 200)}"
            duration = None
            record = CallRecord(
                call_id,
                part.tool_name,
                view.arguments,
                state.tools.notebook_id,
                self._registry.tier_of(part.tool_name),
                None,
                ToolOutcome(text, view.summary, ok=False),
                0.0,
            )
            state.records[call_id] = record
            await self._ledger.record(state, record)
        publish(
            ToolCallFinished(
                turn_id=state.turn_id,
                tool_call_id=call_id,
                tool_name=view.tool_name,
                ok=view.status == "ok",
                status=view.status,
                summary=view.summary,
                duration_ms=duration,
            )
        )
