"""Which model the agent talks to, from `HEXA_MODEL`.

`builtin` (the default) is offline. `openai:<model>`, `anthropic:<model>` and
`openai-compatible:<model>` (with `HEXA_OPENAI_BASE_URL`: Ollama, vLLM, ...) use the
provider SDKs, imported only then. Keys come from settings or the usual environment
variables and go nowhere else: a configuration problem is told to the person in the chat,
not raised at start-up, so Hexa still serves notebooks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, DeltaToolCalls, FunctionModel
from pydantic_ai.settings import ModelSettings

from hexa.agent.builtin import COMMANDS, builtin_model
from hexa.config import Settings

logger = logging.getLogger(__name__)

PROVIDERS = ("openai", "anthropic", "openai-compatible")


@dataclass(frozen=True)
class ModelChoice:
    spec: str  # as configured: "builtin", "openai:gpt-4.1", ...
    model: Model | None  # None for builtin, which is made per turn (it sees the selection)
    problem: str | None = None  # why the configured model cannot be used
    images: bool = False  # whether the model is handed cell images besides their text

    @property
    def builtin(self) -> bool:
        return self.spec == "builtin"

    def for_turn(self, selected: Sequence[str] = ()) -> Model:
        if self.problem is not None:
            return explainer(self.problem)
        if self.model is None:
            return builtin_model(selected)
        return self.model

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {"model": self.spec, "builtin": self.builtin}
        if self.problem:
            info["problem"] = self.problem
        if self.builtin:
            info["commands"] = [{"command": c, "does": d} for c, d in COMMANDS]
        return info


def explainer(text: str) -> FunctionModel:
    """A model that only ever says `text` (a misconfigured model's chat answer)."""

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        yield text

    return FunctionModel(stream_function=stream, model_name="hexa-unconfigured")


def model_settings(settings: Settings) -> ModelSettings:
    # No SDK retries: a request ends within model_timeout, and the person can resend.
    return ModelSettings(timeout=settings.model_timeout, max_retries=0)


def _key(configured: object, env: Mapping[str, str], name: str) -> str | None:
    secret = getattr(configured, "get_secret_value", None)
    if callable(secret):
        value = secret()
        if isinstance(value, str) and value:
            return value
    return env.get(name) or None


def key_values(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret the agent layer knows of, for redaction."""
    env = os.environ if env is None else env
    found = [
        _key(settings.openai_api_key, env, "OPENAI_API_KEY"),
        _key(settings.anthropic_api_key, env, "ANTHROPIC_API_KEY"),
        settings.token.get_secret_value() if settings.token is not None else None,
    ]
    return [k for k in found if k]


def choose_model(settings: Settings, env: Mapping[str, str] | None = None) -> ModelChoice:
    env = os.environ if env is None else env
    spec = settings.model.strip()
    if spec in ("", "builtin"):
        return ModelChoice("builtin", None)
    provider, _, name = spec.partition(":")
    if provider not in PROVIDERS or not name:
        return ModelChoice(
            spec,
            None,
            f"HEXA_MODEL={spec!r} is not a model Hexa knows. Use `builtin`, "
            "`openai:<model>`, `anthropic:<model>` or `openai-compatible:<model>`.",
        )
    try:
        model = _provider_model(provider, name, settings, env)
    except _MissingSetting as exc:
        return ModelChoice(spec, None, str(exc))
    except Exception as exc:  # an SDK refusing its configuration: tell, don't crash
        logger.warning("model %s cannot be used: %s", spec, type(exc).__name__)
        return ModelChoice(spec, None, f"The model {spec} cannot be set up: {type(exc).__name__}.")
    images = settings.model_images
    if images is None:
        images = provider in ("openai", "anthropic")
    return ModelChoice(spec, model, images=images)


class _MissingSetting(Exception):
    pass


def _provider_model(provider: str, name: str, settings: Settings, env: Mapping[str, str]) -> Model:
    if provider == "anthropic":
        key = _key(settings.anthropic_api_key, env, "ANTHROPIC_API_KEY")
        if key is None:
            raise _MissingSetting(
                f"The model anthropic:{name} needs a key: set HEXA_ANTHROPIC_API_KEY or "
                "ANTHROPIC_API_KEY and restart `hexa serve`."
            )
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        return AnthropicModel(
            name, provider=AnthropicProvider(api_key=key), settings=model_settings(settings)
        )

    key = _key(settings.openai_api_key, env, "OPENAI_API_KEY")
    if provider == "openai-compatible":
        if not settings.openai_base_url:
            raise _MissingSetting(
                f"The model openai-compatible:{name} needs HEXA_OPENAI_BASE_URL (e.g. "
                "http://127.0.0.1:11434/v1 for Ollama); set it and restart `hexa serve`."
            )
        # Local servers (Ollama, vLLM) usually take any key, but the SDK wants one.
        key = key or "unused"
    elif key is None:
        raise _MissingSetting(
            f"The model openai:{name} needs a key: set HEXA_OPENAI_API_KEY or "
            "OPENAI_API_KEY and restart `hexa serve`."
        )
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    base_url = settings.openai_base_url if provider == "openai-compatible" else None
    return OpenAIChatModel(
        name,
        provider=OpenAIProvider(base_url=base_url, api_key=key),
        settings=model_settings(settings),
    )
