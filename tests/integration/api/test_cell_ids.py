"""A caller's cell ids keep naming the same cells: unseen ids create, known ids update,
across calls and across a restart of the notebook (when marimo hands out new ids).

Real parts: a real `hexa serve` (SQLite and PostgreSQL, its proxy, marimo in its sandbox).
"""

from __future__ import annotations

import httpx2
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cells(api: httpx2.Client) -> list[dict[str, object]]:
    state = api.get("/api/notebooks/ids/state")
    assert state.status_code == 200, state.text
    cells: list[dict[str, object]] = state.json()["cells"]
    return cells


def execute(api: httpx2.Client, ids: list[str], codes: list[str]) -> list[str]:
    reply = api.post("/api/notebooks/ids/cells/execute", json={"cell_ids": ids, "codes": codes})
    assert reply.status_code == 200, reply.text
    assert reply.json()["success"], reply.text
    created: list[str] = reply.json()["cell_ids"]
    return created


def test_callers_ids_keep_naming_their_cells(api: httpx2.Client) -> None:
    opened = api.post("/api/notebooks/open", json={"notebook_id": "ids", "notebook_path": "i.py"})
    assert opened.status_code == 200, opened.text
    start = len(cells(api))
    first = execute(api, ["c1", "c2"], ["a = 1", "b = a + 1"])
    assert len(cells(api)) == start + 2
    again = execute(api, ["c2"], ["b = a + 2"])
    assert again == [first[1]], "c2 names the same cell"
    assert len(cells(api)) == start + 2, "sending c2 again updated it, it made no new cell"
    code = api.get("/api/notebooks/ids/code").json()["code"]
    assert "def c1(" in code, "the id is saved as the cell's name"
    assert "def c2(" in code
    # marimo hands out new ids when it loads the file again; the caller's ids still hold.
    assert api.post("/api/notebooks/ids/close").status_code == 200
    assert api.post(
        "/api/notebooks/open", json={"notebook_id": "ids", "notebook_path": "i.py"}
    ).is_success
    execute(api, ["c1"], ["a = 10"])
    assert len(cells(api)) == start + 2
    code = api.get("/api/notebooks/ids/code").json()["code"]
    assert "a = 10" in code
    assert "a = 1\n" not in code
    repeated = api.post(
        "/api/notebooks/ids/cells/execute", json={"cell_ids": ["x", "x"], "codes": ["1", "2"]}
    )
    assert repeated.status_code == 400
    api.post("/api/notebooks/ids/close")
