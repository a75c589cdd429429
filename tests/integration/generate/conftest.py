"""Integration fixtures: a real subprocess runner whose HOME/XDG_* live under pytest's tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from hexa.generate import SubprocessRunner


@pytest.fixture(scope="session")
def scratch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared by the session so matplotlib's font cache is built once, not once per run.
    return tmp_path_factory.mktemp("notebook-runs")


@pytest.fixture
def runner(scratch_dir: Path) -> SubprocessRunner:
    return SubprocessRunner(timeout=120, scratch_dir=scratch_dir)
