"""Proxy latency: the same marimo through Hexa and reached directly, interleaved.

A `hexa serve` runs in a child process (this file with --serve), opens one notebook and
reports that notebook's upstream address so the bench can also reach it directly.
Measured, request by request alternating between the two paths:
  asset   GET of one of marimo's JS assets
  api     GET {base}/api/status (marimo's API, authenticated)
  ws      a cell-op frame: both a viewer socket through Hexa and one straight to marimo
          watch the same run; the time from sending the run to each frame's arrival
Prints p50 and p99 per path and the p50 ratio Hexa/direct.
Usage: python bench/proxy.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

import httpx2
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import TOKEN, Upstream, hexa_server, serve_from_argv
from hexa.marimo.client import MarimoClient, make_http_client
from hexa.marimo.models import RunCell

NB = "bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(hexa_url: str, upstream: Upstream, n: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        k: {"hexa": [], "direct": []} for k in ("asset", "api", "ws")
    }
    hexa_auth = {"Authorization": f"Bearer {TOKEN}"}
    direct_auth = {"Authorization": f"Bearer {upstream.token}"}
    async with httpx2.AsyncClient() as hexa, make_http_client() as direct:
        page = (await hexa.get(f"{hexa_url}/nb/{NB}/", headers=hexa_auth)).text
        asset = re.findall(r'(?:src|href)="\./(assets/[^"]+\.js)"', page)[0]
        marimo_at = upstream.proxied(NB)  # where the proxy sends each path
        urls = {
            kind: (f"{hexa_url}{path}", marimo_at.url(path))
            for kind, path in (("asset", f"/nb/{NB}/{asset}"), ("api", f"/nb/{NB}/api/status"))
        }
        for _ in range(n):
            for kind, (via_hexa, straight) in urls.items():
                for arm, client, url, auth in (
                    ("hexa", hexa, via_hexa, hexa_auth),
                    ("direct", direct, straight, direct_auth),
                ):
                    start = time.perf_counter()
                    reply = await client.get(url, headers=auth)
                    await reply.aread()
                    times[kind][arm].append(time.perf_counter() - start)
                    assert reply.status_code == 200, (arm, url, reply.status_code)

        marimo = MarimoClient(
            upstream.url,
            upstream.token,
            direct,
            stable_session_id=upstream.session,
            file_key=upstream.file_key,
        )
        cell = await marimo.create_cell("bench_value = 1\nbench_value")
        ws_hexa = hexa_url.replace("http", "ws") + f"/nb/{NB}/ws?session_id=bh&kiosk=true"
        ws_direct = marimo_at.url(f"/nb/{NB}/ws", "session_id=bd&kiosk=true", websocket=True)
        async with (
            websockets.connect(ws_hexa, additional_headers=hexa_auth, max_size=None) as via,
            websockets.connect(ws_direct, additional_headers=direct_auth, max_size=None) as to,
        ):
            await asyncio.sleep(1.0)  # let the replay of earlier frames drain

            async def first_cell_op(ws: websockets.ClientConnection, start: float) -> float:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    data = frame.get("data", {})
                    if (
                        frame.get("op") == "cell-op"
                        and data.get("cell_id") == cell
                        and data.get("status") == "running"
                    ):
                        return time.perf_counter() - start

            for _ in range(max(20, n // 5)):
                for ws in (via, to):  # drop leftovers of the previous round
                    while True:
                        try:
                            await asyncio.wait_for(ws.recv(), 0.05)
                        except TimeoutError:
                            break
                start = time.perf_counter()
                run = asyncio.create_task(marimo.apply([RunCell(cell)]))
                t_hexa, t_direct = await asyncio.gather(
                    first_cell_op(via, start), first_cell_op(to, start)
                )
                await run
                times["ws"]["hexa"].append(t_hexa)
                times["ws"]["direct"].append(t_direct)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    if serve_from_argv(sys.argv):
        return
    args = parser.parse_args()
    with hexa_server(__file__, NB) as (hexa_url, upstream, _):
        times = asyncio.run(bench(hexa_url, upstream, args.requests))
    print(f"{'path':6} {'arm':7} {'n':>4} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, arms in times.items():
        for arm, values in arms.items():
            print(
                f"{kind:6} {arm:7} {len(values):4d} {statistics.median(values) * 1000:8.2f} "
                f"{percentile(values, 0.99) * 1000:8.2f}"
            )
        ratio = statistics.median(arms["hexa"]) / statistics.median(arms["direct"])
        print(f"{kind:6} p50 ratio hexa/direct: {ratio:.2f}")


if __name__ == "__main__":
    main()
