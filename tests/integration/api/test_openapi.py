"""`/openapi.json` tells the truth: schemathesis against a real `hexa serve`.

Real parts: `hexa serve` (SQLite, marimo in its sandbox, the builtin model) and
schemathesis's own HTTP client. Bounded: a few examples per operation and a time budget;
the run must find no server error, no undocumented status, no reply that breaks its
schema (settings and the two checks left out, with why: tests/schemathesis.toml).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"


@pytest.mark.timeout(400)
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "schemathesis"
    with running_server(tmp_path, HEXA_MAX_PROCESSES="3") as server:
        done = subprocess.run(
            [
                str(cli),
                "--config-file",
                str(CONFIG),
                "run",
                f"{server.url}/openapi.json",
                "--header",
                f"Authorization: Bearer {server.token}",
                "--max-time",
                "150",
                "--seed",
                "20261201",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        log = server.log_tail(400)
    summary = done.stdout[done.stdout.find("SUMMARY") :]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Tested: 27" in summary, summary
    assert " 500 " not in log, "the server logged an internal error"
