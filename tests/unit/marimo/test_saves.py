"""Mending an editor's save with code-mode changes it had not heard of: the records the
kernel reports, and the save bodies marimo's editor sends (pure functions, no marimo;
tests/integration/api/test_server.py sends real saves to a real marimo)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from hexa.marimo.errors import MarimoError
from hexa.marimo.saves import Applied, NewCell, Part, digest, mend, touches

HIDDEN = {"column": None, "disabled": False, "hide_code": True, "expand_output": False}


def save_of(*cells: tuple[str, str, str], configs: list[Any] | None = None) -> bytes:
    """A save as marimo's editor sends it: (id, code, name) per cell."""
    return json.dumps(
        {
            "cellIds": [c[0] for c in cells],
            "codes": [c[1] for c in cells],
            "names": [c[2] for c in cells],
            "configs": configs if configs is not None else [{} for _ in cells],
            "filename": "nb.py",
            "layout": None,
            "persist": True,
        }
    ).encode()


def cells_of(body: bytes) -> list[tuple[str, str, str]]:
    save = json.loads(body)
    return list(zip(save["cellIds"], save["codes"], save["names"], strict=True))


def mended(body: bytes, *records: Applied, spared: frozenset[Part] = frozenset()) -> bytes:
    out = mend(body, [(r, spared) for r in records])
    assert out is not None
    return out[0]


A, B, C = ("Hbol", "a = 1", "_"), ("MJUe", "b = 1", "_"), ("vblA", "c = 1", "named")


def test_a_report_reads_into_what_changed() -> None:
    report = {
        "stamp": 12,
        "changes": [
            {"type": "create-cell", "cellId": "New1", "code": "z = 1", "name": "", "config": {}},
            {"type": "set-code", "cellId": "New1", "code": "z = 2"},  # made, then changed
            {"type": "delete-cell", "cellId": "vblA"},
            {"type": "set-code", "cellId": "MJUe", "code": "b = 2"},
            {"type": "set-code", "cellId": "MJUe", "code": "b = 3"},  # twice: first old kept
            {"type": "set-name", "cellId": "Hbol", "name": "first"},
            {"type": "reorder-cells", "cellIds": ["MJUe", "Hbol", "New1"]},
            {"type": "set-config", "cellId": "Hbol", "column": None, "disabled": True},
        ],
        "old": {"MJUe": [None, digest("b = 1")], "Hbol": [None, digest("a = 1")]},
        "order": ["MJUe", "Hbol", "New1"],
    }
    applied = Applied.from_report(report)
    assert applied == Applied(
        stamp=12,
        created={"New1": NewCell("z = 2", "_", {})},
        deleted=frozenset({"vblA"}),
        codes={"MJUe": (digest("b = 1"), "b = 3")},
        names={"Hbol": ("_", "first")},
        order=("MJUe", "Hbol", "New1"),
    )
    assert applied.parts == {
        ("New1", "cell"),
        ("vblA", "cell"),
        ("MJUe", "code"),
        ("Hbol", "name"),
    }
    assert Applied.from_json(json.loads(json.dumps(applied.to_json()))) == applied
    # The interpreter's word that marimo had nothing to apply.
    assert Applied.from_report({"none": True}) is None
    # The old code is named by the interpreter's digest: the same bytes, surrogates too.
    assert (
        digest("x = '\udcff'")
        == hashlib.sha256("x = '\udcff'".encode("utf-8", "surrogatepass")).hexdigest()
    )


@pytest.mark.parametrize(
    "report",
    [{}, {"stamp": 1, "changes": [{"type": "delete-cell"}], "old": {}, "order": []}, []],
)
def test_a_malformed_report_is_refused(report: Any) -> None:
    with pytest.raises(MarimoError):
        Applied.from_report(report)
    with pytest.raises(MarimoError):
        Applied.from_json(report)


def test_a_save_gets_the_cell_it_had_not_heard_of_in_its_place() -> None:
    made = Applied(
        stamp=1, created={"New1": NewCell("z = 1", "_", HIDDEN)}, order=("Hbol", "New1", "MJUe")
    )
    out = json.loads(mended(save_of(A, B), made))
    assert list(zip(out["cellIds"], out["codes"], strict=True)) == [
        ("Hbol", "a = 1"),
        ("New1", "z = 1"),
        ("MJUe", "b = 1"),
    ]
    assert out["configs"] == [{}, HIDDEN, {}]
    assert out["filename"] == "nb.py"
    # First in the notebook, or after a neighbour the save no longer has.
    first = Applied(stamp=1, created={"New0": NewCell("y", "_", {})}, order=("New0", "Hbol"))
    assert [c[0] for c in cells_of(mended(save_of(A, B), first))] == ["New0", "Hbol", "MJUe"]
    late = Applied(stamp=1, created={"New2": NewCell("y", "_", {})}, order=("Hbol", "gone", "New2"))
    assert [c[0] for c in cells_of(mended(save_of(B, A), late))] == ["MJUe", "Hbol", "New2"]
    # A save that already has it is left as it is.
    assert mend(save_of(A, ("New1", "z = 9", "_"), B), [(made, ())]) is None


def test_a_deleted_cell_is_dropped_and_an_edit_taken_only_over_the_old_code() -> None:
    changed = Applied(
        stamp=1,
        deleted=frozenset({"vblA"}),
        codes={"Hbol": (digest("a = 1"), "a = 2"), "MJUe": (digest("b = 1"), "b = 2")},
        names={"MJUe": ("_", "bee")},
        order=("Hbol", "MJUe"),
    )
    person = ("MJUe", "b = 7", "_")  # typed over before the editor heard
    assert cells_of(mended(save_of(A, person, C), changed)) == [
        ("Hbol", "a = 2", "_"),
        ("MJUe", "b = 7", "bee"),
    ]


def test_the_cells_a_person_wrote_since_are_theirs() -> None:
    changed = Applied(
        stamp=1,
        created={"New1": NewCell("z = 1", "_", {})},
        codes={"Hbol": (digest("a = 1"), "a = 2")},
        order=("Hbol", "New1", "MJUe"),
    )
    # The person deleted the new cell and typed the old code back.
    assert mend(save_of(A, B), [(changed, {("New1", "cell"), ("Hbol", "code")})]) is None
    assert cells_of(mended(save_of(A, B), changed, spared=frozenset({("New1", "cell")}))) == [
        ("Hbol", "a = 2", "_"),
        B,
    ]
    # Renaming a cell spares its name, not its code.
    assert cells_of(mended(save_of(A, B), changed, spared=frozenset({("Hbol", "name")}))) == [
        ("Hbol", "a = 2", "_"),
        ("New1", "z = 1", "_"),
        B,
    ]


def test_records_apply_oldest_first() -> None:
    made = Applied(stamp=1, created={"New1": NewCell("z = 1", "_", {})}, order=("Hbol", "New1"))
    edited = Applied(stamp=2, codes={"New1": (digest("z = 1"), "z = 2")}, order=("Hbol", "New1"))
    gone = Applied(stamp=3, deleted=frozenset({"New1"}), order=("Hbol",))
    assert cells_of(mended(save_of(A), edited, made)) == [A, ("New1", "z = 2", "_")]
    assert mend(save_of(A), [(gone, ()), (made, ()), (edited, ())]) is None


def test_a_notebook_left_empty_gets_the_new_cell() -> None:
    made = Applied(stamp=1, created={"New1": NewCell("z = 1", "_", {})}, order=("New1",))
    assert [c[0] for c in cells_of(mended(save_of(), made))] == ["New1"]
    # marimo's editor keeps its last cell when told to delete it: the new one goes first.
    assert [c[0] for c in cells_of(mended(save_of(A), made))] == ["New1", "Hbol"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"cellIds": ["a"], "codes": [], "names": [], "configs": []}).encode(),
        json.dumps({"cellIds": [1], "codes": ["x"], "names": ["_"], "configs": [{}]}).encode(),
        json.dumps({"codes": ["x"], "names": ["_"], "configs": [{}]}).encode(),
    ],
)
def test_what_marimo_would_refuse_is_left_for_marimo_to_refuse(body: bytes) -> None:
    made = Applied(stamp=1, created={"New1": NewCell("z = 1", "_", {})}, order=("New1",))
    assert mend(body, [(made, ())]) is None


def test_what_an_editors_write_touches() -> None:
    transaction = {
        "changes": [
            {"type": "set-code", "cellId": "Hbol", "code": "x"},
            {"type": "delete-cell", "cellId": "MJUe"},
            {"type": "set-name", "cellId": "vblA", "name": "n"},
            {"type": "create-cell", "cellId": "New9", "code": "", "name": "_", "config": {}},
            {"type": "reorder-cells", "cellIds": ["a", "b"]},
            {"type": "move-cell", "cellId": "Hbol", "after": "MJUe"},
            {"type": "set-config", "cellId": "Hbol", "hide_code": True},
        ]
    }
    assert touches("api/document/transaction", json.dumps(transaction).encode()) == {
        ("Hbol", "code"),
        ("MJUe", "cell"),
        ("vblA", "name"),
        ("New9", "cell"),
    }
    assert touches("api/kernel/delete", b'{"cellId": "Hbol"}') == {("Hbol", "cell")}
    # A run only queues cells: it writes nothing.
    assert touches("api/kernel/run", b'{"cellIds": ["a"], "codes": [""]}') == frozenset()
    assert touches("api/kernel/delete", b"{bad") == frozenset()
    assert touches("api/document/transaction", b'{"changes": 3}') == frozenset()
    assert touches("api/kernel/save", b'{"cellIds": ["a"]}') == frozenset()
