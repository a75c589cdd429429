"""The only code in Hexa that speaks marimo's HTTP, WebSocket and code-mode protocol."""

from __future__ import annotations

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.marimo.errors import (
    CellConflictError,
    CellNotFoundError,
    CodeModeError,
    EditModeRequiredError,
    MarimoAuthError,
    MarimoError,
    MarimoNotRunningError,
    MarimoSessionError,
    MarimoTimeoutError,
)
from hexa.marimo.models import (
    ApplyResult,
    CellSnapshot,
    CreateCell,
    DeleteCell,
    EditCell,
    ExecuteResult,
    MoveCell,
    NewCell,
    Notification,
    PutCells,
    PutOutcome,
    RunCell,
    RunStale,
    SessionInfo,
)
from hexa.marimo.protocol import NotebookClient

__all__ = [
    "ApplyResult",
    "CellConflictError",
    "CellNotFoundError",
    "CellSnapshot",
    "CodeModeError",
    "CreateCell",
    "DeleteCell",
    "EditCell",
    "EditModeRequiredError",
    "ExecuteResult",
    "MarimoAuthError",
    "MarimoClient",
    "MarimoError",
    "MarimoNotRunningError",
    "MarimoSessionError",
    "MarimoTimeoutError",
    "MoveCell",
    "NewCell",
    "NotebookClient",
    "Notification",
    "PutCells",
    "PutOutcome",
    "RunCell",
    "RunStale",
    "SessionInfo",
    "make_http_client",
]
