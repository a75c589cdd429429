"""Shared helpers for the generate unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # marimo reads and writes under HOME/XDG_*; keep it inside the test's directory.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))


def marimo_dependencies(text: str, directory: Path) -> tuple[set[tuple[str, str]], list[str]]:
    """The dependency edges marimo itself builds for a notebook, as (parent, child) cell
    names, and the cell names in order. Loaded with marimo's static loader; nothing runs."""
    from marimo._ast.app import InternalApp
    from marimo._ast.load import load_app

    path = directory / "graph_check.py"
    path.write_text(text, encoding="utf-8")
    app = load_app(path)
    assert app is not None
    internal = InternalApp(app)
    manager = internal.cell_manager
    names = {cid: manager.cell_data_at(cid).name for cid in manager.cell_ids()}
    graph = internal.graph
    edges = {
        (names[parent], names[child])
        for child, parents in graph.parents.items()
        for parent in parents
    }
    return edges, [names[cid] for cid in manager.cell_ids()]
