"""Model choice from HEXA_MODEL, keys, and redaction (no network: models are only built)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from hexa.agent.models import choose_model, key_values
from hexa.agent.redaction import Redactor
from hexa.config import Settings


def settings(
    tmp_path: Path,
    *,
    model: str = "builtin",
    token: SecretStr | None = None,
    openai_api_key: SecretStr | None = None,
    openai_base_url: str | None = None,
    anthropic_api_key: SecretStr | None = None,
) -> Settings:
    """Settings with only what the test names (keys unset, whatever the environment has)."""
    return Settings(
        data_dir=tmp_path,
        model=model,
        token=token,
        openai_api_key=openai_api_key,
        openai_base_url=openai_base_url,
        anthropic_api_key=anthropic_api_key,
    )


def test_builtin_is_the_default(tmp_path: Path) -> None:
    choice = choose_model(settings(tmp_path), env={})
    assert choice.builtin
    assert choice.problem is None
    commands = choice.describe()["commands"]
    assert isinstance(commands, list)
    assert commands[0]["command"].startswith("add a cell")


def test_openai_with_a_key_from_the_environment(tmp_path: Path) -> None:
    choice = choose_model(
        settings(tmp_path, model="openai:gpt-4.1"), env={"OPENAI_API_KEY": "sk-envkey1234567890"}
    )
    assert choice.problem is None
    assert choice.model is not None
    assert choice.model.model_name == "gpt-4.1"
    assert "sk-env" not in str(choice.describe())


def test_anthropic_with_a_key_from_settings(tmp_path: Path) -> None:
    choice = choose_model(
        settings(
            tmp_path, model="anthropic:claude-x", anthropic_api_key=SecretStr("sk-ant-1234567890ab")
        ),
        env={},
    )
    assert choice.problem is None
    assert choice.model is not None
    assert choice.model.system == "anthropic"


def test_openai_compatible_needs_a_base_url_but_no_key(tmp_path: Path) -> None:
    missing = choose_model(settings(tmp_path, model="openai-compatible:llama3"), env={})
    assert missing.problem is not None
    assert "HEXA_OPENAI_BASE_URL" in missing.problem
    ok = choose_model(
        settings(
            tmp_path, model="openai-compatible:llama3", openai_base_url="http://127.0.0.1:11434/v1"
        ),
        env={},
    )
    assert ok.problem is None
    assert ok.model is not None
    assert "127.0.0.1:11434" in str(ok.model.base_url)


@pytest.mark.parametrize(
    ("spec", "needs"),
    [
        ("openai:gpt-4.1", "OPENAI_API_KEY"),
        ("anthropic:claude", "ANTHROPIC_API_KEY"),
        ("gemini:x", "not a model"),
    ],
)
def test_problems_are_explained_not_raised(tmp_path: Path, spec: str, needs: str) -> None:
    choice = choose_model(settings(tmp_path, model=spec), env={})
    assert choice.problem is not None
    assert needs in choice.problem
    assert choice.describe()["problem"] == choice.problem


def test_keys_are_known_for_redaction(tmp_path: Path) -> None:
    keys = key_values(
        settings(
            tmp_path, openai_api_key=SecretStr("sk-settingskey123"), token=SecretStr("tok-abcdef")
        ),
        env={"ANTHROPIC_API_KEY": "ant-envkey-999"},
    )
    assert set(keys) == {"sk-settingskey123", "ant-envkey-999", "tok-abcdef"}


def test_redaction() -> None:
    scrub = Redactor(["my-secret-token", None, "abc"])
    assert scrub.text("token my-secret-token here") == "token [redacted] here"
    assert scrub.text("Incorrect API key provided: sk-proj-ABCDEFGHIJKLMNOP") == (
        "Incorrect API key provided: [redacted]"
    )
    assert scrub.text("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer [redacted]"
    assert scrub.text("abc is too short to be a secret") == "abc is too short to be a secret"
    assert scrub.json({"a": ["my-secret-token", 1], "b": None}) == {
        "a": ["[redacted]", 1],
        "b": None,
    }
