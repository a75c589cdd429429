"""Open latency with HEXA_SANDBOX=docker against plain `marimo edit`, in one run.

Starts a Docker daemon of its own (tests/containers/daemon.py: host networking only,
stopped and removed at the end) and builds the notebook image from this working tree as
the tests do. Then, round by round and interleaved so machine noise hits all arms alike:

  plain    spawn `marimo edit` on the host + poll /health + WebSocket to `kernel-ready`
  docker   Hexa's Supervisor.ensure_running with the docker sandbox: `docker run` of the
           notebook image (the user's uid, folders and limits), health, Hexa's session,
           which also runs the notebook's cells
  bwrap    the same with Hexa's default sandbox where bubblewrap works, for comparison

Prints medians and ratios against plain. Usage: python bench/container_sandbox.py [--rounds N]
(as root: it runs dockerd).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from tests.containers import images  # noqa: E402
from tests.containers.daemon import docker_daemon  # noqa: E402

from hexa.marimo.client import make_http_client  # noqa: E402
from hexa.runtime.supervisor import Supervisor  # noqa: E402
from hexa.sandbox import ResourceLimits, build_sandbox, bwrap_works  # noqa: E402
from hexa.sandbox.docker import DockerSandbox  # noqa: E402
from hexa.sandbox.jail import UserIds  # noqa: E402
from open_latency import hexa_round, plain_round, supervisor  # noqa: E402


async def measure(rounds: int, docker_host: str, tmp: Path) -> dict[str, list[float]]:
    http = make_http_client()
    docker = DockerSandbox(
        image=images.NOTEBOOK_TAG,
        label="hexa-bench",
        limits=ResourceLimits(),
        user_ids=UserIds(200000) if UserIds.available() else None,
        host=docker_host,
    )
    arms: dict[str, Supervisor] = {
        "docker": supervisor(http, tmp / "docker", docker)[0],
    }
    if bwrap_works(as_root=os.geteuid() == 0) is None:
        sandbox, _ = build_sandbox(
            "bwrap",
            data_dir=tmp / "bwrap",
            python=Path(sys.executable),
            limits=ResourceLimits(),
            uid_base=200000,
        )
        arms["bwrap"] = supervisor(http, tmp / "bwrap", sandbox)[0]
    times: dict[str, list[float]] = {"plain": [], **{arm: [] for arm in arms}}
    try:
        # One untimed round of each warms the file cache (and the image's layers) alike.
        await plain_round(tmp, http, -1)
        for arm, sup in arms.items():
            await hexa_round(sup, tmp / arm / "notebooks" / "bench", -1)
        for i in range(rounds):
            times["plain"].append(await plain_round(tmp, http, i))
            for arm, sup in arms.items():
                seconds, _ = await hexa_round(sup, tmp / arm / "notebooks" / "bench", i)
                times[arm].append(seconds)
            line = ", ".join(f"{arm} {values[-1]:.2f} s" for arm, values in times.items())
            print(f"round {i + 1}: {line}", file=sys.stderr)
    finally:
        for sup in arms.values():
            await sup.shutdown()
        docker.sweep()
        await http.aclose()
    return times


def main(rounds: int) -> None:
    with docker_daemon() as daemon, tempfile.TemporaryDirectory(prefix="hexa-bench-") as name:
        images.build_hexa(daemon)
        size = daemon.run("image", "inspect", "--format", "{{.Size}}", images.NOTEBOOK_TAG)
        times = asyncio.run(measure(rounds, daemon.env["DOCKER_HOST"], Path(name)))
    med = {arm: statistics.median(values) for arm, values in times.items()}
    plain = med["plain"]
    print(f"\nnotebook image {int(size.stdout) / 1e6:.0f} MB")
    print(f"{rounds} rounds, interleaved, medians | spawn to ready | vs plain marimo")
    print("---|---|---")
    print(f"plain `marimo edit` on the host | {plain:.2f} s | 1.00")
    labels = {
        "docker": "Hexa, HEXA_SANDBOX=docker (container per notebook)",
        "bwrap": "Hexa, HEXA_SANDBOX=bwrap (the default where it works)",
    }
    for arm, label in labels.items():
        if arm in med:
            print(f"{label} | {med[arm]:.2f} s | {med[arm] / plain:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args().rounds)
