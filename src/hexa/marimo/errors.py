"""Typed failures of a marimo server, mapped from its many error shapes.

marimo reports errors as `{"detail": ...}` (most endpoints), `{"error": ...}` (auth and
skew middleware), HTTP 200 with `success: false` (invoke_tool, code mode), an HTTP 500
for a bad `Marimo-Session-Id`, and WebSocket close reasons. Callers see one hierarchy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hexa.marimo.models import PutOutcome

__all__ = [
    "CellConflictError",
    "CellNotFoundError",
    "CodeModeError",
    "EditModeRequiredError",
    "MarimoAuthError",
    "MarimoError",
    "MarimoNotRunningError",
    "MarimoSessionError",
    "MarimoTimeoutError",
    "error_from_response",
    "error_from_tool",
]


class MarimoError(Exception):
    """Anything that went wrong talking to a marimo server."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # HTTP status, when there was one
        self.code = code  # marimo's own error code (e.g. "CELL_NOT_FOUND"), when given


class MarimoNotRunningError(MarimoError):
    """The server refused the connection or went away mid-request."""


class MarimoSessionError(MarimoError):
    """No session, or marimo does not know the session id sent."""


class CellNotFoundError(MarimoError):
    """A cell id (or name) that is not in the notebook."""

    def __init__(
        self, cell_id: str, message: str | None = None, *, status: int | None = None
    ) -> None:
        super().__init__(message or f"cell {cell_id!r} not found", status=status)
        self.cell_id = cell_id


class CellConflictError(MarimoError):
    """The cell changed since the caller read it (optimistic edit check failed)."""

    def __init__(self, cell_id: str, current_code: str) -> None:
        super().__init__(f"cell {cell_id!r} was changed since it was read")
        self.cell_id = cell_id
        self.current_code = current_code


class EditModeRequiredError(MarimoError):
    """HTTP 403: the connection or server is read-only for this action."""


class MarimoAuthError(MarimoError):
    """HTTP 401: wrong or missing token."""


class MarimoTimeoutError(MarimoError):
    """A wait on marimo ran past its deadline."""


class CodeModeError(MarimoError):
    """Code mode finished with `success: false`.

    `applied` tells the two kinds apart (research §4D): validation failures (syntax
    error, multiply-defined name, unknown target) apply nothing, while an exception in a
    cell that was run leaves the batch applied and saved, with that cell showing its
    error. `cell_ids` are the cells created by an applied batch, `put` what its
    `PutCells` did.
    """

    def __init__(
        self,
        message: str,
        *,
        applied: bool,
        stdout: str = "",
        stderr: str = "",
        error_type: str | None = None,
        cell_ids: tuple[str, ...] = (),
        put: tuple[PutOutcome, ...] = (),
    ) -> None:
        super().__init__(message)
        self.applied = applied
        self.stdout = stdout
        self.stderr = stderr
        self.error_type = error_type
        self.cell_ids = cell_ids
        self.put = put

    @property
    def traceback(self) -> str:
        """The last Python traceback marimo streamed on stderr, or ''."""
        start = self.stderr.rfind("Traceback (most recent call last)")
        return self.stderr[start:] if start >= 0 else ""


_SESSION_DETAIL = re.compile(
    r"Invalid (stable )?session id|Missing Marimo-Session-Id|session.*not found", re.I
)
_CELL_IN_MESSAGE = re.compile(r"Cell (\S+) not found")


def _message_of(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("detail", "error", "message"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if value is not None:
                return json.dumps(value)
    if isinstance(body, str):
        return body
    return json.dumps(body) if body is not None else ""


def error_from_response(status: int, body: Any) -> MarimoError | None:
    """The error an HTTP reply stands for, or None when it is a success.

    `body` is the decoded JSON (or the text when it was not JSON).
    """
    if 200 <= status < 300:
        return None
    message = _message_of(body) or f"HTTP {status}"
    if status == 401:
        return MarimoAuthError(message, status=status)
    if status == 403:
        return EditModeRequiredError(message, status=status)
    # A bad Marimo-Session-Id is an unhandled ValueError in marimo: HTTP 500.
    if status in (400, 404, 500) and _SESSION_DETAIL.search(message):
        return MarimoSessionError(message, status=status)
    if status in (502, 503, 504):
        return MarimoNotRunningError(message, status=status)
    return MarimoError(message, status=status)


def _tool_payload(error: str) -> dict[str, Any] | None:
    """invoke_tool wraps marimo's structured error as "Error invoking tool 'x': {json}"."""
    start = error.find("{")
    if start < 0:
        return None
    try:
        payload = json.loads(error[start:])
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def error_from_tool(error: str | None, requested_cell_ids: tuple[str, ...] = ()) -> MarimoError:
    """The error for an invoke_tool reply with `success: false`."""
    text = error or "tool failed"
    payload = _tool_payload(text)
    code = payload.get("code") if payload else None
    message = str(payload.get("message", text)) if payload else text
    if code == "SESSION_NOT_FOUND":
        return MarimoSessionError(message, code=code)
    if code == "CELL_NOT_FOUND":
        match = _CELL_IN_MESSAGE.search(message)
        cell_id = match.group(1) if match else (requested_cell_ids[0] if requested_cell_ids else "")
        err = CellNotFoundError(cell_id, message)
        err.code = code
        return err
    return MarimoError(message, code=code if isinstance(code, str) else None)
