"""Changes made through the HTTP API are audited like the agent's, keys redacted.

Real parts: a real `hexa serve` (SQLite and PostgreSQL, marimo in its sandbox).
"""

from __future__ import annotations

import httpx2
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_execute_and_delete_through_the_api_are_audited(api: httpx2.Client) -> None:
    opened = api.post("/api/notebooks/open", json={"notebook_id": "au", "notebook_path": "au.py"})
    assert opened.status_code == 200, opened.text
    done = api.post(
        "/api/notebooks/au/cells/execute",
        json={"cell_ids": ["k"], "codes": ["key = 'sk-test-0123456789abcdef'"]},
    )
    assert done.status_code == 200, done.text
    [cell_id] = done.json()["cell_ids"]
    assert api.delete(f"/api/notebooks/au/cells/{cell_id}").status_code == 200
    assert api.delete("/api/notebooks/au/cells/nosuch").status_code == 404
    entries = api.get("/api/notebooks/au/audit").json()["entries"]
    names = [e["tool_name"] for e in entries]
    assert names[:2] == ["api_delete_cell", "api_execute_cells"], names
    deleted, executed = entries[0], entries[1]
    assert "sk-test-0123456789abcdef" not in str(entries)
    assert "[redacted]" in (executed["code_after"] or "")
    assert cell_id in (deleted["code_before"] or "")
    assert executed["user"] == "default"
    api.post("/api/notebooks/au/close")
