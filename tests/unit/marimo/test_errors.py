"""Mapping marimo's error shapes (research §3, §5) to Hexa's typed errors."""

from __future__ import annotations

import json

import pytest

from hexa.marimo.errors import (
    CellNotFoundError,
    CodeModeError,
    EditModeRequiredError,
    MarimoAuthError,
    MarimoError,
    MarimoNotRunningError,
    MarimoSessionError,
    error_from_response,
    error_from_tool,
)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"detail": "Authorization header required"}, MarimoAuthError),
        (401, {"error": "Missing server token"}, MarimoAuthError),  # skew middleware shape
        (403, {"detail": "This connection is read-only for this action."}, EditModeRequiredError),
        (404, {"detail": "Invalid stable session id: sess-x"}, MarimoSessionError),
        (500, {"detail": "Invalid session id: bogus"}, MarimoSessionError),
        (500, {"detail": "Missing Marimo-Session-Id header"}, MarimoSessionError),
        (400, {"detail": "Marimo-Stable-Session-Id cannot be combined with ..."}, MarimoError),
        (400, {"detail": "Server does not have a formatter. Please install ruff"}, MarimoError),
        (502, "Bad Gateway", MarimoNotRunningError),
        (500, "Internal Server Error", MarimoError),
    ],
)
def test_http_errors(status: int, body: object, kind: type[MarimoError]) -> None:
    error = error_from_response(status, body)
    assert type(error) is kind
    assert error.status == status
    if isinstance(body, dict):
        body = next(iter(body.values()))
    assert error.message == body


def test_success_is_no_error() -> None:
    assert error_from_response(200, {"success": True}) is None
    assert error_from_response(204, "") is None


def test_structured_detail_is_kept_as_json() -> None:
    error = error_from_response(422, {"detail": [{"loc": ["body"], "msg": "bad"}]})
    assert error is not None
    assert json.loads(error.message) == [{"loc": ["body"], "msg": "bad"}]


def tool_error(code: str, message: str) -> str:
    payload = {"message": message, "code": code, "status": 400, "is_retryable": False}
    return f"Error invoking tool 'x': {json.dumps(payload)}"


def test_tool_errors() -> None:
    session = error_from_tool(tool_error("SESSION_NOT_FOUND", "Session s not found"))
    assert type(session) is MarimoSessionError
    assert session.code == "SESSION_NOT_FOUND"

    cell = error_from_tool(tool_error("CELL_NOT_FOUND", "Cell zzzz not found in session s"))
    assert isinstance(cell, CellNotFoundError)
    assert (cell.cell_id, cell.code) == ("zzzz", "CELL_NOT_FOUND")

    graph = error_from_tool(
        tool_error("CELL_NOT_FOUND", "Cell not in the graph"), requested_cell_ids=("abcd",)
    )
    assert isinstance(graph, CellNotFoundError)
    assert graph.cell_id == "abcd"

    other = error_from_tool(tool_error("NO_DATABASES_FOUND", "No databases found."))
    assert type(other) is MarimoError
    assert (other.code, other.message) == ("NO_DATABASES_FOUND", "No databases found.")

    plain = error_from_tool("Internal error: Tool 'x' not found.")
    assert (type(plain), plain.code) == (MarimoError, None)
    assert error_from_tool(None).message == "tool failed"


def test_code_mode_error_traceback_is_the_last_one() -> None:
    tb = "Traceback (most recent call last):\n"
    stderr = f"noise\n{tb}  A\n{tb}  B\nE: x\n"
    error = CodeModeError("failed", applied=True, stderr=stderr, cell_ids=("ab",))
    assert error.traceback == "Traceback (most recent call last):\n  B\nE: x\n"
    assert CodeModeError("failed", applied=False).traceback == ""
