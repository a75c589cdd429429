"""The eval suite's files and its judge: every task loads, and each kind of check passes
on a state that meets it and fails, saying why, on one that does not."""

from __future__ import annotations

from typing import Any

import pytest

from hexa.evals.checks import EndState, NotebookEnd, failure
from hexa.evals.tasks import Check, load_suite


def test_the_suite_loads_with_every_category_and_unique_ids() -> None:
    suite = load_suite()
    ids = [t.id for t in suite.tasks]
    assert len(ids) == len(set(ids))
    assert {t.category for t in suite.tasks} == {
        "explore", "fix", "plot", "refactor", "move_delete", "long_running",
        "read_outputs", "several_notebooks", "safety",
    }  # fmt: skip
    assert sum(t.category == "safety" for t in suite.tasks) >= 5
    assert any(t.builtin for t in suite.tasks)
    with pytest.raises(ValueError, match="no such tasks"):
        load_suite(only={"no-such-task"})


def end(**notebook: Any) -> EndState:
    nb = NotebookEnd(
        cells=notebook.get("cells", [{"cell_id": "a", "preview": "x = 1"}]),
        variables=notebook.get("variables", {"x": {"value": "1"}}),
        errors=notebook.get("errors", []),
        file=notebook.get("file", "x = 1\ny = 2\n"),
        audit=notebook.get("audit", []),
    )
    return EndState(
        main="m",
        notebooks={"m": nb},
        replies=notebook.get("replies", ["x is 1"]),
        approvals=notebook.get("approvals", []),
        tools=notebook.get("tools", ["get_variables"]),
        seen=notebook.get("seen", []),
    )


CASES: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    ({"kind": "cell_contains", "text": "x = 1"}, {"file": "z = 3"}, "no cell has"),
    ({"kind": "no_cell_contains", "text": "z"}, {"file": "z = 3"}, "still has"),
    ({"kind": "cell_count", "equals": 1}, {"cells": []}, "0 cells"),
    ({"kind": "variable", "name": "x", "equals": "1"}, {"variables": {}}, "no variable x"),
    ({"kind": "variable", "name": "x", "equals": "1"}, {"variables": {"x": {"value": "2"}}}, "not"),
    ({"kind": "no_errors"}, {"errors": [{"msg": "boom"}]}, "1 errors"),
    ({"kind": "file_contains", "text": "y = 2"}, {"file": ""}, "lacks"),
    ({"kind": "file_excludes", "text": "y = 2"}, {"file": "y = 2"}, "has"),
    ({"kind": "file_order", "text": "x", "then": "y"}, {"file": "y x"}, "not before"),
    (
        {"kind": "approvals", "equals": 0},
        {"approvals": [{"operation": "delete_cells"}]},
        "1 approvals",
    ),
    ({"kind": "applied", "tool": "delete_cells"}, {"audit": []}, "did not run"),
    (
        {"kind": "not_applied", "tool": "delete_cells"},
        {"audit": [{"tool_name": "delete_cells", "decision": "approved", "outcome": "ok: gone"}]},
        "ran",
    ),
    ({"kind": "reply_contains", "text": "42"}, {"replies": ["no"]}, "no reply mentions"),
    ({"kind": "reply_excludes", "text": "sk-"}, {"replies": ["sk-1"]}, "a reply has"),
    ({"kind": "tool_called", "tool": "add_cell"}, {"tools": []}, "was not called"),
    (
        {"kind": "tool_not_called", "tool": "delete_cells"},
        {"tools": ["delete_cells"]},
        "was called",
    ),
    ({"kind": "saw", "text": "amount (int64)"}, {"seen": ["[table]"]}, "never shown"),
    ({"kind": "not_saw", "text": "pandas/core"}, {"seen": ["pandas/core/x.py"]}, "was shown"),
]


@pytest.mark.parametrize(("check", "bad", "why"), CASES)
def test_each_check_passes_when_met_and_fails_with_a_reason_when_not(
    check: dict[str, Any], bad: dict[str, Any], why: str
) -> None:
    good = {
        "file": "x = 1\ny = 2\n",
        "audit": [{"tool_name": "delete_cells", "decision": "approved", "outcome": "ok: deleted"}],
        "tools": ["add_cell"],
        "replies": ["it is 42"],
        "seen": ["columns: amount (int64)"],
    }
    rule = Check.model_validate(check)
    negative = ("no_cell_contains", "file_excludes", "not_applied", "tool_not_called")
    if check["kind"] in (*negative, "reply_excludes", "not_saw"):
        good = {"file": "x = 1\n", "tools": [], "replies": ["fine"], "seen": ["fine"]}
    assert failure(rule, end(**good)) is None
    found = failure(rule, end(**bad))
    assert found is not None
    assert why in found
