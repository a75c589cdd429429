"""Agent overhead: one tool call that adds and runs a cell, through Hexa and straight to marimo.

A `hexa serve` runs in a child process (this file with --serve) with the builtin model and
one open notebook. Interleaved, request by request:
  hexa    POST /api/chat {"message": "```python ...```"}: a whole agent turn (turn and chat
          rows, the undo snapshot, the add_cell tool call, its output read back, the audit
          entry, the reply), answered when the cell has run
  direct  the same code-mode request (create the cell and run it) sent straight to marimo
Prints the medians and the ratio hexa/direct.
Usage: python bench/agent.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.marimo.models import CreateCell, DeleteCell
from hexa.runtime.ports import free_port

TOKEN = "bench-token"
NB = "agentbench"


def serve(data_dir: Path, port: int, info: Path) -> None:
    """Child mode: hexa serve in process, plus the upstream address written to `info`."""
    import uvicorn

    from hexa.app import create_app
    from hexa.config import Settings
    from hexa.users import Principal

    settings = Settings(data_dir=data_dir, port=port, token=TOKEN, model="builtin")  # type: ignore[arg-type]
    app = create_app(settings)
    wired = any(getattr(r, "path", None) == "/api/chat" for r in app.routes)
    if not wired:  # before app.py includes the agent router
        from hexa.api import agent as agent_api

        app.include_router(agent_api.router)

    async def run() -> None:
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        services = app.state.services
        if getattr(services, "agent", None) is None:  # before the lifespan builds it
            from hexa.agent import build_agent_service

            services.agent = build_agent_service(
                settings=settings,
                sessions=services.notebooks._sessions,
                notebooks=services.notebooks,
            )
        running = await services.notebooks.open(Principal(1, "default"), NB, "agentbench.py")
        record = {
            "url": running.client.base_url,
            "token": running.token,
            "session": running.session_id,
        }
        await asyncio.to_thread(info.write_text, json.dumps(record))
        await task

    asyncio.run(run())


async def bench(
    hexa_url: str, upstream: str, token: str, session: str, n: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"hexa": [], "direct": []}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(timeout=60) as hexa, make_http_client(60) as direct:
        marimo = MarimoClient(upstream, token, direct, stable_session_id=session)

        async def via_hexa(i: int) -> None:
            code = f"via_hexa_{i} = {i} * 2\nvia_hexa_{i}"
            message = f"```python\n{code}\n```"
            reply = await hexa.post(
                f"{hexa_url}/api/chat", json={"notebook_id": NB, "message": message}, headers=auth
            )
            assert reply.status_code == 200, reply.text
            assert str(i * 2) in reply.json()["message"], reply.json()

        async def straight(i: int) -> None:
            await marimo.apply([CreateCell(f"direct_{i} = {i} * 2\ndirect_{i}")])

        arms = {"hexa": via_hexa, "direct": straight}
        for warm in range(3):  # first calls pay imports and connection set-up
            for arm in arms.values():
                await arm(1000 + warm)
        for i in range(n):
            order = ("hexa", "direct") if i % 2 == 0 else ("direct", "hexa")
            for name in order:
                start = time.perf_counter()
                await arms[name](i)
                times[name].append(time.perf_counter() - start)
            if i % 10 == 9:  # keep the notebook small: both arms then see the same size
                ids = [c["cell_id"] for c in (await marimo.cell_map(1))["cells"]]
                await marimo.apply([DeleteCell(c) for c in ids[1:]])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument(
        "--serve", nargs=3, metavar=("DATA", "PORT", "INFO"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), Path(args.serve[2]))
        return
    with tempfile.TemporaryDirectory(prefix="hexa-agent-bench-") as name:
        tmp = Path(name)
        port = free_port()
        info = tmp / "info.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEXA_")}
        env["HOME"] = str(tmp / "home")
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(tmp / "data"), str(port), str(info)],
            env=env,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
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
    print(f"{'arm':7} {'n':>4} {'p50 ms':>8} {'min ms':>8}")
    for arm, values in times.items():
        p50, low = statistics.median(values) * 1000, min(values) * 1000
        print(f"{arm:7} {len(values):4d} {p50:8.1f} {low:8.1f}")
    ratio = statistics.median(times["hexa"]) / statistics.median(times["direct"])
    print(f"add-and-run cell, p50 ratio hexa/direct: {ratio:.2f}")


if __name__ == "__main__":
    main()
