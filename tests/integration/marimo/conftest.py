"""Real `marimo edit` processes for the marimo client's contract tests, reached over the
`Wire` as Hexa reaches them.

Each is spawned through the real `MarimoSpawner` into a temp dir (HOME/XDG there too) and
is always stopped at teardown, failed test or not. A marimo start costs seconds on a small
machine, so modules share one server where the state allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from hexa.marimo.client import MarimoClient
from hexa.marimo.models import Notification
from hexa.marimo.wire import Wire
from hexa.runtime.pidfile import PidFile
from hexa.runtime.process import MarimoSpawner, NotebookProcess, NotebookSpec

# The notebook of research §3: a dataframe, a print, an error and markdown.
NOTEBOOK = """import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import pandas as pd
    return mo, pd


@app.cell
def _(pd):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    df
    return (df,)


@app.cell
def _():
    print("hello from print")
    return


@app.cell
def _():
    1 / 0
    return


@app.cell
def _(mo):
    mo.md("# Title")
    return


if __name__ == "__main__":
    app.run()
"""
CELL_IDS = ("Hbol", "MJUe", "vblA", "bkHC", "lEQa")  # marimo's ids for the five cells


@dataclass
class Marimo:
    process: NotebookProcess
    path: Path
    http: Wire

    def client(self, stable_session_id: str | None = None) -> MarimoClient:
        return MarimoClient(
            self.process.url, self.process.token, self.http, stable_session_id=stable_session_id
        )


Starter = Callable[..., Awaitable[Marimo]]


@contextlib.asynccontextmanager
async def marimo_servers(root: Path) -> AsyncIterator[Starter]:
    """A starter of marimo servers under `root`; all of them are stopped on exit."""
    spawner = MarimoSpawner(
        python=Path(sys.executable),
        home_root=root / "home",
        logs_dir=root / "logs",
        pid_file=PidFile(root / "run"),
    )
    started: list[NotebookProcess] = []
    http = Wire()  # what Hexa reaches marimo with
    count = 0

    async def start(source: str = NOTEBOOK, name: str | None = None) -> Marimo:
        nonlocal count
        count += 1
        notebook_id = name or f"nb{count}"
        folder = root / "notebooks" / notebook_id
        folder.mkdir(parents=True)
        path = folder / "notebook.py"
        path.write_text(source)
        process = await spawner.spawn(NotebookSpec(notebook_id, 0, "tester", path))
        started.append(process)
        marimo = Marimo(process, path, http)
        client = marimo.client()
        async with asyncio.timeout(60):
            while not await client.health():
                if process.returncode() is not None:
                    raise RuntimeError(f"marimo exited:\n{process.log_tail()}")
                await asyncio.sleep(0.05)
        return marimo

    try:
        yield start
    finally:
        for process in started:
            await process.stop(5)
        await http.aclose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Starter]:
    async with marimo_servers(tmp_path_factory.mktemp("marimo")) as start:
        yield start


class Viewer:
    """A kiosk WebSocket collecting marimo's notifications in the background."""

    def __init__(self, client: MarimoClient) -> None:
        self.frames: list[Notification] = []
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._arrived = asyncio.Event()  # set on every frame, and when the stream ends

    async def _run(self) -> None:
        try:
            async with contextlib.aclosing(self._client.events()) as stream:
                async for frame in stream:
                    self.frames.append(frame)
                    self._arrived.set()
                    if frame["op"] == "kernel-ready":
                        self._ready.set()
        finally:
            self._arrived.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(20):
            await self._ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(
        self, predicate: Callable[[Notification], bool], *, after: int = 0, timeout: float = 20
    ) -> Notification:
        seen = after
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = max(seen, len(self.frames))
                if self._task is not None and self._task.done():
                    self._task.result()
                    raise AssertionError("viewer stream ended")
                self._arrived.clear()
                await self._arrived.wait()

    def transactions(self, after: int = 0) -> list[dict[str, object]]:
        return [
            f["data"]["transaction"]
            for f in self.frames[after:]
            if f["op"] == "notebook-document-transaction"
        ]


async def wait_file(path: Path, predicate: Callable[[str], bool], timeout: float = 10) -> str:
    """marimo saves code-mode changes after the transaction: poll the file."""
    async with asyncio.timeout(timeout):
        while True:
            text = await asyncio.to_thread(path.read_text)
            if predicate(text):
                return text
            await asyncio.sleep(0.05)
