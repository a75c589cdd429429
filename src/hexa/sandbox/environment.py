"""The environment a sandboxed process starts with: chosen, never inherited wholesale.

Hexa's own environment holds its token, model keys and database URL. A sandboxed tree
gets the locale, the path, the network settings `pip install` needs, and its own HOME.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_PASSED = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "VIRTUAL_ENV", "PYTHONPATH"})
# Network and package-index settings people need for `pip install` behind a proxy.
_PASSED_PREFIXES = ("LC_", "PIP_INDEX", "PIP_EXTRA_INDEX", "PIP_TRUSTED", "UV_INDEX")
_PASSED_NETWORK = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "UV_NATIVE_TLS",
    }
)
_SECRET_MARKS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "CREDENTIAL")


def sandbox_environment(
    home: Path,
    *,
    user: str,
    packages: Path | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """HOME and XDG dirs in the user's own home (marimo writes config and caches there).

    `packages`: where `pip install` (and marimo's package manager, pip or uv) puts what a
    person installs, first on the import path; Hexa's own virtualenv is read-only to them.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if (key in _PASSED or key in _PASSED_NETWORK or key.startswith(_PASSED_PREFIXES))
        and not key.startswith("HEXA_")
        and not any(mark in key.upper() for mark in _SECRET_MARKS)
    }
    env.update(
        HOME=str(home),
        USER=user,
        LOGNAME=user,
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHONUNBUFFERED="1",
    )
    if packages is not None:
        path = [str(packages), *filter(None, [env.get("PYTHONPATH")])]
        env.update(
            PIP_TARGET=str(packages),
            MARIMO_UV_TARGET=str(packages),
            PYTHONPATH=os.pathsep.join(path),
        )
    env.update(extra or {})
    return env
