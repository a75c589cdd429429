"""Generation's text-model seam over a pydantic-ai model (FunctionModel fakes the LLM)."""

from __future__ import annotations

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from hexa.agent.models import ModelChoice
from hexa.agent.text_model import AgentTextModel, text_model_for


async def test_complete_sends_system_and_prompt_and_returns_the_text() -> None:
    seen: list[str] = []

    def llm(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        for part in messages[0].parts:
            if isinstance(part, SystemPromptPart):
                seen.append(part.content)
        prompt = messages[-1].parts[-1]
        assert isinstance(prompt, UserPromptPart)
        seen.append(str(prompt.content))
        return ModelResponse(parts=[TextPart("x = 1")])

    text = await AgentTextModel(FunctionModel(llm)).complete("write code", "a cell")
    assert text == "x = 1"
    assert seen == ["write code", "a cell"]


def test_builtin_and_broken_models_give_no_text_model() -> None:
    assert text_model_for(ModelChoice(spec="builtin", model=None)) is None
    broken = ModelChoice(spec="openai:gpt-x", model=None, problem="no key")
    assert text_model_for(broken) is None
    real = ModelChoice(spec="test", model=FunctionModel(lambda m, i: ModelResponse(parts=[])))
    assert isinstance(text_model_for(real), AgentTextModel)
