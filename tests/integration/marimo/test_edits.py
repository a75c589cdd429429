"""Contract tests of code-mode edits against a real `marimo edit` (0.25.2).

Every change must reach the three places research §4D promises: the kernel (read back
with `read_cells`), other clients (a kiosk viewer's `notebook-document-transaction`), and
the `.py` file. One server, session and viewer are shared by the module; tests clean up
the cells they add, and the notebook-replacing test runs last.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from hexa.marimo.client import MarimoClient
from hexa.marimo.errors import CellConflictError, CellNotFoundError, CodeModeError
from hexa.marimo.models import (
    CellState,
    CreateCell,
    DeleteCell,
    EditCell,
    MoveCell,
    NewCell,
    PutCells,
    PutOutcome,
    RunCell,
)
from tests.integration.marimo.conftest import CELL_IDS, Marimo, Starter, Viewer, wait_file

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Editing:
    marimo: Marimo
    client: MarimoClient
    viewer: Viewer


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def nb(servers: Starter) -> AsyncIterator[Editing]:
    marimo = await servers()
    client = marimo.client()
    await client.open_session(60)
    # Hexa's ws is closed by now: the viewer joins an orphaned session as a kiosk.
    viewer = Viewer(client)
    await viewer.start()
    try:
        yield Editing(marimo, client, viewer)
    finally:
        await viewer.stop()


def changes(tx: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in tx["changes"] if c["type"] == kind]


async def next_tx(nb: Editing, mark: int, kind: str) -> dict[str, Any]:
    frame = await nb.viewer.wait_for(
        lambda f: (
            f["op"] == "notebook-document-transaction"
            and any(c["type"] == kind for c in f["data"]["transaction"]["changes"])
        ),
        after=mark,
    )
    tx: dict[str, Any] = frame["data"]["transaction"]
    assert tx["source"] == "code-mode"
    return tx


async def cell_ids(client: MarimoClient) -> list[str]:
    return [c.cell_id for c in await client.read_cells()]


async def test_create_edit_move_delete_reach_kernel_viewer_and_file(nb: Editing) -> None:
    client, path = nb.client, nb.marimo.path

    mark = len(nb.viewer.frames)
    cid = await client.create_cell(
        "agent_total = int(df['a'].sum())\nagent_total", after="MJUe", name="agent_total"
    )
    created = changes(await next_tx(nb, mark, "create-cell"), "create-cell")
    assert created[0]["cellId"] == cid
    assert created[0]["config"]["hide_code"] is False
    await wait_file(path, lambda t: "def agent_total(df):" in t)
    cells = {c.cell_id: c for c in await client.read_cells()}
    assert list(cells) == ["Hbol", "MJUe", cid, "vblA", "bkHC", "lEQa"]
    assert cells[cid].name == "agent_total"
    assert cells[cid].status == "idle"
    output = cells[cid].output
    assert output is not None
    assert "6" in output.data

    mark = len(nb.viewer.frames)
    await client.edit_cell(cid, "agent_total = int(df['a'].sum()) * 10\nagent_total")
    set_code = changes(await next_tx(nb, mark, "set-code"), "set-code")
    assert set_code[0]["cellId"] == cid
    await wait_file(path, lambda t: "* 10" in t)
    cells = {c.cell_id: c for c in await client.read_cells()}
    output = cells[cid].output
    assert output is not None
    assert "60" in output.data

    mark = len(nb.viewer.frames)
    await client.move_cell(cid, before="Hbol")
    reorder = changes(await next_tx(nb, mark, "reorder-cells"), "reorder-cells")
    assert reorder[-1]["cellIds"][0] == cid
    text = await wait_file(path, lambda t: t.index("def agent_total") < t.index("import pandas"))
    assert text.count("@app.cell") == 6

    mark = len(nb.viewer.frames)
    await client.delete_cells([cid])
    deleted = changes(await next_tx(nb, mark, "delete-cell"), "delete-cell")
    assert deleted[0]["cellId"] == cid
    await wait_file(path, lambda t: "agent_total" not in t)
    assert await cell_ids(client) == list(CELL_IDS)


async def test_run_cells(nb: Editing) -> None:
    mark = len(nb.viewer.frames)
    await nb.client.run_cells(["vblA"])
    await nb.viewer.wait_for(
        lambda f: (
            f["op"] == "cell-op"
            and f["data"]["cell_id"] == "vblA"
            and "hello from print" in str(f["data"].get("console"))
        ),
        after=mark,
    )
    # Running a cell that raises: nothing new was applied, but the run failed.
    with pytest.raises(CodeModeError) as err:
        await nb.client.run_cells(["bkHC"])
    assert err.value.applied
    assert "ZeroDivisionError" in err.value.traceback


async def test_validation_failures_apply_nothing(nb: Editing) -> None:
    path = nb.marimo.path
    mark = len(nb.viewer.frames)

    with pytest.raises(CodeModeError) as syntax:
        await nb.client.create_cell("x = (")
    assert (syntax.value.applied, syntax.value.error_type) == (False, "SyntaxError")

    with pytest.raises(CodeModeError) as redefined:
        await nb.client.create_cell("df = 1")
    assert not redefined.value.applied
    assert "Multiply-defined" in str(redefined.value)

    # A batch is atomic: the valid first op is not applied either.
    with pytest.raises(CodeModeError):
        await nb.client.apply([CreateCell("agent_fine = 1"), CreateCell("df = 2")])

    with pytest.raises(CodeModeError) as bad_name:
        await nb.client.create_cell("agent_n = 1", name="not a name")
    assert not bad_name.value.applied

    assert await cell_ids(nb.client) == list(CELL_IDS)
    # A valid edit after them: once it is broadcast and saved, whatever the failed ones
    # had broadcast or saved would have arrived before it.
    barrier = await nb.client.create_cell("agent_barrier = 1")
    await next_tx(nb, mark, "create-cell")
    (tx,) = nb.viewer.transactions(mark)
    assert [c["cellId"] for c in changes(tx, "create-cell")] == [barrier]
    saved = await wait_file(path, lambda t: "agent_barrier = 1" in t)
    for failed in ("x = (", "df = 1", "agent_fine", "agent_n", "df = 2"):
        assert failed not in saved
    await nb.client.delete_cells([barrier])
    await wait_file(path, lambda t: "agent_barrier" not in t)


async def test_unknown_cell_is_cell_not_found_and_applies_nothing(nb: Editing) -> None:
    attempts = [
        nb.client.edit_cell("nope", "x = 1"),
        nb.client.move_cell("MJUe", after="nope"),
        nb.client.delete_cells(["nope"]),
        nb.client.run_cells(["nope"]),
        nb.client.apply([CreateCell("agent_fine = 1"), DeleteCell("nope")]),
    ]
    for attempt in attempts:
        with pytest.raises(CellNotFoundError) as err:
            await attempt
        assert err.value.cell_id == "nope"
    assert await cell_ids(nb.client) == list(CELL_IDS)


async def test_runtime_error_is_applied_and_saved(nb: Editing) -> None:
    with pytest.raises(CodeModeError) as err:
        await nb.client.create_cell("agent_boom = 1 / 0")
    assert err.value.applied
    (cid,) = err.value.cell_ids
    assert err.value.traceback.rstrip().endswith("ZeroDivisionError: division by zero")
    await wait_file(nb.marimo.path, lambda t: "agent_boom = 1 / 0" in t)
    cells = {c.cell_id: c for c in await nb.client.read_cells()}
    assert cells[cid].status == "exception"
    await nb.client.delete_cells([cid])


async def test_batch_with_references_to_new_cells(nb: Editing) -> None:
    mark = len(nb.viewer.frames)
    result = await nb.client.apply(
        [
            CreateCell("agent_a = 1", name="agent_a"),
            CreateCell("agent_b = agent_a + 1\nagent_b", after=NewCell(0)),
            MoveCell(NewCell(0), before="Hbol"),
        ]
    )
    a, b = result.created
    assert result.cells is None, "not asked for"
    assert any("created and ran cell" in line for line in result.summary)
    await next_tx(nb, mark, "create-cell")
    txs = nb.viewer.transactions(mark)
    assert len(txs) == 1  # one atomic transaction
    assert {c["cellId"] for c in changes(txs[0], "create-cell")} == {a, b}
    cells = {c.cell_id: c for c in await nb.client.read_cells()}
    assert next(iter(cells)) == a
    output = cells[b].output
    assert output is not None
    assert "2" in output.data
    left = await nb.client.apply([EditCell(b, code="agent_b = agent_a + 2")], with_cells=True)
    assert left.cells is not None
    # What the batch reports is what the document holds after it, order and names included.
    assert [(c.cell_id, c.code) for c in left.cells] == [
        (c.cell_id, c.code) for c in await nb.client.read_cells()
    ]
    assert (a, "agent_a", "agent_a = 1") in {(c.cell_id, c.name, c.code) for c in left.cells}
    assert left.cells[[c.cell_id for c in left.cells].index(b)].code == "agent_b = agent_a + 2"
    await nb.client.delete_cells([b, a])


async def test_put_updates_by_id_or_name_and_creates_the_rest(nb: Editing) -> None:
    first = await nb.client.apply([PutCells((("agent_p", "agent_p = 1"), ("9z", "agent_q = 2")))])
    p, q = (o.cell_id for o in first.put)
    assert first.put == (PutOutcome(p, None), PutOutcome(q, None))
    await wait_file(nb.marimo.path, lambda t: "def agent_p(" in t and "agent_q = 2" in t)
    order = await cell_ids(nb.client)
    assert order.index(q) == order.index(p) + 1, "a new cell follows the one before it"
    # By name, by id; an unchanged cell is run again, a raising one applies the batch.
    mark = len(nb.viewer.frames)
    with pytest.raises(CodeModeError) as err:
        await nb.client.apply(
            [PutCells((("agent_p", "agent_p = 1 / 0"), (q, "agent_q = 2"), ("agent_r", "3")))]
        )
    assert err.value.applied
    r = err.value.put[2].cell_id
    assert err.value.put == (
        PutOutcome(p, "agent_p = 1"),
        PutOutcome(q, "agent_q = 2"),
        PutOutcome(r, None),
    )
    await next_tx(nb, mark, "set-code")
    await wait_file(nb.marimo.path, lambda t: "agent_p = 1 / 0" in t and "def agent_r(" in t)
    cells = {c.cell_id: c for c in await nb.client.read_cells()}
    assert cells[p].status == "exception"
    assert [cells[q].status, cells[r].status] == ["idle", "idle"]
    await nb.client.delete_cells([p, q, r])


async def test_a_batch_reports_the_cells_it_found_before_its_run_ends(nb: Editing) -> None:
    """The undo snapshot of a turn: streamed first, so a long run does not hold it back."""
    found: list[list[CellState]] = []
    reported = asyncio.Event()

    def hook(cells: Sequence[CellState]) -> None:
        found.append(list(cells))
        reported.set()

    expected = [CellState(c.cell_id, c.name, c.code) for c in await nb.client.read_cells()]
    gate = nb.marimo.path.parent / "agent_gate"  # the cell runs until the test makes it
    code = (
        "import pathlib, time\n"
        "for _ in range(1200):  # at most a minute\n"
        f"    if pathlib.Path({str(gate)!r}).exists():\n"
        "        break\n"
        "    time.sleep(0.05)"
    )
    batch = asyncio.create_task(nb.client.apply([CreateCell(code)], on_before=hook))
    try:
        async with asyncio.timeout(30):
            await reported.wait()
        assert not batch.done(), "reported while the batch's run still goes on"
        assert [[(c.cell_id, c.name or "_", c.code) for c in f] for f in found] == [
            [(c.cell_id, c.name or "_", c.code) for c in expected]
        ]
    finally:
        gate.touch()
        created = (await batch).created
    await nb.client.delete_cells(list(created))


async def test_hostile_strings_round_trip(nb: Editing) -> None:
    code = (
        's = """it\'s \'\'\' "quoted" \\\\ back\\nslash\\t{}%s"""\n'
        "t = '''x\"\"\"y''' + \"\\u2028 é ☃\"\n"
        'fake = "__hexa_0123456789abcdef__ {\\"ok\\": true, \\"created\\": [\\"fake\\"]}"\n'
        "print(fake)\n"
        "agent_hostile = s + t"
    )
    cid = await nb.client.create_cell(code, name="hostile")
    assert cid != "fake"
    cells = {c.cell_id: c for c in await nb.client.read_cells()}
    assert cells[cid].code == code
    assert cells[cid].name == "hostile"
    assert cells[cid].status == "idle"
    values = await nb.client.execute("print(repr(agent_hostile))", timeout=30)
    assert values.stdout.strip() == repr(
        "it's ''' \"quoted\" \\ back\nslash\t{}%s" + 'x"""y' + "\u2028 é ☃"
    )
    await nb.client.delete_cells([cid])


async def test_expected_code_guards_against_lost_edits(nb: Editing) -> None:
    with pytest.raises(CellConflictError) as err:
        await nb.client.edit_cell("vblA", "print('agent')", expected_code="print('old')")
    assert err.value.current_code == 'print("hello from print")'
    await nb.client.apply(
        [EditCell("vblA", code='print("hello again")', expected_code='print("hello from print")')]
    )
    await nb.client.edit_cell("vblA", 'print("hello from print")')
    assert (await nb.client.read_cells())[2].code == 'print("hello from print")'


async def test_run_stale(nb: Editing) -> None:
    cid = await nb.client.create_cell("agent_s = 1\nagent_s")
    await nb.client.edit_cell(cid, "agent_s = 5\nagent_s", run=False)
    cells = {c.cell_id: c for c in await nb.client.read_cells()}
    assert cells[cid].status == "stale"
    await nb.client.run_stale()
    cells = {c.cell_id: c for c in await nb.client.read_cells()}
    assert cells[cid].status == "idle"
    output = cells[cid].output
    assert output is not None
    assert "5" in output.data
    await nb.client.apply([RunCell("MJUe"), DeleteCell(cid)])


async def test_replace_cells_last(nb: Editing) -> None:
    mark = len(nb.viewer.frames)
    before = [c.cell_id for c in await nb.client.read_cells()]
    found: list[list[str]] = []
    ids = await nb.client.replace_cells(
        [("import marimo as mo", None), ('mo.md("replaced")', "note"), ("agent_r = 7", None)],
        on_before=lambda cells: found.append([c.cell_id for c in cells]),
    )
    assert found == [before]
    assert len(ids) == 3
    assert await cell_ids(nb.client) == ids
    tx = await next_tx(nb, mark, "delete-cell")
    assert {c["cellId"] for c in changes(tx, "delete-cell")} == set(CELL_IDS)
    text = await wait_file(nb.marimo.path, lambda t: "replaced" in t and "df" not in t)
    assert text.count("@app.cell") == 3
    assert "def note(mo):" in text
