"""Open latency and memory: Hexa's supervisor against plain `marimo edit`, in one run.

Arms, interleaved round by round so machine noise hits them alike:
  plain   spawn `marimo edit` + poll /health + WebSocket to `kernel-ready`
  hexa    Supervisor.ensure_running: the same spawn + health + Hexa's session, which also
          runs the notebook's cells the way the editor does on open (no sandbox)
  bwrap   the same, inside Hexa's bubblewrap sandbox with its cgroup limits (a uid of its
          own when run as root): what `HEXA_SANDBOX=auto` gives where bwrap works
  warm    the best a pool of pre-started servers could do: the server is already healthy
          before the clock starts; only the session (kernel) is opened
  next    Hexa opening a person's next notebook: the same as hexa, but their warm spare
          (hexa.runtime.spares, refilled after each open) is claimed; `next, bwrap` the
          same inside the sandbox
  shared  Hexa opening a person's next notebook as it does by default (one marimo per
          person): a session in the marimo their first notebook runs in
          (hexa.runtime.shared); `shared, bwrap` the same inside the sandbox

Prints medians, ratios against plain, RSS per open notebook (server + kernel, the process tree) and
the RSS of an idle `hexa serve`. Usage: python bench/open_latency.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import psutil
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from hexa.marimo.client import make_http_client
from hexa.runtime.connector import MarimoConnector
from hexa.runtime.groups import descendants, kill_all
from hexa.runtime.pidfile import PidFile
from hexa.runtime.ports import free_port
from hexa.runtime.process import MarimoSpawner, NotebookSpec, Spawner
from hexa.runtime.shared import SharedServers
from hexa.runtime.spares import Spares
from hexa.runtime.supervisor import Limits, Supervisor
from hexa.sandbox import ResourceLimits, Sandbox, build_sandbox, bwrap_works

NOTEBOOK = """import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo
    x = 41 + 1
    return mo, x


@app.cell
def _(mo, x):
    mo.md(f"x is {x}")
    return


if __name__ == "__main__":
    app.run()
"""


def env_for(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".state"),
    }


class PlainMarimo:
    """marimo exactly as a person would start it by hand (same flags as Hexa's), of one
    notebook or (directory mode) of a folder."""

    def __init__(self, path: Path, home: Path) -> None:
        self.path, self.home = path, home
        self.port = free_port()
        self.token = secrets.token_urlsafe(16)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}/nb/plain"

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marimo",
                "edit",
                str(self.path),
                "--headless",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--base-url",
                "/nb/plain",
                "--token-password-file",
                "-",
                "--skip-update-check",
                "--no-skew-protection",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env_for(self.home),
            start_new_session=True,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(self.token.encode() + b"\n")
        self.proc.stdin.close()

    async def healthy(self, http: httpx2.AsyncClient) -> None:
        for _ in range(1200):  # at most 60 s
            with contextlib.suppress(httpx2.TransportError):
                if (await http.get(f"http://{self.base}/health", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError("marimo did not start")

    async def session(
        self,
        stack: contextlib.AsyncExitStack,
        *,
        file: str | None = None,
        http: httpx2.AsyncClient | None = None,
    ) -> str:
        """Open a session (its WebSocket kept open on `stack`) until `kernel-ready`; given
        `http`, also until every cell ran, as a person's click on "run all" (what Hexa does
        on open). `file` picks the notebook of a folder. Returns the session's stable id (what
        code mode takes)."""
        sid = f"bench-{secrets.token_hex(4)}"
        query = f"session_id={sid}" + (f"&file={file}" if file else "")
        auth = {"Authorization": f"Bearer {self.token}"}
        ws = await stack.enter_async_context(
            websockets.connect(
                f"ws://{self.base}/ws?{query}", additional_headers=auth, max_size=None
            )
        )
        wanted, stable = "kernel-ready", ""
        async with asyncio.timeout(60):
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("op") != wanted:
                    continue
                if wanted == "kernel-ready":
                    stable = str(frame["data"]["stable_session_id"])
                if wanted == "completed-run" or http is None:
                    return stable
                await http.post(
                    f"http://{self.base}/api/kernel/instantiate",
                    json={"objectIds": [], "values": [], "autoRun": True},
                    headers={**auth, "Marimo-Session-Id": sid},
                )
                wanted = "completed-run"

    async def kernel_ready(
        self, *, run: bool = False, then: Callable[[], None] | None = None
    ) -> None:
        """A session until `kernel-ready` (with `run`, until its cells ran, for a
        like-for-like memory figure); `then` runs while it is still open."""
        async with contextlib.AsyncExitStack() as stack:
            # A client costs tens of milliseconds to make: only when the cells are run.
            http = await stack.enter_async_context(httpx2.AsyncClient()) if run else None
            await self.session(stack, http=http)
            if then is not None:
                then()

    def stop(self) -> None:
        """The server's group, then whatever of its tree is left (a kernel is a session of
        its own), so no kernel outlives this run into the next."""
        if self.proc is None:
            return
        below = descendants(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        kill_all(below, 5)


def pss(pids: list[int]) -> int:
    """Proportional set size of processes: shared pages counted once across them all."""
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_full_info().pss
    return total


def tree(pid: int) -> list[int]:
    """A process and everything below it. Not its process group: marimo starts each kernel
    in a group of its own, so a group misses the kernel."""
    return [pid, *(p.pid for p in descendants(pid))] if psutil.pid_exists(pid) else []


def tree_pss(pid: int) -> int:
    return pss(tree(pid))


def tree_rss(pid: int) -> int:
    total = 0
    for member in tree(pid):
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(member).memory_info().rss
    return total


async def plain_round(
    tmp: Path,
    http: httpx2.AsyncClient,
    i: int,
    on_ready: Callable[[PlainMarimo], None] | None = None,
) -> float:
    """Seconds from spawn to kernel-ready of plain marimo; `on_ready` sees it running,
    untimed, before it is stopped (its cells run first, as Hexa's are)."""
    path = tmp / f"plain{i}.py"
    path.write_text(NOTEBOOK)
    marimo = PlainMarimo(path, tmp / "home-plain")
    start = time.perf_counter()
    marimo.spawn()
    try:
        await marimo.healthy(http)
        await marimo.kernel_ready()
        took = time.perf_counter() - start
        if on_ready is not None:
            await marimo.kernel_ready(run=True, then=lambda: on_ready(marimo))
        return took
    finally:
        marimo.stop()


async def warm_round(tmp: Path, http: httpx2.AsyncClient, i: int) -> float:
    path = tmp / f"warm{i}.py"
    path.write_text(NOTEBOOK)
    marimo = PlainMarimo(path, tmp / "home-warm")
    marimo.spawn()
    try:
        await marimo.healthy(http)
        start = time.perf_counter()  # a pool would have done everything before this
        await marimo.kernel_ready()
        return time.perf_counter() - start
    finally:
        marimo.stop()


async def hexa_round(sup: Supervisor, folder: Path, i: int) -> tuple[float, int]:
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  # untimed set-up
    path = folder / f"hexa{i}.py"
    path.write_text(NOTEBOOK)
    start = time.perf_counter()
    nb = await sup.ensure_running(NotebookSpec(f"bench{i}", 1, "bench", path, folder))
    elapsed = time.perf_counter() - start
    assert nb.process is not None
    assert nb.process.pid is not None
    rss = tree_rss(nb.process.pid)
    await sup.stop(f"bench{i}")
    return elapsed, rss


async def next_round(
    sup: Supervisor, spares: Spares, folder: Path, i: int, memory: list[int] | None = None
) -> float:
    """Seconds to open a person's next notebook once their spare waits (their first
    notebook, `first`, stays open across rounds); the waiting spare's PSS goes on
    `memory`."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  # untimed set-up
    if sup.get("first") is None:
        (folder / "first.py").write_text(NOTEBOOK)
        await sup.ensure_running(NotebookSpec("first", 1, "bench", folder / "first.py", folder))
    async with asyncio.timeout(60):
        while not spares.ready(1):
            await spares.changed.wait()
    waiting = spares.peek(1)
    if memory is not None and waiting is not None and waiting.pid is not None:
        memory.append(tree_pss(waiting.pid))
    path = folder / f"next{i}.py"
    path.write_text(NOTEBOOK)
    start = time.perf_counter()
    nb = await sup.ensure_running(NotebookSpec(f"next{i}", 1, "bench", path, folder))
    elapsed = time.perf_counter() - start
    assert nb.process is not None
    assert nb.process.file_key == path.name, "the spare served it"
    await sup.stop(f"next{i}")
    return elapsed


async def shared_round(sup: Supervisor, folder: Path, i: int) -> float:
    """Seconds to open a person's next notebook as a session in their marimo (their first
    notebook, `first`, keeps it running across rounds)."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  # untimed set-up
    if sup.get("first") is None:
        (folder / "first.py").write_text(NOTEBOOK)
        await sup.ensure_running(NotebookSpec("first", 1, "bench", folder / "first.py", folder))
    path = folder / f"shared{i}.py"
    path.write_text(NOTEBOOK)
    start = time.perf_counter()
    nb = await sup.ensure_running(NotebookSpec(f"shared{i}", 1, "bench", path, folder))
    elapsed = time.perf_counter() - start
    first = sup.get("first")
    assert first is not None
    assert first.process is not None
    assert nb.process is not None
    assert nb.process.pid == first.process.pid, "a session in the person's marimo"
    await sup.stop(f"shared{i}")
    return elapsed


def supervisor(
    http: httpx2.AsyncClient,
    data: Path,
    sandbox: Sandbox | None,
    *,
    spares: bool = False,
    shared: bool = False,
) -> tuple[Supervisor, Spares | None]:
    spawner = MarimoSpawner(
        python=Path(sys.executable),
        home_root=data / "home",
        logs_dir=data / "logs",
        pid_file=PidFile(data / "run"),
        sandbox=sandbox,
    )
    connector = MarimoConnector(http)
    pool = Spares(spawner, connector, start_timeout=60, stop_timeout=5) if spares else None
    limits = Limits(max_processes=50, max_per_user=50)
    serving: Spawner = (
        SharedServers(spawner, connector.close_session, stop_timeout=5, notebooks_per_person=50)
        if shared
        else spawner
    )
    sup = Supervisor(spawner=serving, connector=connector, limits=limits, spares=pool)
    return sup, pool


def hexa_serve_rss(tmp: Path) -> int:
    """RSS of an idle `hexa serve` (database open, no notebook)."""
    port = free_port()
    env = env_for(tmp / "home-serve")
    env.update(HEXA_DATA_DIR=str(tmp / "serve"), HEXA_PORT=str(port), HEXA_TOKEN="bench")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexa", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        return psutil.Process(proc.pid).memory_info().rss
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hexa-bench-") as name:
        tmp = Path(name)
        http = make_http_client()
        sup, _ = supervisor(http, tmp / "plain-data", None)
        warmed, spares = supervisor(http, tmp / "next-data", None, spares=True)
        assert spares is not None
        sharing, _ = supervisor(http, tmp / "shared-data", None, shared=True)
        boxed_sharing: Supervisor | None = None
        boxed: Supervisor | None = None
        boxed_warmed: tuple[Supervisor, Spares | None] | None = None
        enforcer = None
        if bwrap_works(as_root=os.geteuid() == 0) is None:
            sandbox, enforcer = build_sandbox(
                "bwrap",
                data_dir=tmp / "data",
                python=Path(sys.executable),
                limits=ResourceLimits(),
                uid_base=200000,
            )
            boxed, _ = supervisor(http, tmp / "data", sandbox)
            boxed_warmed = supervisor(http, tmp / "data", sandbox, spares=True)
            boxed_sharing, _ = supervisor(http, tmp / "data", sandbox, shared=True)
        boxed_folder = tmp / "data" / "notebooks" / "bench"
        times: dict[str, list[float]] = {
            "plain": [],
            "hexa": [],
            "bwrap": [],
            "warm": [],
            "next": [],
            "next, bwrap": [],
            "shared": [],
            "shared, bwrap": [],
        }
        rss: dict[str, list[int]] = {"hexa": [], "bwrap": []}
        spare_pss: list[int] = []
        try:
            # One untimed round of each warms the OS file cache for all arms alike.
            await plain_round(tmp, http, -1)
            await hexa_round(sup, tmp / "plain-data" / "nb", -1)
            if boxed is not None:
                await hexa_round(boxed, boxed_folder, -1)
            for i in range(rounds):
                times["plain"].append(await plain_round(tmp, http, i))
                seconds, used = await hexa_round(sup, tmp / "plain-data" / "nb", i)
                times["hexa"].append(seconds)
                rss["hexa"].append(used)
                if boxed is not None:
                    seconds, used = await hexa_round(boxed, boxed_folder, i)
                    times["bwrap"].append(seconds)
                    rss["bwrap"].append(used)
                times["warm"].append(await warm_round(tmp, http, i))
                nxt = await next_round(warmed, spares, tmp / "next-data" / "nb", i, spare_pss)
                times["next"].append(nxt)
                if boxed_warmed is not None and (boxed_spares := boxed_warmed[1]) is not None:
                    folder = tmp / "data" / "notebooks" / "next"
                    times["next, bwrap"].append(
                        await next_round(boxed_warmed[0], boxed_spares, folder, i)
                    )
                times["shared"].append(await shared_round(sharing, tmp / "shared-data" / "nb", i))
                if boxed_sharing is not None:
                    folder = tmp / "data" / "notebooks" / "shared"
                    times["shared, bwrap"].append(await shared_round(boxed_sharing, folder, i))
        finally:
            await sup.shutdown()
            await warmed.shutdown()
            await sharing.shutdown()
            if boxed_sharing is not None:
                await boxed_sharing.shutdown()
            if boxed_warmed is not None:
                await boxed_warmed[0].shutdown()
            if boxed is not None:
                await boxed.shutdown()
            if enforcer is not None:
                enforcer.close()
            await http.aclose()
        serve_rss = hexa_serve_rss(tmp)

    med = {arm: statistics.median(v) for arm, v in times.items() if v}
    p, h = med["plain"], med["hexa"]
    mib = 1024 * 1024
    print(f"rounds: {rounds} (interleaved; medians)")
    print(f"plain marimo  spawn -> kernel-ready        {p:6.3f} s")
    print(f"hexa          spawn -> session ready+run   {h:6.3f} s   ratio {h / p:.2f}x plain")
    if "bwrap" in med:
        b = med["bwrap"]
        print(
            f"hexa, bwrap sandbox                        {b:6.3f} s   ratio {b / p:.2f}x plain,"
            f" {b / h:.2f}x unsandboxed"
        )
    else:
        print("hexa, bwrap sandbox                        (bubblewrap cannot run here)")
    w = med["warm"]
    print(
        f"warm (upper bound of a server pool)        {w:6.3f} s   ratio {w / p:.2f}x plain"
        f"   speed-up {p / w:.2f}x"
    )
    for arm, how in (
        ("next", "a spare is claimed"),
        ("next, bwrap", "a spare is claimed"),
        ("shared", "a session in their marimo"),
        ("shared, bwrap", "a session in their marimo"),
    ):
        if arm in med:
            n = med[arm]
            print(f"{arm + f' ({how})':<42} {n:6.3f} s   ratio {n / p:.2f}x plain   goal 0.5x")
    if spare_pss:
        waiting = statistics.median(spare_pss) / mib
        print(f"PSS of a waiting spare (server only)       {waiting:6.1f} MiB")
    for arm, values in rss.items():
        if values:
            median = statistics.median(values) / mib
            print(f"RSS per open notebook, {arm:5} (server+kernel) {median:6.1f} MiB")
    print(f"RSS of idle hexa serve                     {serve_rss / mib:6.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
