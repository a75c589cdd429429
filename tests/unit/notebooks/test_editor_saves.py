"""The editor's saves rebased on marimo's document (a fake marimo client; the real proxy and
marimo are in tests/integration/api/test_server.py)."""

from __future__ import annotations

import json
from typing import Any

from hexa.marimo.errors import MarimoError
from hexa.notebooks.cell_states import CellState
from hexa.notebooks.editor_saves import SAVE_PATH, TRANSACTION_PATH, EditorSaves, rebase
from tests.unit.agent.fakes import FakeMarimoClient

HIDDEN = {"column": None, "disabled": False, "hide_code": True, "expand_output": False}


def save_of(cells: list[tuple[str, str]], **configs: dict[str, Any]) -> bytes:
    """A save as marimo's editor posts it, of the cells it knows."""
    return json.dumps(
        {
            "cellIds": [i for i, _ in cells],
            "codes": [c for _, c in cells],
            "names": ["_"] * len(cells),
            "configs": [configs.get(i, {}) for i, _ in cells],
            "filename": "nb.py",
            "layout": None,
            "persist": True,
        }
    ).encode()


def test_a_save_takes_the_documents_cells_and_keeps_the_editors_configs() -> None:
    # The editor missed three changes: `new` added, `gone` deleted, `b` edited.
    stale = save_of([("a", "x = 1"), ("gone", "old = 0"), ("b", "y = 1")], a=HIDDEN)
    document = [CellState("a", None, "x = 1"), CellState("b", "named", "y = 2")]
    document.append(CellState("new", None, "z = 3"))
    sent = json.loads(rebase(stale, document) or b"")
    assert sent["cellIds"] == ["a", "b", "new"]
    assert sent["codes"] == ["x = 1", "y = 2", "z = 3"]
    assert sent["names"] == ["_", "named", "_"]
    assert sent["configs"] == [HIDDEN, {}, {}]  # the editor's own; marimo's defaults
    assert (sent["filename"], sent["layout"], sent["persist"]) == ("nb.py", None, True)


def test_what_marimo_would_refuse_is_left_to_marimo() -> None:
    document = [CellState("a", None, "x = 1")]
    for body in (b"not json", b"[1]", b'{"cellIds": ["a"], "configs": []}', b'{"codes": []}'):
        assert rebase(body, document) is None
    assert rebase(b'{"cellIds": [["a"]], "configs": [{}]}', document) is None


async def test_the_save_after_a_lost_transaction_goes_as_it_is() -> None:
    client = FakeMarimoClient([("a", "x = 1"), ("new", "z = 3")])
    saves = EditorSaves()
    stale = save_of([("a", "x = 1")])
    rebased = await saves.body("nb", stale, client)
    assert rebased is not None
    assert json.loads(rebased)["cellIds"] == ["a", "new"]
    # A transaction that failed (or got no answer): its change is only in the next save.
    saves.answered("nb", TRANSACTION_PATH, 400)
    saves.answered("other", TRANSACTION_PATH, 200)
    saves.answered("other", SAVE_PATH, 500)
    assert await saves.body("nb", stale, client) is None
    assert await saves.body("other", stale, client) is not None
    assert await saves.body("nb", stale, client) is not None  # once only
    saves.answered("nb", TRANSACTION_PATH, None)
    assert await saves.body("nb", stale, client) is None


async def test_a_document_that_cannot_be_read_leaves_the_save_as_it_is() -> None:
    client = FakeMarimoClient([("a", "x = 1")])

    async def broken(cell_ids: object) -> list[object]:
        raise MarimoError("marimo is gone", code="SESSION_NOT_FOUND")

    client.cell_runtime_data = broken  # type: ignore[method-assign,assignment]
    assert await EditorSaves().body("nb", save_of([("a", "x = 1")]), client) is None
