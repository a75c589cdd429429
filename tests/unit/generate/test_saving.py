"""write_notebook: validated first, written atomically, nothing half-written left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hexa.generate import InvalidNotebookError, render_template, write_notebook

VALID = render_template("blank", title="Saved")
INVALID = VALID.replace("import marimo as mo", "import marimo as mo\n    x = = 1")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_writes_a_valid_notebook(tmp_path: Path) -> None:
    target = tmp_path / "nb.py"
    result = write_notebook(target, VALID)
    assert result.valid
    assert target.read_text(encoding="utf-8") == VALID
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _leftovers(tmp_path) == []


def test_refuses_invalid_text_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "nb.py"
    target.write_text("old contents", encoding="utf-8")
    with pytest.raises(InvalidNotebookError) as caught:
        write_notebook(target, INVALID)
    assert any(d.code == "MB001" for d in caught.value.diagnostics)
    assert caught.value.text == INVALID
    assert target.read_text(encoding="utf-8") == "old contents"
    assert _leftovers(tmp_path) == []


def test_refuses_invalid_text_without_creating_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    with pytest.raises(InvalidNotebookError):
        write_notebook(folder / "nb.py", "print('not a notebook')\n")
    assert list(folder.iterdir()) == []


def test_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "nb.py"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    write_notebook(target, VALID)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failing_rename_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "nb.py"
    target.write_text("old contents", encoding="utf-8")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_notebook(target, VALID)
    assert target.read_text(encoding="utf-8") == "old contents"
    assert _leftovers(tmp_path) == []
