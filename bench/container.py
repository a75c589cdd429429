"""Hexa's image: its size, and the time from `docker run` to a `/health` that answers.

Starts a Docker daemon of its own (tests/containers/daemon.py: host networking only,
stopped and removed at the end), builds the image from this working tree exactly as the
tests do (debootstrap bookworm base, docker/build_image.py), then, round by round and
interleaved with the same start on the host so machine noise hits both alike:

  container, empty volume   `docker run --network host -v NEW:/data IMAGE` → /health 200
  container, same volume    the same container started again (`docker start`, DB migrated)
  host, empty data dir      `hexa serve` from the virtualenv → /health 200 (HEXA_SANDBOX=none,
                            as in the image, where `auto` finds no bubblewrap)
  host, same data dir       the same again
  empty container           `docker run --rm IMAGE` of /bin/true: what the container costs

/health is polled every 20 ms. Prints medians and the image's size.
Usage: python bench/container.py [--rounds N]   (as root: it runs dockerd)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.containers import images  # noqa: E402
from tests.containers.daemon import Docker, docker_daemon  # noqa: E402
from tests.support.server import free_port  # noqa: E402


def until_healthy(port: int, alive: Callable[[], bool], timeout: float = 120) -> None:
    url = f"http://127.0.0.1:{port}/health"
    deadline = time.monotonic() + timeout
    with httpx2.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx2.TransportError):
                if http.get(url).status_code == 200:
                    return
            if not alive():
                raise RuntimeError("stopped before /health answered")
            time.sleep(0.02)
    raise TimeoutError(url)


def container_round(docker: Docker, image: str, n: int) -> tuple[float, float]:
    name, volume, port = f"bench-{n}", f"bench-data-{n}", free_port()

    def alive() -> bool:
        state = docker.run("inspect", "--format", "{{.State.Running}}", name, check=False)
        return state.stdout.strip() != "false"

    docker.run("volume", "create", volume)
    try:
        start = time.monotonic()
        docker.run(
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            "host",
            "--env",
            f"HEXA_PORT={port}",
            "--volume",
            f"{volume}:/data",
            image,
        )
        until_healthy(port, alive)
        first = time.monotonic() - start
        docker.run("stop", name, timeout=60)
        start = time.monotonic()
        docker.run("start", name)
        until_healthy(port, alive)
        again = time.monotonic() - start
        return first, again
    finally:
        docker.run("rm", "--force", name, check=False)
        docker.run("volume", "rm", "--force", volume, check=False)


def empty_round(docker: Docker, image: str) -> float:
    start = time.monotonic()
    docker.run("run", "--rm", "--network", "host", "--entrypoint", "/bin/true", image)
    return time.monotonic() - start


def running(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: proc.poll() is None


def host_round() -> tuple[float, float]:
    hexa = str(Path(sys.executable).parent / "hexa")
    with tempfile.TemporaryDirectory() as data:
        # As in the image, where HEXA_SANDBOX=auto finds no bubblewrap and falls back to none.
        env = {**os.environ, "HEXA_DATA_DIR": data, "HEXA_PORT": str(free_port())}
        env.update(HOME=data, HEXA_SANDBOX="none")
        times = []
        for _ in range(2):
            start = time.monotonic()
            proc = subprocess.Popen(
                [hexa, "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                until_healthy(int(env["HEXA_PORT"]), running(proc))
                times.append(time.monotonic() - start)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        return times[0], times[1]


def main(rounds: int) -> None:
    with docker_daemon() as docker:
        start = time.monotonic()
        images.build_hexa(docker)
        built = time.monotonic() - start
        size = int(docker.run("image", "inspect", "--format", "{{.Size}}", images.HEXA_TAG).stdout)
        base = int(docker.run("image", "inspect", "--format", "{{.Size}}", images.BASE_TAG).stdout)
        names = ("c-first", "c-again", "h-first", "h-again", "empty")
        arms: dict[str, list[float]] = {k: [] for k in names}
        for n in range(rounds):
            c_first, c_again = container_round(docker, images.HEXA_TAG, n)
            h_first, h_again = host_round()
            empty = empty_round(docker, images.HEXA_TAG)
            for arm, value in zip(names, (c_first, c_again, h_first, h_again, empty), strict=True):
                arms[arm].append(value)
            print(
                f"round {n + 1}: container {c_first:.2f} / {c_again:.2f} s, "
                f"host {h_first:.2f} / {h_again:.2f} s",
                file=sys.stderr,
            )
    med = {k: statistics.median(v) for k, v in arms.items()}
    print(
        f"\nimage {size / 1e6:.0f} MB (base {base / 1e6:.0f} MB, Hexa's layers "
        f"{(size - base) / 1e6:.0f} MB); wheelhouse + build took {built:.0f} s\n"
    )
    print(f"{rounds} rounds, medians | to /health | vs the host")
    print("---|---|---")
    for arm, label in (
        ("first", "empty volume (first start, schema migrated)"),
        ("again", "same volume (started again)"),
    ):
        c, h = med[f"c-{arm}"], med[f"h-{arm}"]
        print(f"`docker run`, {label} | {c:.2f} s | {c / h:.2f}")
        print(f"`hexa serve` on the host, {label.replace('volume', 'data dir')} | {h:.2f} s | 1.00")
    print(f"`docker run --rm` of /bin/true in the image (start to exit) | {med['empty']:.2f} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args().rounds)
