"""What the agent saw and spent: every tool result the model was handed, and the tokens
its responses cost, per task (the checks `saw` and `not_saw`, the report's `tokens`).

A wrapper around whichever model runs (real, builtin, scripted or a replayed tape), so the
same task judges what each was shown. Tokens are what the provider reported; for the
offline models they are pydantic-ai's estimate.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolReturnPart
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from hexa.agent.builtin import builtin_model
from hexa.agent.models import ModelChoice


@dataclass
class Observer:
    seen: list[str] = field(default_factory=list)  # tool results, as the model got them
    tokens: int = 0

    def reset(self) -> None:
        self.seen, self.tokens = [], 0

    def shown(self, messages: list[ModelMessage]) -> None:
        last = messages[-1] if messages else None
        if isinstance(last, ModelRequest):
            self.seen += [str(p.content) for p in last.parts if isinstance(p, ToolReturnPart)]

    def spent(self, response: ModelResponse) -> None:
        self.tokens += response.usage.input_tokens + response.usage.output_tokens


class WatchedModel(WrapperModel):
    """The model itself; `shown` sees the messages of each request, `answered` each
    response (the observer's and the cassette recorder's hook)."""

    def __init__(
        self,
        wrapped: Any,
        answered: Callable[[ModelResponse], None],
        shown: Callable[[list[ModelMessage]], None] | None = None,
    ) -> None:
        super().__init__(wrapped)
        self._answered, self._shown = answered, shown

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        if self._shown is not None:
            self._shown(messages)
        response = await super().request(messages, model_settings, model_request_parameters)
        self._answered(response)
        return response

    @contextlib.asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        if self._shown is not None:
            self._shown(messages)
        async with super().request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream
        self._answered(stream.get())


def observing(choice: ModelChoice, observer: Observer) -> ModelChoice:
    """`choice` watched by `observer`. The builtin is made per turn for the person's
    selection; the suite selects nothing, so one made now serves every turn."""
    if choice.problem is not None:
        return choice
    model = choice.model if choice.model is not None else builtin_model()
    watched = WatchedModel(model, answered=observer.spent, shown=observer.shown)
    return ModelChoice(choice.spec, watched, images=choice.images)
