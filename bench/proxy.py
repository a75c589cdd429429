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
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.marimo.models import RunCell
from hexa.runtime.ports import free_port

TOKEN = "bench-token"
NB = "bench"


def serve(data_dir: Path, port: int, info: Path) -> None:
    """Child mode: hexa serve in process, plus the upstream address written to `info`."""
    import uvicorn

    from hexa.app import create_app
    from hexa.config import Settings
    from hexa.users import Principal

    settings = Settings(data_dir=data_dir, port=port, token=TOKEN)  # type: ignore[arg-type]
    app = create_app(settings)

    async def run() -> None:
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        services = app.state.services
        running = await services.notebooks.open(Principal(1, "default"), NB, "bench.py")
        record = {
            "url": running.client.base_url,
            "token": running.token,
            "session": running.session_id,
        }
        await asyncio.to_thread(info.write_text, json.dumps(record))
        await task

    asyncio.run(run())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(
    hexa_url: str, upstream: str, token: str, session: str, n: int
) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        k: {"hexa": [], "direct": []} for k in ("asset", "api", "ws")
    }
    hexa_auth = {"Authorization": f"Bearer {TOKEN}"}
    direct_auth = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient() as hexa, make_http_client() as direct:
        page = (await hexa.get(f"{hexa_url}/nb/{NB}/", headers=hexa_auth)).text
        asset = re.findall(r'(?:src|href)="\./(assets/[^"]+\.js)"', page)[0]
        paths = {"asset": f"/nb/{NB}/{asset}", "api": f"/nb/{NB}/api/status"}
        origin = upstream.split(f"/nb/{NB}")[0]
        for _ in range(n):
            for kind, path in paths.items():
                for arm, client, base, auth in (
                    ("hexa", hexa, hexa_url, hexa_auth),
                    ("direct", direct, origin, direct_auth),
                ):
                    start = time.perf_counter()
                    reply = await client.get(base + path, headers=auth)
                    await reply.aread()
                    times[kind][arm].append(time.perf_counter() - start)
                    assert reply.status_code == 200, (arm, path, reply.status_code)

        marimo = MarimoClient(upstream, token, direct, stable_session_id=session)
        cell = await marimo.create_cell("bench_value = 1\nbench_value")
        ws_hexa = hexa_url.replace("http", "ws") + f"/nb/{NB}/ws?session_id=bh&kiosk=true"
        ws_direct = origin.replace("http", "ws") + f"/nb/{NB}/ws?session_id=bd&kiosk=true"
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
    parser.add_argument(
        "--serve", nargs=3, metavar=("DATA", "PORT", "INFO"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), Path(args.serve[2]))
        return
    with tempfile.TemporaryDirectory(prefix="hexa-proxy-bench-") as name:
        tmp = Path(name)
        port = free_port()
        info = tmp / "info.json"
        env = {**os.environ, "HOME": str(tmp / "home")}
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(tmp / "data"), str(port), str(info)],
            env=env,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not info.exists():
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("hexa serve did not come up")
                time.sleep(0.1)
            upstream = json.loads(info.read_text())
            times = asyncio.run(
                bench(
                    f"http://127.0.0.1:{port}",
                    upstream["url"],
                    upstream["token"],
                    upstream["session"],
                    args.requests,
                )
            )
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
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
