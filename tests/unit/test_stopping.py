"""A pytest run stopped by SIGTERM still tears its fixtures down (tests/support/stopping.py).

Real parts: a real pytest child process and a real SIGTERM, sent once its test has begun
(it says so on stdout). The control run, without the hook, shows what the hook is for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
import pathlib, os
import pytest
from tests.support.stopping import stop_on_sigterm_like_ctrl_c

def pytest_configure(config):
    if os.environ["HOOK"] == "1":
        stop_on_sigterm_like_ctrl_c()

@pytest.fixture(scope="session")
def resource():
    yield
    pathlib.Path(os.environ["OUT"], "torn-down").write_text("yes")
"""

TEST = """
import threading

def test_runs_until_stopped(resource):
    print("started", flush=True)
    threading.Event().wait(60)
"""


@pytest.mark.parametrize("hook", [True, False], ids=["hook", "python-default"])
def test_sigterm_tears_fixtures_down_like_ctrl_c(tmp_path: Path, hook: bool) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_child.py").write_text(TEST)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OUT": str(tmp_path), "HOOK": str(int(hook))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_child.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "started" in line:
                break
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if hook:
        assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
        assert (tmp_path / "torn-down").read_text() == "yes"
    else:
        assert proc.returncode == -signal.SIGTERM
        assert not (tmp_path / "torn-down").exists()
