"""Cassettes: a run's model responses, recorded per task, replayed offline.

`hexa eval --model openai:... --record FILE` keeps every response the model gave, task by
task, in order; `hexa eval --replay FILE` plays them back as the model, so the same run is
judged again, deterministically and with no network, against real marimo (a notebook's
cell ids are given by position on load, so the recorded calls name the same cells).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelResponse,
    TextPart,
    ToolCallPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from hexa.agent.models import ModelChoice
from hexa.evals.observe import WatchedModel


class Cassette(BaseModel):
    model: str
    suite_version: str
    tasks: dict[str, list[Any]]  # task id -> its model responses (pydantic-ai's JSON)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.model_dump(), indent=1))

    @classmethod
    def load(cls, path: Path) -> Cassette:
        return cls.model_validate_json(path.read_text())


@dataclass
class Tape:
    """Where responses go (recording) or come from (replaying), for the current task."""

    task: str = ""
    recorded: dict[str, list[ModelResponse]] = field(default_factory=dict)
    cursor: dict[str, int] = field(default_factory=dict)

    def keep(self, response: ModelResponse) -> None:
        self.recorded.setdefault(self.task, []).append(response)

    def cassette(self, model: str, version: str) -> Cassette:
        return Cassette(
            model=model,
            suite_version=version,
            tasks={
                task: json.loads(ModelMessagesTypeAdapter.dump_json(list(responses)))
                for task, responses in self.recorded.items()
            },
        )

    @classmethod
    def of(cls, cassette: Cassette) -> Tape:
        recorded: dict[str, list[ModelResponse]] = {}
        for task, raw in cassette.tasks.items():
            messages = ModelMessagesTypeAdapter.validate_python(raw)
            recorded[task] = [m for m in messages if isinstance(m, ModelResponse)]
        return cls(recorded=recorded)


def recording(choice: ModelChoice, tape: Tape) -> ModelChoice:
    if choice.model is None:
        raise ValueError(f"{choice.spec} is made per turn and cannot be recorded")
    model = WatchedModel(choice.model, answered=tape.keep)
    return ModelChoice(spec=choice.spec, model=model, images=choice.images)


def replaying(tape: Tape, spec: str) -> ModelChoice:
    """A model that answers with the tape's responses for the current task, in order."""

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        responses = tape.recorded.get(tape.task, [])
        at = tape.cursor.get(tape.task, 0)
        tape.cursor[tape.task] = at + 1
        if at >= len(responses):
            yield "(the cassette has no more responses for this task)"
            return
        calls: DeltaToolCalls = {}
        for part in responses[at].parts:
            if isinstance(part, TextPart):
                yield part.content
            elif isinstance(part, ToolCallPart):
                calls[len(calls)] = DeltaToolCall(
                    name=part.tool_name,
                    json_args=part.args_as_json_str(),
                    tool_call_id=part.tool_call_id,
                )
        if calls:
            yield calls

    return ModelChoice(spec=f"replay:{spec}", model=FunctionModel(stream_function=stream))
