"""A `hexa serve` in a child process with one open notebook, for the benchmarks that compare
a path through Hexa with the same marimo reached directly.

The child is the benchmark script itself run with `--serve DATA PORT INFO NOTEBOOK`: it runs
Hexa in process, opens the notebook, and writes the notebook's upstream address (which Hexa
never shows its clients) to INFO, so the parent can also reach that marimo directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hexa.proxy.upstream import Upstream as ProxyUpstream

TOKEN = "bench-token"


@dataclass(frozen=True)
class Upstream:
    """The benchmarked notebook as marimo serves it, behind Hexa."""

    url: str  # http://127.0.0.1:PORT/nb/<id>
    token: str
    session: str  # stable session id, for code mode
    file_key: str | None  # the notebook's `?file=` when its marimo serves a folder

    def proxied(self, notebook_id: str) -> ProxyUpstream:
        """The same marimo as Hexa's proxy maps `/nb/<id>/…` onto it (`?file=` included)."""
        parts = urlsplit(self.url)
        return ProxyUpstream(
            notebook_id, f"{parts.scheme}://{parts.netloc}", parts.path, self.file_key
        )


def serve(data_dir: Path, port: int, info: Path, notebook_id: str) -> None:
    """Child mode: Hexa in this process, the notebook opened, its address written to `info`."""
    import uvicorn

    from hexa.app import create_app
    from hexa.config import Settings
    from hexa.marimo.client import MarimoClient
    from hexa.users import Principal

    settings = Settings(data_dir=data_dir, port=port, token=TOKEN, model="builtin")
    app = create_app(settings)

    async def run() -> None:
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        notebooks = app.state.services.notebooks
        running = await notebooks.open(Principal(1, "default"), notebook_id, f"{notebook_id}.py")
        record = {
            "url": running.client.base_url,
            "token": running.token,
            "session": running.session_id,
            "file_key": running.client.file_key
            if isinstance(running.client, MarimoClient)
            else None,
        }
        # Written whole, then renamed: the parent never reads a half-written file.
        part = info.with_suffix(".part")
        await asyncio.to_thread(part.write_text, json.dumps(record))
        part.replace(info)
        await task

    asyncio.run(run())


def serve_from_argv(argv: list[str]) -> bool:
    """Run child mode when the script was called with `--serve`; True if it was."""
    if len(argv) == 6 and argv[1] == "--serve":
        serve(Path(argv[2]), int(argv[3]), Path(argv[4]), argv[5])
        return True
    return False


@contextlib.contextmanager
def hexa_server(
    script: str, notebook_id: str, timeout: float = 180
) -> Iterator[tuple[str, Upstream, int]]:
    """Start `script --serve ...` and yield Hexa's URL, the notebook's upstream and the
    serving process's pid; always stops the child (SIGTERM: Hexa stops its marimo), killing
    its group if it hangs."""
    from hexa.runtime.ports import free_port

    with tempfile.TemporaryDirectory(prefix=f"hexa-{notebook_id}-") as name:
        tmp = Path(name)
        port = free_port()
        info = tmp / "info.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEXA_")}
        env["HOME"] = str(tmp / "home")
        child = subprocess.Popen(
            [
                sys.executable,
                script,
                "--serve",
                str(tmp / "data"),
                str(port),
                str(info),
                notebook_id,
            ],
            env=env,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not info.exists():
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("hexa serve did not come up")
                time.sleep(0.1)
            record = json.loads(info.read_text())
            yield f"http://127.0.0.1:{port}", Upstream(**record), child.pid
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(5)
