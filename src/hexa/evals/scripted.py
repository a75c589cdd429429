"""The scripted agent: plays each task's script, as a competent agent would, through the
same agent, tools, gate and approvals as any model (a pydantic-ai FunctionModel).

It proves the harness: run on the suite, a correct script must pass and a wrong one must
fail. Which call comes next is read from the conversation (the calls made since the
person's last message), so a turn resumed after an approval picks up where it stopped.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from hexa.agent.models import ModelChoice
from hexa.evals.tasks import Step

MODEL_NAME = "hexa-scripted"
_CELL = re.compile(r"^\{\{cell:(.+)\}\}$", re.S)

# (the text a cell's code contains, the notebook id or None) -> that cell's id
CellFinder = Callable[[str, str | None], Awaitable[str]]


@dataclass
class Script:
    """What the scripted agent plays now: set by the runner before each message."""

    step: Step | None = None
    find_cell: CellFinder | None = None
    calls: list[str] = field(default_factory=list)  # tool names it called, in order


def scripted_choice(script: Script) -> ModelChoice:
    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        step = script.step
        if step is None:
            yield "No script."
            return
        done = _calls_since_prompt(messages)
        if done < len(step.script):
            call = step.script[done]
            args = {k: await _resolve(v, call.args, script) for k, v in call.args.items()}
            script.calls.append(call.tool)
            yield {
                0: DeltaToolCall(
                    name=call.tool,
                    json_args=json.dumps(args),
                    tool_call_id=f"scripted-{uuid.uuid4().hex[:12]}",
                )
            }
            return
        yield step.reply

    model = FunctionModel(stream_function=stream, model_name=MODEL_NAME)
    return ModelChoice(spec="scripted", model=model)


def _calls_since_prompt(messages: list[ModelMessage]) -> int:
    last_prompt = max(
        (
            i
            for i, m in enumerate(messages)
            if isinstance(m, ModelRequest) and any(isinstance(p, UserPromptPart) for p in m.parts)
        ),
        default=-1,
    )
    return sum(
        1
        for m in messages[last_prompt + 1 :]
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, ToolCallPart)
    )


async def _resolve(value: Any, args: dict[str, Any], script: Script) -> Any:
    if isinstance(value, list):
        return [await _resolve(v, args, script) for v in value]
    if not isinstance(value, str) or (found := _CELL.match(value)) is None:
        return value
    assert script.find_cell is not None
    return await script.find_cell(found.group(1), args.get("notebook_id"))
