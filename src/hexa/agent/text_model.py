"""A configured model as the plain text model that notebook generation asks."""

from __future__ import annotations

from pydantic_ai import Agent
from pydantic_ai.models import Model

from hexa.agent.models import ModelChoice


class AgentTextModel:
    """`complete(system, prompt) -> text` over any pydantic-ai model (no tools)."""

    def __init__(self, model: Model) -> None:
        self._model = model

    async def complete(self, system: str, prompt: str) -> str:
        agent: Agent[None, str] = Agent(self._model, output_type=str, system_prompt=system)
        result = await agent.run(prompt)
        return result.output


def text_model_for(choice: ModelChoice) -> AgentTextModel | None:
    """None for the builtin model: generation then uses its offline stubs and templates."""
    if choice.builtin or choice.problem is not None or choice.model is None:
        return None
    return AgentTextModel(choice.model)
