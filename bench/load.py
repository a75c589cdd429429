"""Team load: many people's notebooks opened at once, then read and edited by many clients,
against plain marimo measured in the same run.

A real `hexa serve` (child process, its default sandbox, the builtin model) and real marimo:
  plain      `--plain` notebooks opened one after another with plain `marimo edit`
             (spawn -> kernel-ready), and the PSS of one of them (server + kernel)
  open       USERS x PER_USER notebooks opened PARALLEL at a time through Hexa's API, for
             `--cycles` cycles (all closed in between: no process may be left)
  single     one client: GET state and a tiny cells/execute, one after another
  load       CLIENTS clients doing the same at once, over every notebook
  direct     the same two phases (one client, then CLIENTS) against USERS x PER_USER plain
             `marimo edit` notebooks reached straight, with the calls Hexa makes for each
             route (state: the cell map, errors and variables tool calls; execute: the one
             code-mode batch): plain marimo under the same load, the fair reference for
             what load alone costs on this machine
and writes the numbers (JSON) and a plot of latency over time per route next to them.
Loops are bounded in count; only loopback traffic.

Usage: python bench/load.py [--users 5 --per-user 5 --parallel 3 --clients 10
       --requests 20 --cycles 2 --plain 3 --out bench/out] [--spares] [--no-direct]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.support.server import HexaServer

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.marimo.models import PutCells
from hexa.marimo.wire import Wire
from open_latency import NOTEBOOK, PlainMarimo, plain_round, pss, tree

TINY = "bench_x = 1"


@dataclass
class Sample:
    route: str
    at: float  # seconds since the run started
    seconds: float
    status: int  # HTTP status; 0 when the request itself failed


@dataclass
class Run:
    started: float = field(default_factory=time.perf_counter)
    samples: list[Sample] = field(default_factory=list)

    async def timed(self, route: str, call: Any) -> Any:
        start = time.perf_counter()
        status = 0
        try:
            reply = await call
            status = reply.status_code
            if status >= 400:
                print(f"\n{route}: {status} {reply.text[:300]}", file=sys.stderr)
            return reply
        finally:
            self._add(route, start, status)

    async def called(self, route: str, call: Any) -> None:
        """`call` (a marimo client call, no HTTP reply of its own) timed as `route`; a
        failure is printed and counted as status 0."""
        start = time.perf_counter()
        status = 200
        try:
            await call
        except Exception as exc:
            status = 0
            print(f"\n{route}: {exc!r}", file=sys.stderr)
        finally:
            self._add(route, start, status)

    def _add(self, route: str, start: float, status: int) -> None:
        took = time.perf_counter() - start
        self.samples.append(Sample(route, start - self.started, took, status))

    def of(self, route: str) -> list[float]:
        return [s.seconds for s in self.samples if s.route == route]


class Progress:
    """One line on stderr: `label [#####.....] done/total`."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._draw()

    def step(self) -> None:
        self.done += 1
        self._draw()

    def _draw(self) -> None:
        filled = 30 * self.done // max(1, self.total)
        bar = "#" * filled + "." * (30 - filled)
        end = "\n" if self.done >= self.total else ""
        print(f"\r{self.label:<10} [{bar}] {self.done}/{self.total}", end=end, file=sys.stderr)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def plain_arm(tmp: Path, count: int) -> tuple[list[float], int]:
    """Plain marimo notebooks opened one after another; the PSS of the last one."""
    times: list[float] = []
    memory = [0]

    def measure(marimo: PlainMarimo) -> None:
        assert marimo.proc is not None
        memory[0] = pss(tree(marimo.proc.pid))

    bar = Progress("plain", count)
    async with httpx2.AsyncClient() as http:
        for i in range(count):
            times.append(await plain_round(tmp, http, i, on_ready=measure))
            bar.step()
    return times, memory[0]


async def direct_arm(
    run: Run, tmp: Path, count: int, parallel: int, clients: int, requests: int
) -> None:
    """Plain marimo notebooks, `parallel` started at a time, then one client and `clients`
    clients making Hexa's marimo calls of `state` and `execute` straight to them."""
    gate = asyncio.Semaphore(parallel)
    bar = Progress("direct up", count)
    async with contextlib.AsyncExitStack() as stack, make_http_client(120) as http:
        # The calls go over the Wire, as Hexa's do: the bench's own CPU is then alike in
        # both arms (an httpx2 client costs several times its CPU per call).
        wire = Wire()
        stack.push_async_callback(wire.aclose)
        servers: list[PlainMarimo] = []
        marimos: list[MarimoClient] = []

        async def up(i: int) -> None:
            async with gate:
                path = tmp / f"direct{i}.py"
                path.write_text(NOTEBOOK)  # untimed set-up
                marimo = PlainMarimo(path, tmp / "home-direct")
                servers.append(marimo)
                marimo.spawn()
                await marimo.healthy(http)
                sid = await marimo.session(stack, http=http)
                url = f"http://{marimo.base}"
                marimos.append(MarimoClient(url, marimo.token, wire, stable_session_id=sid))
                bar.step()

        def stop_all() -> None:
            for marimo in servers:
                marimo.stop()

        stack.callback(stop_all)
        await asyncio.gather(*(up(i) for i in range(count)))

        async def state(marimo: MarimoClient) -> None:
            await asyncio.gather(
                marimo.cell_map(preview_lines=3),
                marimo.notebook_errors(),
                marimo.tables_and_variables(),
            )

        for prefix, n in (("direct single", 1), ("direct load", clients)):
            bar = Progress(prefix, n * requests)
            picker = random.Random(7)
            plans = [[picker.choice(marimos) for _ in range(requests)] for _ in range(n)]

            async def worker(
                plan: list[MarimoClient], prefix: str = prefix, bar: Progress = bar
            ) -> None:
                for marimo in plan:
                    await run.called(f"{prefix} state", state(marimo))
                    batch = PutCells((("bench", TINY),))
                    await run.called(f"{prefix} execute", marimo.apply([batch]))
                    bar.step()

            await asyncio.gather(*(worker(plan) for plan in plans))


def marimo_pids(server: HexaServer) -> list[int]:
    """Every process below `hexa serve`: the notebooks' marimo, kernels and sandboxes."""
    assert server.proc is not None
    with contextlib.suppress(psutil.Error):
        return [p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)]
    return []


async def open_all(
    run: Run, server: HexaServer, tokens: dict[str, str], per_user: int, parallel: int
) -> list[tuple[str, str]]:
    gate = asyncio.Semaphore(parallel)
    opened: list[tuple[str, str]] = []
    names = [(user, f"load{user}n{k}") for user in tokens for k in range(per_user)]
    bar = Progress("open", len(names))

    async def one(http: httpx2.AsyncClient, user: str, nb: str) -> None:
        async with gate:
            body = {"notebook_id": nb, "notebook_path": f"{nb}.py"}
            reply = await run.timed("open", http.post("/api/notebooks/open", json=body))
            if reply.status_code == 200:
                opened.append((user, nb))
            else:
                print(f"\nopen {nb}: {reply.status_code} {reply.text[:200]}", file=sys.stderr)
            bar.step()

    async with contextlib.AsyncExitStack() as stack:
        clients = {
            user: await stack.enter_async_context(client(server, token))
            for user, token in tokens.items()
        }
        await asyncio.gather(*(one(clients[u], u, nb) for u, nb in names))
    return opened


def client(server: HexaServer, token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    )


async def reads_and_edits(
    run: Run,
    server: HexaServer,
    tokens: dict[str, str],
    opened: list[tuple[str, str]],
    clients: int,
    requests: int,
    prefix: str,
) -> None:
    """`clients` clients, each `requests` rounds of GET state then a tiny execute, on
    notebooks picked at random (seeded: every run asks the same)."""
    bar = Progress(prefix, clients * requests)
    picker = random.Random(7)
    plans = [[picker.choice(opened) for _ in range(requests)] for _ in range(clients)]

    async def worker(http: dict[str, httpx2.AsyncClient], plan: list[tuple[str, str]]) -> None:
        for user, nb in plan:
            await run.timed(f"{prefix} state", http[user].get(f"/api/notebooks/{nb}/state"))
            body = {"cell_ids": ["bench"], "codes": [TINY]}
            await run.timed(
                f"{prefix} execute",
                http[user].post(f"/api/notebooks/{nb}/cells/execute", json=body),
            )
            bar.step()

    # One client per user, made before the clock runs: making one costs the bench's own
    # loop tens of milliseconds (an SSL context), which would be charged to Hexa.
    async with contextlib.AsyncExitStack() as stack:
        http = {u: await stack.enter_async_context(client(server, t)) for u, t in tokens.items()}
        await asyncio.gather(*(worker(http, plan) for plan in plans))


async def close_all(
    server: HexaServer, tokens: dict[str, str], opened: list[tuple[str, str]]
) -> float:
    """Close every notebook; seconds until no process is left below `hexa serve`."""
    for user, nb in opened:
        async with client(server, tokens[user]) as http:
            await http.post(f"/api/notebooks/{nb}/close")
    start = time.perf_counter()
    for _ in range(300):  # at most 30 s
        if not marimo_pids(server):
            return time.perf_counter() - start
        await asyncio.sleep(0.1)
    raise RuntimeError(f"processes left after closing: {marimo_pids(server)}")


def plot(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for route in sorted({s.route for s in run.samples}):
        points = [s for s in run.samples if s.route == route]
        ax.scatter([p.at for p in points], [p.seconds * 1000 for p in points], s=8, label=route)
    ax.set_yscale("log")
    ax.set_xlabel("seconds into the run (when the request started)")
    ax.set_ylabel("latency (ms, log)")
    ax.set_title("Hexa under a team's load: latency over time per route")
    ax.legend(fontsize=8, markerscale=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  # untimed set-up
    root = Path(tempfile.mkdtemp(prefix="hexa-load-"))
    plain_times, plain_pss = await plain_arm(root, args.plain)
    total = args.users * args.per_user
    run = Run()
    if args.direct:
        await direct_arm(run, root, total, args.parallel, args.clients, args.requests)
    env = {
        "HEXA_MAX_NOTEBOOKS_PER_USER": str(args.per_user),
        # Room for each person's warm spare besides their notebooks.
        "HEXA_MAX_PROCESSES": str(total + args.users),
        "HEXA_IDLE_TIMEOUT": "3600",
    }
    env["HEXA_SERVER_PER_PERSON"] = "false" if args.spares else "true"
    server = HexaServer(data_dir=root / "data", env=env)
    (root / "data").mkdir()
    figures: dict[str, Any] = {}
    server.start()
    try:
        tokens = {"default": server.token}
        tokens |= {f"u{i}": server.add_user(f"u{i}") for i in range(1, args.users)}
        idle = pss([server.proc.pid]) if server.proc else 0
        for cycle in range(args.cycles):
            wall = time.perf_counter()
            opened = await open_all(run, server, tokens, args.per_user, args.parallel)
            figures.setdefault("open_wall_seconds", []).append(time.perf_counter() - wall)
            if len(opened) != total:
                raise RuntimeError(f"{total - len(opened)} notebooks failed to open")
            if cycle == 0:
                pids = marimo_pids(server)
                figures["pss_per_notebook_mib"] = pss(pids) / total / 2**20
                figures["hexa_serve_pss_mib"] = (
                    pss([server.proc.pid]) / 2**20 if server.proc else 0.0
                )
                first = opened[:1]
                await reads_and_edits(run, server, tokens, first, 1, args.requests, "single")
                await reads_and_edits(
                    run, server, tokens, opened, args.clients, args.requests, "load"
                )
            figures.setdefault("close_seconds", []).append(await close_all(server, tokens, opened))
        figures["hexa_serve_idle_pss_mib"] = idle / 2**20
        figures["hexa_serve_pss_after_mib"] = pss([server.proc.pid]) / 2**20 if server.proc else 0.0
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)  # data dirs, homes, plain notebooks
    opens = run.of("open")
    plain_p50 = statistics.median(plain_times)
    figures |= {
        "date": time.strftime("%Y-%m-%d"),
        "users": args.users,
        "per_user": args.per_user,
        "parallel": args.parallel,
        "clients": args.clients,
        "server_per_person": not args.spares,
        "plain_open_p50_s": plain_p50,
        "plain_pss_mib": plain_pss / 2**20,
        "open_p50_s": statistics.median(opens),
        "open_min_max_s": [min(opens), max(opens)],
        "open_p50_vs_plain_sequential": statistics.median(opens) / plain_p50,
        "errors": [
            {"route": s.route, "status": s.status} for s in run.samples if not 0 < s.status < 400
        ],
    }
    arms = ("", "direct_") if args.direct else ("",)
    for route in ("state", "execute"):
        figures[route] = {}
        for arm in arms:
            prefix = arm.replace("_", " ")
            for phase in ("single", "load"):
                times = run.of(f"{prefix}{phase} {route}")
                for q in (50, 99):
                    figures[route][f"{arm}{phase}_p{q}_ms"] = pct(times, q / 100) * 1000
    state, execute = figures["state"], figures["execute"]
    figures["state_p99_load_vs_single"] = state["load_p99_ms"] / state["single_p99_ms"]
    figures["execute_p50_load_vs_single"] = execute["load_p50_ms"] / execute["single_p50_ms"]
    if args.direct:
        # Hexa under load against plain marimo under the same load, and plain marimo's own
        # load against one client.
        figures["state_p99_load_vs_direct_load"] = (
            state["load_p99_ms"] / state["direct_load_p99_ms"]
        )
        figures["execute_p50_load_vs_direct_load"] = (
            execute["load_p50_ms"] / execute["direct_load_p50_ms"]
        )
        figures["direct_state_p99_load_vs_single"] = (
            state["direct_load_p99_ms"] / state["direct_single_p99_ms"]
        )
        figures["direct_execute_p50_load_vs_single"] = (
            execute["direct_load_p50_ms"] / execute["direct_single_p50_ms"]
        )
    figures["pss_per_notebook_vs_plain"] = (
        figures["pss_per_notebook_mib"] / figures["plain_pss_mib"]
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"load-{stamp}.json").write_text(json.dumps(figures, indent=1))
    plot(run, out / f"load-{stamp}.png")
    figures["files"] = [str(out / f"load-{stamp}.json"), str(out / f"load-{stamp}.png")]
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--plain", type=int, default=3)
    parser.add_argument(
        "--spares",
        action="store_true",
        help="run Hexa with a marimo per notebook and warm spares (HEXA_SERVER_PER_PERSON="
        "false) instead of the default marimo per person",
    )
    parser.add_argument(
        "--no-direct",
        dest="direct",
        action="store_false",
        help="skip the plain-marimo arm under the same load",
    )
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result, indent=1))
