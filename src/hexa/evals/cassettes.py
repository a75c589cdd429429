"""Cassettes: a run's model responses, recorded per task, replayed offline.

`hexa eval --model openai:... --record FILE` keeps every response the model gave, task by
task, in order; `hexa eval --replay FILE` plays them back as the model, so the same run is
judged again, deterministically and with no network, against real marimo (a notebook's
cell ids are given by position on load, so the recorded calls name the same cells).
"""

from __future__ import annotations

import contextlib
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
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext

from hexa.agent.models import ModelChoice


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


class RecordingModel(WrapperModel):
    """The model itself, each of its responses also kept on the tape."""

    def __init__(self, wrapped: Any, tape: Tape) -> None:
        super().__init__(wrapped)
        self._tape = tape

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        response = await super().request(messages, model_settings, model_request_parameters)
        self._tape.recorded.setdefault(self._tape.task, []).append(response)
        return response

    @contextlib.asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        async with super().request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream
        self._tape.recorded.setdefault(self._tape.task, []).append(stream.get())


def recording(choice: ModelChoice, tape: Tape) -> ModelChoice:
    if choice.model is None:
        raise ValueError(f"{choice.spec} is made per turn and cannot be recorded")
    return ModelChoice(spec=choice.spec, model=RecordingModel(choice.model, tape))


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
