"""`EditorSaves`: each notebook's recent code-mode changes, kept for a window, shared with
the other replicas and spared by an editor's own writes. Real objects; the clock is a
counter and the relay a list (another `EditorSaves` stands for the other replica)."""

from __future__ import annotations

import json

from hexa.marimo.saves import Applied, NewCell
from hexa.notebooks.editor_saves import EditorSaves


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def save_of(*cells: tuple[str, str]) -> bytes:
    return json.dumps(
        {
            "cellIds": [i for i, _ in cells],
            "codes": [code for _, code in cells],
            "names": ["_"] * len(cells),
            "configs": [{}] * len(cells),
            "filename": "nb.py",
        }
    ).encode()


def ids_of(body: bytes) -> list[str]:
    ids: list[str] = json.loads(body)["cellIds"]
    return ids


MADE = Applied(stamp=1, created={"New1": NewCell("z = 1", "_", {})}, order=("Hbol", "New1"))
STALE = save_of(("Hbol", "a = 1"))
SAVE = "api/kernel/save"


def test_a_stale_save_is_mended_within_the_window_only() -> None:
    clock = Clock()
    saves = EditorSaves(window=10.0, clock=clock)
    saves.applied("nb", MADE)
    assert ids_of(saves.editor_request("nb", SAVE, STALE)) == ["Hbol", "New1"]
    assert saves.editor_request("other", SAVE, STALE) == STALE, "another notebook's"
    clock.now += 10.5
    assert saves.editor_request("nb", SAVE, STALE) == STALE, "a late save is the person's"


def test_an_editors_write_spares_the_cells_it_touches_on_every_replica() -> None:
    sent: list[tuple[str, str]] = []
    here, there = EditorSaves(), EditorSaves()
    here.share(lambda nb, text: sent.append((nb, text)))
    here.applied("nb", MADE)
    there.received(*sent[-1])
    # Another request passes as it is, and spares nothing.
    other = b'{"cellIds": ["New1"]}'
    assert here.editor_request("nb", "api/kernel/interrupt", other) == other
    assert ids_of(there.editor_request("nb", SAVE, STALE)) == ["Hbol", "New1"]
    transaction = b'{"changes": [{"type": "delete-cell", "cellId": "New1"}]}'
    assert here.editor_request("nb", "api/document/transaction", transaction) == transaction
    assert len(sent) == 2
    there.received(*sent[-1])
    for replica in (here, there):
        assert replica.editor_request("nb", SAVE, STALE) == STALE
    # Told once: a second write to the same cell sends nothing.
    here.editor_request("nb", "api/kernel/delete", b'{"cellId": "New1"}')
    assert len(sent) == 2


def test_a_new_marimo_forgets_the_changes_of_the_one_before() -> None:
    saves = EditorSaves()
    saves.applied("nb", MADE)
    saves.forget("nb")
    assert saves.editor_request("nb", SAVE, STALE) == STALE


def test_what_another_replica_sends_that_cannot_be_read_is_dropped() -> None:
    saves = EditorSaves()
    for text in ("{", "[]", '{"applied": {"stamp": "x"}, "key": "k"}', '{"spared": 3}'):
        saves.received("nb", text)
    assert saves.editor_request("nb", SAVE, STALE) == STALE


def test_records_past_the_window_are_dropped_for_every_notebook() -> None:
    clock = Clock()
    saves = EditorSaves(window=10.0, clock=clock)
    for n in range(50):
        saves.applied(f"nb{n}", MADE)
    clock.now += 11
    saves.applied("last", MADE)
    assert list(saves._recent) == ["last"]
