"""The image's HEALTHCHECK: `GET /health` where `hexa serve` listens (HEXA_HOST, HEXA_PORT).

Exits 0 when Hexa answers `{"status": "ok"}`, 1 otherwise. Proxy settings are ignored: the
server is always reached directly, on loopback when it listens on every address.
"""

import json
import os
import sys
import urllib.request


def url() -> str:
    host = os.environ.get("HEXA_HOST", "127.0.0.1")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{os.environ.get('HEXA_PORT', '8000')}/health"


def main() -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url(), timeout=4) as reply:
            healthy = reply.status == 200 and json.load(reply).get("status") == "ok"
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}")
        return 1
    print("healthy" if healthy else "unhealthy: unexpected reply")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
