"""Through replica B against through replica A, for a notebook that runs on A, interleaved.

Starts a throwaway PostgreSQL cluster (tests/support/postgres.py) and two `hexa serve`
replicas on it, `a` and `b`, sharing one data dir (tests/support/server.py), and opens one
notebook on A. Then, request by request, alternating between the replicas:

  open     POST /api/notebooks/open of the running notebook (A has it; B finds it in the
           database and reaches A's marimo)
  page     GET /nb/<id>/ through each replica's proxy (marimo's editor page)
  asset    GET of one of marimo's JS assets through the proxy
  state    GET /api/notebooks/<id>/state (Hexa's code-mode read of the notebook)

Prints p50 and p99 per path and replica and the p50 ratio B/A.
Usage: python bench/replicas.py [--requests N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.postgres import postgres_cluster  # noqa: E402
from tests.support.server import HexaServer  # noqa: E402

NB = "bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(a: HexaServer, b: HexaServer, n: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {}
    with a.client() as via_a, b.client() as via_b:
        where = {"notebook_id": NB, "notebook_path": "b.py"}
        via_a.post("/api/notebooks/open", json=where).raise_for_status()
        page = via_a.get(f"/nb/{NB}/").text
        asset = re.findall(r'(?:src|href)="\./(assets/[^"]+\.js)"', page)[0]
        calls = {
            "open": ("POST", "/api/notebooks/open", where),
            "page": ("GET", f"/nb/{NB}/", None),
            "asset": ("GET", f"/nb/{NB}/{asset}", None),
            "state": ("GET", f"/api/notebooks/{NB}/state", None),
        }
        # One untimed pass warms both replicas' caches and connections alike.
        for method, path, body in calls.values():
            for client in (via_a, via_b):
                client.request(method, path, json=body).raise_for_status()
        for _ in range(n):
            for kind, (method, path, body) in calls.items():
                for arm, client in (("a", via_a), ("b", via_b)):
                    start = time.perf_counter()
                    reply = client.request(method, path, json=body)
                    elapsed = time.perf_counter() - start
                    reply.raise_for_status()
                    times.setdefault(kind, {"a": [], "b": []})[arm].append(elapsed)
    return times


def main(n: int) -> None:
    with postgres_cluster() as cluster, tempfile.TemporaryDirectory(prefix="hexa-bench-") as tmp:
        url = cluster.url(cluster.create_database())
        data = Path(tmp)
        env = {"HEXA_DATABASE_URL": url}
        a = HexaServer(data, env={**env, "HEXA_REPLICA_ID": "a"}, log_name="a.log")
        b = HexaServer(data, env={**env, "HEXA_REPLICA_ID": "b"}, log_name="b.log")
        try:
            a.start()
            b.start()
            times = measure(a, b, n)
        finally:
            a.stop()
            b.stop()
    print(f"{n} requests per path and replica, interleaved | p50 A | p50 B | p99 A | p99 B | B/A")
    print("---|---|---|---|---|---")
    for kind, arms in times.items():
        pa, pb = statistics.median(arms["a"]), statistics.median(arms["b"])
        qa, qb = percentile(arms["a"], 0.99), percentile(arms["b"], 0.99)
        print(
            f"{kind} | {pa * 1000:.1f} ms | {pb * 1000:.1f} ms | {qa * 1000:.1f} ms | "
            f"{qb * 1000:.1f} ms | {pb / pa:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    main(parser.parse_args().requests)
