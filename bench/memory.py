"""Memory per notebook for one person: Hexa's two layouts against plain marimo's, in one run.

For N notebooks opened one after another, each with its cells run and its session (the
editor's WebSocket) kept open, the PSS of every process is summed after each open:
  plain   N `marimo edit <file>` servers, as N people-less tabs would start them by hand
  shared  one `marimo edit <folder>` (directory mode) and N sessions in it: a kernel each
  hexa    a real `hexa serve` (its default sandbox) with HEXA_SERVER_PER_PERSON=false,
          where one person opens N notebooks: a marimo each, their warm spare counted,
          each step waiting until it is ready again
  hexa-shared  the same by default (one marimo per person): the notebooks are sessions
          in one marimo of the person's (no spare)
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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.support.server import HexaServer

from open_latency import NOTEBOOK, PlainMarimo, pss, tree

MIB = 2**20


def pid_of(marimo: PlainMarimo) -> int:
    assert marimo.proc is not None
    return marimo.proc.pid


async def plain_arm(root: Path, n: int) -> list[int]:
    folder = root / "plain"
    folder.mkdir()
    totals: list[int] = []
    servers: list[PlainMarimo] = []
    async with httpx2.AsyncClient() as http, contextlib.AsyncExitStack() as stack:
        try:
            for i in range(n):
                (folder / f"nb{i}.py").write_text(NOTEBOOK)
                servers.append(PlainMarimo(folder / f"nb{i}.py", root / "home"))
                servers[-1].spawn()
                await servers[-1].healthy(http)
                await servers[-1].session(stack, http=http)
                totals.append(pss([pid for s in servers for pid in tree(pid_of(s))]))
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
    server = PlainMarimo(folder, root / "home")
    server.spawn()
    async with httpx2.AsyncClient() as http, contextlib.AsyncExitStack() as stack:
        try:
            await server.healthy(http)
            for i in range(n):
                await server.session(stack, file=f"nb{i}.py", http=http)
                totals.append(pss(tree(pid_of(server))))
        finally:
            await stack.aclose()
            server.stop()
    return totals


async def hexa_arm(root: Path, n: int, *, shared: bool = False) -> tuple[list[int], int]:
    """Totals below `hexa serve` after each open (notebooks, and the waiting spare unless
    `shared`), and the PSS of `hexa serve` itself."""
    # Room for one more: no spare is made for a person at their own cap.
    env = {"HEXA_IDLE_TIMEOUT": "3600", "HEXA_MAX_NOTEBOOKS_PER_USER": str(n + 1)}
    env["HEXA_SERVER_PER_PERSON"] = "true" if shared else "false"
    data = root / ("hexa-shared" if shared else "hexa")
    server = HexaServer(data_dir=data, env=env)
    data.mkdir()
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
                if not shared:
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
        totals, serve_shared = await hexa_arm(root, n, shared=True)
        hexa_shared = summary(totals)
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "notebooks": n,
        "plain": plain,
        "shared": shared,
        "hexa": hexa,
        "hexa-shared": hexa_shared,
        "hexa_serve_mib": serve / MIB,
        "hexa_serve_shared_mib": serve_shared / MIB,
    }
    for arm in ("shared", "hexa", "hexa-shared"):
        figures[f"{arm}_later_vs_plain"] = (
            figures[arm]["later_notebook_mib"] / plain["per_notebook_mib"]
        )
        figures[f"{arm}_per_notebook_vs_plain"] = (
            figures[arm]["per_notebook_mib"] / plain["per_notebook_mib"]
        )
    print(f"{n} notebooks, one person; PSS in MiB (ratios against plain's per notebook)")
    print(f"{'':12} {'total':>8} {'per nb':>8} {'2nd+ nb':>8} {'2nd+/plain':>11}")
    for arm in ("plain", "shared", "hexa", "hexa-shared"):
        f = figures[arm]
        ratio = f["later_notebook_mib"] / plain["per_notebook_mib"]
        print(
            f"{arm:12} {f['total_mib']:8.1f} {f['per_notebook_mib']:8.1f}"
            f" {f['later_notebook_mib']:8.1f} {ratio:11.2f}"
        )
    print(
        f"hexa serve itself: {serve / MIB:.1f} / {serve_shared / MIB:.1f} MiB"
        " (not in the hexa rows)"
    )
    print(json.dumps(figures, indent=1))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=5)
    asyncio.run(main(parser.parse_args().notebooks))
