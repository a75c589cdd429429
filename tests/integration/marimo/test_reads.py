"""Contract tests of the marimo client's reads against a real `marimo edit` (0.25.2).

One server and session are shared by the module; nothing here edits the notebook.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from hexa.marimo.client import MarimoClient
from hexa.marimo.errors import (
    CellNotFoundError,
    MarimoAuthError,
    MarimoSessionError,
    MarimoTimeoutError,
)
from hexa.marimo.models import SessionInfo
from tests.integration.marimo.conftest import CELL_IDS, Marimo, Starter

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Opened:
    marimo: Marimo
    client: MarimoClient
    info: SessionInfo


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def nb(servers: Starter) -> AsyncIterator[Opened]:
    marimo = await servers()
    client = marimo.client()
    info = await client.open_session(60)
    yield Opened(marimo, client, info)


async def test_open_session_runs_the_notebook(nb: Opened) -> None:
    info = nb.info
    assert info.cell_ids == CELL_IDS
    assert info.stable_session_id.startswith("sess-")
    assert info.codes[2] == 'print("hello from print")'
    assert (info.resumed, info.kiosk, info.run_completed) == (False, False, True)
    assert await nb.client.kernel_status() == "idle"
    outputs = {o["cell_id"]: o for o in await nb.client.cell_outputs(["vblA"])}
    assert outputs["vblA"]["console_outputs"]["stdout"] == ["hello from print\n"]


async def test_health_status_sessions(nb: Opened) -> None:
    assert await nb.client.health()
    status = await nb.client.status()
    assert (status.status, status.mode, status.version) == ("healthy", "edit", "0.25.2")
    assert status.filenames == (str(nb.marimo.path),)
    refs = await nb.client.sessions()
    assert [r.stable_session_id for r in refs] == [nb.info.stable_session_id]
    assert refs[0].path == str(nb.marimo.path)


async def test_cell_map(nb: Opened) -> None:
    cell_map = await nb.client.cell_map(preview_lines=1)
    assert [c["cell_id"] for c in cell_map["cells"]] == list(CELL_IDS)
    by_id = {c["cell_id"]: c for c in cell_map["cells"]}
    assert by_id["Hbol"]["preview"] == "import marimo as mo"
    assert by_id["bkHC"]["has_errors"] is True
    assert by_id["vblA"]["has_console_output"] is True
    assert by_id["lEQa"]["cell_type"] == "markdown"


async def test_cell_runtime_data(nb: Opened) -> None:
    data = {d["cell_id"]: d for d in await nb.client.cell_runtime_data(["MJUe", "bkHC"])}
    assert data["bkHC"]["code"] == "1 / 0"
    errors = data["bkHC"]["errors"] or []
    assert errors[0]["message"] == "division by zero"
    assert "df" in (data["MJUe"]["variables"] or {})


async def test_cell_outputs(nb: Opened) -> None:
    outputs = {o["cell_id"]: o for o in await nb.client.cell_outputs()}
    assert set(outputs) == set(CELL_IDS)
    assert outputs["MJUe"]["visual_output"]["visual_mimetype"] == "text/html"
    assert "marimo-table" in (outputs["MJUe"]["visual_output"]["visual_output"] or "")
    assert "Title" in (outputs["lEQa"]["visual_output"]["visual_output"] or "")


async def test_notebook_errors(nb: Opened) -> None:
    errors = await nb.client.notebook_errors()
    assert errors["has_errors"]
    assert [c["cell_id"] for c in errors["cells"]] == ["bkHC"]


async def test_tables_and_variables(nb: Opened) -> None:
    everything = await nb.client.tables_and_variables()
    df = everything["tables"]["df"]
    assert (df["num_rows"], df["num_columns"]) == (3, 2)
    assert [c["name"] for c in df["columns"]] == ["a", "b"]
    only = await nb.client.tables_and_variables(["df"])
    assert set(only["variables"]) == {"df"}


async def test_database_tables_without_a_connection_is_empty(nb: Opened) -> None:
    assert await nb.client.database_tables() == []


async def test_lint(nb: Opened) -> None:
    report = await nb.client.lint()
    assert report["summary"]["breaking_issues"] == 0
    assert all("code" in d for d in report["diagnostics"])


async def test_dependency_graph(nb: Opened) -> None:
    graph = await nb.client.dependency_graph()
    cells = {c["cell_id"]: c for c in graph["cells"]}
    assert cells["MJUe"]["parent_cell_ids"] == ["Hbol"]
    assert graph["variable_owners"]["df"] == ["MJUe"]
    assert graph["multiply_defined"] == []
    around = await nb.client.dependency_graph("MJUe", depth=1)
    assert {c["cell_id"] for c in around["cells"]} == {"Hbol", "MJUe"}


async def test_marimo_rules_and_active_notebooks(nb: Opened) -> None:
    assert "marimo" in (await nb.client.marimo_rules()).lower()
    active = await nb.client.active_notebooks()
    assert active["total_notebooks"] == 1
    assert active["notebooks"][0]["path"] == str(nb.marimo.path)


async def test_unknown_cell_is_cell_not_found(nb: Opened) -> None:
    with pytest.raises(CellNotFoundError) as err:
        await nb.client.cell_runtime_data(["nope"])
    assert err.value.cell_id == "nope"
    with pytest.raises(CellNotFoundError):
        await nb.client.cell_outputs(["nope"])
    with pytest.raises(CellNotFoundError):
        await nb.client.dependency_graph("nope")


async def test_read_code_is_the_file(nb: Opened) -> None:
    assert await nb.client.read_code() == nb.marimo.path.read_text()


async def test_format(nb: Opened) -> None:
    formatted = await nb.client.format({"a": "x=1;y  =2", "bad": "x = ("})
    assert formatted == {"a": "x = 1\ny = 2"}  # unparsable code is left out


async def test_read_cells(nb: Opened) -> None:
    cells = {c.cell_id: c for c in await nb.client.read_cells()}
    assert list(cells) == list(CELL_IDS)
    assert all(c.name is None and not c.hide_code for c in cells.values())
    assert cells["MJUe"].status == "idle"
    assert cells["MJUe"].output is not None
    assert cells["MJUe"].output.mimetype == "text/html"
    assert [(c.channel, c.data) for c in cells["vblA"].console] == [
        ("stdout", "hello from print\n")
    ]
    assert cells["bkHC"].status == "exception"
    assert cells["bkHC"].errors == ("ZeroDivisionError: division by zero",)
    # The editor's run streams tracebacks as highlighted HTML; snapshots carry text.
    assert cells["bkHC"].console[0].data.startswith("Traceback (most recent call last)")
    assert cells["lEQa"].output is not None
    assert "Title" in cells["lEQa"].output.data
    clipped = {c.cell_id: c for c in await nb.client.read_cells(max_output_chars=10)}
    assert clipped["MJUe"].output is not None
    assert clipped["MJUe"].output.truncated
    assert len(clipped["MJUe"].output.data) == 10


async def test_execute(nb: Opened) -> None:
    result = await nb.client.execute("print('hi', len(df))\n40 + 2", timeout=30)
    assert result.success
    assert result.stdout == "hi 3\n"
    assert result.output is not None
    assert "42" in result.output.data
    failed = await nb.client.execute("raise ValueError('nope')", timeout=30)
    assert not failed.success
    assert "ValueError: nope" in failed.stderr


async def test_execute_timeout_interrupts_the_kernel(nb: Opened) -> None:
    with pytest.raises(MarimoTimeoutError):
        await nb.client.execute("import time\ntime.sleep(60)", timeout=1.5)
    # Closing the stream interrupted the kernel: the scratchpad runs one call at a time,
    # and the next one runs within a deadline far shorter than the sleep.
    result = await nb.client.execute("print('after')", timeout=20)
    assert result.stdout == "after\n"


async def test_interrupt_when_idle(nb: Opened) -> None:
    await nb.client.interrupt()
    assert await nb.client.kernel_status() == "idle"


async def test_wrong_token_is_auth_error(nb: Opened) -> None:
    wrong = MarimoClient(nb.marimo.process.url, "wrong", nb.marimo.http)
    assert await wrong.health()  # /health needs no auth
    with pytest.raises(MarimoAuthError):
        await wrong.status()


async def test_unknown_or_missing_session(nb: Opened) -> None:
    with pytest.raises(MarimoSessionError):
        await nb.marimo.client().cell_map()  # no session opened by this client
    stale = nb.marimo.client(stable_session_id="sess-nope")
    with pytest.raises(MarimoSessionError):
        await stale.execute("1", timeout=10)
    with pytest.raises(MarimoSessionError):
        await stale.notebook_errors()
