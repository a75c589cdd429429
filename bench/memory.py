"""Memory per notebook for one person: Hexa against plain marimo, and against the design
Hexa did not choose (one marimo server per person, a kernel per notebook), in one run.

For N notebooks opened one after another, each with its cells run and its session (the
editor's WebSocket) kept open, the PSS of every process is summed after each open:
  plain   N `marimo edit <file>` servers, as N people-less tabs would start them by hand
  shared  one `marimo edit <folder>` (directory mode) and N sessions in it: a kernel each
  hexa    a real `hexa serve` (its default sandbox) where one person opens N notebooks;
          their warm spare is counted, and each step waits until it is ready again
PSS, not RSS: a page shared by several processes is split among them, so it counts once in
all (the hexa row leaves out `hexa serve`, whose share of marimo's pages is reported apart).
Reported: the total after N, per notebook (total / N), and the cost of the second and later
notebooks ((total after N - total after 1) / (N - 1)), with the ratios against plain.
Only loopback traffic; every process is stopped at the end.

Usage: python bench/memory.py [--notebooks 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.support.server import HexaServer

from hexa.runtime.groups import descendants, kill_all
from hexa.runtime.ports import free_port
from open_latency import NOTEBOOK, env_for, pss, tree

MIB = 2**20


class Marimo:
    """A plain `marimo edit` of a file or a folder; sessions opened as the editor does."""

    def __init__(self, target: Path, home: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_urlsafe(12)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marimo",
                "edit",
                str(target),
                "--headless",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--token-password-file",
                "-",
                "--skip-update-check",
                "--no-skew-protection",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env_for(home),
            start_new_session=True,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(self.token.encode() + b"\n")
        self.proc.stdin.close()

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def healthy(self, http: httpx2.AsyncClient) -> None:
        for _ in range(1200):  # at most 60 s
            with contextlib.suppress(httpx2.TransportError):
                if (await http.get(f"http://{self.base}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError("marimo did not start")

    async def session(
        self, http: httpx2.AsyncClient, stack: contextlib.AsyncExitStack, file: str | None
    ) -> None:
        """Open a session (kept open on `stack`) and run its cells, as "run all" does."""
        sid = f"bench-{secrets.token_hex(4)}"
        query = f"session_id={sid}" + (f"&file={file}" if file else "")
        auth = {"Authorization": f"Bearer {self.token}"}
        ws = await stack.enter_async_context(
            websockets.connect(
                f"ws://{self.base}/ws?{query}", additional_headers=auth, max_size=None
            )
        )
        wanted = "kernel-ready"
        async with asyncio.timeout(60):
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("op") != wanted:
                    continue
                if wanted == "completed-run":
                    return
                await http.post(
                    f"http://{self.base}/api/kernel/instantiate",
                    json={"objectIds": [], "values": [], "autoRun": True},
                    headers={**auth, "Marimo-Session-Id": sid},
                )
                wanted = "completed-run"

    def stop(self) -> None:
        """The server's group, then whatever of its tree is left (a kernel is a session of
        its own), so no kernel outlives this arm into the next."""
        below = descendants(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        kill_all(below, 5)


async def plain_arm(root: Path, n: int) -> list[int]:
    folder = root / "plain"
    folder.mkdir()
    totals: list[int] = []
    servers: list[Marimo] = []
    async with httpx2.AsyncClient() as http, contextlib.AsyncExitStack() as stack:
        try:
            for i in range(n):
                (folder / f"nb{i}.py").write_text(NOTEBOOK)
                servers.append(Marimo(folder / f"nb{i}.py", root / "home"))
                await servers[-1].healthy(http)
                await servers[-1].session(http, stack, None)
                totals.append(pss([pid for s in servers for pid in tree(s.proc.pid)]))
        finally:
            await stack.aclose()
            for server in servers:
                server.stop()
    return totals


async def shared_arm(root: Path, n: int) -> list[int]:
    folder = root / "shared"
    folder.mkdir()
    for i in range(n):
        (folder / f"nb{i}.py").write_text(NOTEBOOK)
    totals: list[int] = []
    server = Marimo(folder, root / "home")
    async with httpx2.AsyncClient() as http, contextlib.AsyncExitStack() as stack:
        try:
            await server.healthy(http)
            for i in range(n):
                await server.session(http, stack, f"nb{i}.py")
                totals.append(pss(tree(server.proc.pid)))
        finally:
            await stack.aclose()
            server.stop()
    return totals


async def hexa_arm(root: Path, n: int) -> tuple[list[int], int]:
    """Totals below `hexa serve` after each open (notebooks + the waiting spare), and the
    PSS of `hexa serve` itself."""
    # Room for one more: no spare is made for a person at their own cap.
    env = {"HEXA_IDLE_TIMEOUT": "3600", "HEXA_MAX_NOTEBOOKS_PER_USER": str(n + 1)}
    server = HexaServer(data_dir=root / "hexa", env=env)
    (root / "hexa").mkdir()
    totals: list[int] = []
    server.start()
    try:
        assert server.proc is not None
        auth = {"Authorization": f"Bearer {server.token}"}
        async with httpx2.AsyncClient(base_url=server.url, headers=auth, timeout=120) as http:
            for i in range(n):
                mark = len(server.log_text())
                body = {"notebook_id": f"mem{i}", "notebook_path": f"mem{i}.py"}
                reply = await http.post("/api/notebooks/open", json=body)
                reply.raise_for_status()
                # Steady state: the spare used (or never made) is back, waiting.
                await asyncio.to_thread(
                    server.wait_for_log, r"a spare is ready for default", after=mark
                )
                totals.append(pss(tree(server.proc.pid)[1:]))
        serve = pss([server.proc.pid])
    finally:
        server.stop()
    return totals, serve


def summary(totals: list[int]) -> dict[str, float]:
    n = len(totals)
    return {
        "total_mib": totals[-1] / MIB,
        "per_notebook_mib": totals[-1] / n / MIB,
        "later_notebook_mib": (totals[-1] - totals[0]) / (n - 1) / MIB,
        "first_mib": totals[0] / MIB,
    }


async def main(n: int) -> dict[str, Any]:
    if n < 2:
        raise SystemExit("--notebooks must be at least 2")
    with tempfile.TemporaryDirectory(prefix="hexa-memory-") as tmp:
        root = Path(tmp)
        plain = summary(await plain_arm(root, n))
        shared = summary(await shared_arm(root, n))
        totals, serve = await hexa_arm(root, n)
        hexa = summary(totals)
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "notebooks": n,
        "plain": plain,
        "shared": shared,
        "hexa": hexa,
        "hexa_serve_mib": serve / MIB,
    }
    for arm in ("shared", "hexa"):
        figures[f"{arm}_later_vs_plain"] = (
            figures[arm]["later_notebook_mib"] / plain["per_notebook_mib"]
        )
        figures[f"{arm}_per_notebook_vs_plain"] = (
            figures[arm]["per_notebook_mib"] / plain["per_notebook_mib"]
        )
    print(f"{n} notebooks, one person; PSS in MiB (ratios against plain's per notebook)")
    print(f"{'':8} {'total':>8} {'per nb':>8} {'2nd+ nb':>8} {'2nd+/plain':>11}")
    for arm in ("plain", "shared", "hexa"):
        f = figures[arm]
        ratio = f["later_notebook_mib"] / plain["per_notebook_mib"]
        print(
            f"{arm:8} {f['total_mib']:8.1f} {f['per_notebook_mib']:8.1f}"
            f" {f['later_notebook_mib']:8.1f} {ratio:11.2f}"
        )
    print(f"hexa serve itself: {serve / MIB:.1f} MiB (not in the hexa row)")
    print(json.dumps(figures, indent=1))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=5)
    asyncio.run(main(parser.parse_args().notebooks))
