"""Secrets and the digests stored in their place, and the canonical JSON digests are taken of."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any


def hash_token(token: str) -> str:
    """The stored form of an API token: sha256 hex.

    A fast hash is enough because tokens are long and random (not guessable passwords),
    and it keeps the lookup a single indexed equality.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same arguments always give the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def args_sha256(args: Mapping[str, Any]) -> str:
    """The digest that binds an approval to one tool call's exact arguments."""
    return hashlib.sha256(canonical_json(args).encode()).hexdigest()
