"""Warm spares with real marimo: a person's next notebook opens in their waiting spare.

Real parts only: MarimoSpawner, MarimoConnector, Spares, the supervisor and marimo 0.25.2,
each test as a plain process and inside the real bubblewrap sandbox where bwrap works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.runtime.process import NotebookSpec
from hexa.runtime.spares import Spares
from hexa.runtime.supervisor import ProcessState, Supervisor
from tests.integration.runtime.test_supervisor_real import (
    LIMITS,
    NOTEBOOK,
    SANDBOXES,
    group_members,
    marimo_server,
    real_parts,
    wait_group_gone,
)
from tests.support.states import wait_state

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Setup:
    def __init__(self, supervisor: Supervisor, spares: Spares, folder: Path, run: Path) -> None:
        self.sup, self.spares, self.folder, self.run = supervisor, spares, folder, run

    def spec(self, notebook_id: str) -> NotebookSpec:
        path = self.folder / f"{notebook_id}.py"
        if not path.exists():
            path.write_text(NOTEBOOK.replace("6 * 7", f"6 * 7 + {len(notebook_id)}"))
        return NotebookSpec(notebook_id, 1, "alice", path, self.folder)

    async def spare_ready(self) -> None:
        while not self.spares.ready(1):
            await self.spares.changed.wait()


@pytest_asyncio.fixture(params=SANDBOXES)
async def setup(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    folder = tmp_path / "nb"
    folder.mkdir()
    async with real_parts(tmp_path, request.param) as (spawner, connector):
        spares = Spares(spawner, connector, start_timeout=60, stop_timeout=5)
        supervisor = Supervisor(spawner=spawner, connector=connector, limits=LIMITS, spares=spares)
        try:
            yield Setup(supervisor, spares, folder, tmp_path / "run")
        finally:
            await supervisor.shutdown()


async def value_of(sup: Supervisor, notebook_id: str) -> object:
    nb = sup.get(notebook_id)
    assert nb is not None
    assert nb.process is not None
    async with make_http_client() as http:
        client = MarimoClient(
            nb.process.url,
            nb.process.token,
            http,
            stable_session_id=nb.session_id,
            file_key=nb.process.file_key,
        )
        values = await client.tables_and_variables(["value"])
    return values["variables"]["value"]


async def test_the_next_notebook_runs_in_the_spare_and_stops_cleanly(setup: Setup) -> None:
    first = await setup.sup.ensure_running(setup.spec("one"))
    assert first.process is not None
    assert first.process.file_key is None, "the first notebook starts cold"
    await setup.spare_ready()
    second = await setup.sup.ensure_running(setup.spec("second"))
    process = second.process
    assert process is not None
    assert process.file_key == "second.py"
    assert process.base_path == ""
    assert process.pid is not None
    # The spare's marimo serves the folder; the session it opened runs this notebook.
    served = marimo_server(process.pid).cmdline()[4]
    assert served in (str(setup.folder), "/home/alice/notebooks"), served
    assert "48" in str(await value_of(setup.sup, "second")), "its cells ran on open"
    assert "45" in str(await value_of(setup.sup, "one"))
    await setup.spare_ready()  # refilled for the one after
    assert setup.spares.count() == 1
    await setup.sup.stop("second")
    assert group_members(process.pid) == []
    assert setup.spares.ready(1), "one is still open"
    await setup.sup.stop("one")
    assert setup.spares.count() == 0
    assert not list(setup.run.glob("*.pid")), "no marimo, spare or not, is left"


async def test_a_killed_spare_born_notebook_is_recovered(setup: Setup) -> None:
    await setup.sup.ensure_running(setup.spec("one"))
    await setup.spare_ready()
    nb = await setup.sup.ensure_running(setup.spec("second"))
    assert nb.process is not None
    assert nb.process.pid is not None
    server_pid = nb.process.pid
    marimo_server(server_pid).kill()
    await wait_state(setup.sup, "second", ProcessState.STARTING, 10)
    await wait_state(setup.sup, "second", ProcessState.RUNNING, 60)
    assert "48" in str(await value_of(setup.sup, "second"))
    await wait_group_gone(server_pid, 10)
