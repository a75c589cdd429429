"""Agent overhead: one tool call that adds and runs a cell, through Hexa and straight to marimo.

A `hexa serve` runs in a child process (this file with --serve) with the builtin model and
one open notebook. Interleaved, request by request:
  hexa    POST /api/chat {"message": "```python ...```"}: a whole agent turn (turn and chat
          rows, the undo snapshot, the add_cell tool call, its output read back, the audit
          entry, the reply), answered when the cell has run
  execute POST /api/notebooks/<id>/cells/execute of a new cell: the API's code-mode path
          (plans from marimo's document, one code-mode batch, the audit entry)
  direct  the same code-mode request (create the cell and run it) sent straight to marimo
Prints the medians, the ratios hexa/direct and execute/direct, and `hexa serve`'s own CPU
per request of each arm (its marimo is another process, not counted). Then two parts of a
turn measured alone in this process (`turn_parts`): pydantic-ai's run and the turn's two
store transactions, against what Hexa may add to the direct call at the goal of 1.2x.
Usage: python bench/agent.py [--requests N] [--no-parts]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path

import httpx2
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import turn_parts
from harness import TOKEN, hexa_server, serve_from_argv
from hexa.marimo.client import MarimoClient
from hexa.marimo.models import CreateCell, DeleteCell
from hexa.marimo.wire import Wire

NB = "agentbench"


def cpu_seconds(process: psutil.Process) -> float:
    used = process.cpu_times()
    return float(used.user + used.system)


async def bench(
    hexa_url: str, upstream: str, token: str, session: str, n: int, serving: psutil.Process
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Latency of each call per arm, and the serving process's CPU seconds per arm."""
    times: dict[str, list[float]] = {"hexa": [], "execute": [], "direct": []}
    cpu = dict.fromkeys(times, 0.0)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    direct = Wire()  # as Hexa reaches marimo
    async with httpx2.AsyncClient(timeout=60) as hexa, contextlib.aclosing(direct):
        marimo = MarimoClient(upstream, token, direct, stable_session_id=session)

        async def via_hexa(i: int) -> None:
            code = f"via_hexa_{i} = {i} * 2\nvia_hexa_{i}"
            message = f"```python\n{code}\n```"
            reply = await hexa.post(
                f"{hexa_url}/api/chat", json={"notebook_id": NB, "message": message}, headers=auth
            )
            assert reply.status_code == 200, reply.text
            assert str(i * 2) in reply.json()["message"], reply.json()

        async def via_execute(i: int) -> None:
            body = {"cell_ids": [f"ex{i}"], "codes": [f"via_execute_{i} = {i} * 2"]}
            reply = await hexa.post(
                f"{hexa_url}/api/notebooks/{NB}/cells/execute", json=body, headers=auth
            )
            assert reply.status_code == 200, reply.text

        async def straight(i: int) -> None:
            await marimo.apply([CreateCell(f"direct_{i} = {i} * 2\ndirect_{i}")])

        arms = {"hexa": via_hexa, "execute": via_execute, "direct": straight}
        for warm in range(3):  # first calls pay imports and connection set-up
            for arm in arms.values():
                await arm(1000 + warm)
        for i in range(n):
            names = list(arms)
            for name in names[i % 3 :] + names[: i % 3]:  # each arm first in turn
                used, start = cpu_seconds(serving), time.perf_counter()
                await arms[name](i)
                times[name].append(time.perf_counter() - start)
                # Read after the answer: what the call left for later (events, the relay)
                # lands in the next arm's count, and the arms take turns going first.
                cpu[name] += cpu_seconds(serving) - used
            if i % 10 == 9:  # keep the notebook small: both arms then see the same size
                ids = [c["cell_id"] for c in (await marimo.cell_map(1))["cells"]]
                await marimo.apply([DeleteCell(c) for c in ids[1:]])
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--no-parts", action="store_true", help="skip the parts measured alone")
    if serve_from_argv(sys.argv):
        return
    args = parser.parse_args()
    with hexa_server(__file__, NB) as (hexa_url, upstream, pid):
        times, cpu = asyncio.run(
            bench(
                hexa_url,
                upstream.url,
                upstream.token,
                upstream.session,
                args.requests,
                psutil.Process(pid),
            )
        )
    print(f"{'arm':7} {'n':>4} {'p50 ms':>8} {'min ms':>8} {'hexa CPU ms':>12}")
    for arm, values in times.items():
        p50, low = statistics.median(values) * 1000, min(values) * 1000
        used = cpu[arm] / len(values) * 1000
        print(f"{arm:7} {len(values):4d} {p50:8.1f} {low:8.1f} {used:12.1f}")
    direct = statistics.median(times["direct"])
    ratio = statistics.median(times["hexa"]) / direct
    print(f"add-and-run cell, p50 ratio hexa/direct: {ratio:.2f}")
    ratio = statistics.median(times["execute"]) / direct
    print(f"cells/execute of a new cell, p50 ratio execute/direct: {ratio:.2f}")
    if args.no_parts:
        return
    parts = turn_parts.measure(200)
    budget = 0.2 * direct * 1000
    print(f"Hexa's part of a turn at the goal of 1.2x this direct call: {budget:.1f} ms")
    print(f"  pydantic-ai's run alone (no marimo, no store): {parts['framework']:.1f} ms CPU")
    print(f"  the turn's two store transactions alone:       {parts['store']:.1f} ms CPU")


if __name__ == "__main__":
    main()
