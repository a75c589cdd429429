"""Scripted FunctionModels for the agent tests (stand-ins for a real LLM)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from hexa.agent.models import ModelChoice

Step = str | tuple[str, str] | list[tuple[str, str]]
# What the model was given, request by request: the messages so far and the run's info.
Seen = list[tuple[list[ModelMessage], AgentInfo]]


def scripted(*steps: Step, seen: Seen | None = None) -> ModelChoice:
    """A FunctionModel that plays `steps`: text, a (tool, json args) call, or several."""
    queue = list(steps)

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        if seen is not None:
            seen.append((messages, info))
        step = queue.pop(0) if queue else "done"
        if isinstance(step, str):
            for word in step.split(" "):
                yield word + " "
            return
        calls = step if isinstance(step, list) else [step]
        yield {
            i: DeltaToolCall(name=name, json_args=args, tool_call_id=f"call-{len(queue)}-{i}")
            for i, (name, args) in enumerate(calls)
        }

    return ModelChoice("test:scripted", FunctionModel(stream_function=stream))
