"""Integration fixtures: a real subprocess runner, in the sandbox Hexa would pick (`auto`:
bubblewrap where it works), whose HOME/XDG_* live under pytest's tmp."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hexa.generate import SubprocessRunner
from hexa.sandbox import ResourceLimits, Sandbox, build_sandbox


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands for Hexa's data dir: the sandbox hides it from the code it runs."""
    data = tmp_path_factory.mktemp("hexa-data")
    (data / "hexa.db").write_text("secret rows")
    return data


@pytest.fixture(scope="session")
def scratch_dir(data_dir: Path) -> Path:
    # Shared by the session so matplotlib's font cache is built once, not once per run.
    path = data_dir / "runs"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def sandbox(data_dir: Path) -> Iterator[Sandbox]:
    chosen, enforcer = build_sandbox(
        "auto",
        data_dir=data_dir,
        python=Path(sys.executable),
        limits=ResourceLimits(memory_bytes=1024**3),
        uid_base=200000,
    )
    yield chosen
    enforcer.close()  # its cgroups go too


@pytest.fixture
def runner(scratch_dir: Path, sandbox: Sandbox) -> SubprocessRunner:
    return SubprocessRunner(timeout=120, scratch_dir=scratch_dir, sandbox=sandbox)
