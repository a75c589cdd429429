"""Keeping secrets out of what the agent stores, logs, streams and returns.

Known secrets (the model keys Hexa holds) are replaced wherever they appear, and so is
anything shaped like an API key or a bearer token, e.g. in a provider's error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"),  # OpenAI and Anthropic key shapes
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
)
MASK = "[redacted]"


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        for pattern in _PATTERNS:
            value = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, value)
        return value

    def json(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value
