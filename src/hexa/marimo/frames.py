"""Predicates over raw marimo WebSocket frames, for the proxy's relay (no JSON parse on the
hot path: only frames that may match are parsed)."""

from __future__ import annotations

import json

# marimo's wire format is f'{{"op": "{op}", "data": ...}}' (ws_formatter.py).
_BANNER_PREFIX = '{"op": "banner"'


def is_resume_banner(frame: str) -> bool:
    """The "Reconnected to an existing session" banner marimo shows on every resume.

    In Hexa every first load of the editor resumes: Hexa opens the session, runs the cells
    and lets go, so the browser always finds a session waiting. The banner would greet every
    person on every open with a restart button for a kernel that is fine.
    """
    if not frame.startswith(_BANNER_PREFIX) or "Reconnected" not in frame:
        return False
    try:
        data = json.loads(frame).get("data") or {}
    except ValueError:
        return False
    return bool(data.get("title") == "Reconnected" and data.get("action") == "restart")
