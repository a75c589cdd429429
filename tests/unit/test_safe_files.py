"""Reading and writing inside a person's folder, following no link: real files, real
links, in a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hexa import safe_files


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    theirs.mkdir()
    (theirs / "secret.py").write_text("their notebook")
    return mine, theirs


def test_a_file_is_written_atomically_read_back_and_removed(folders: tuple[Path, Path]) -> None:
    mine, _ = folders
    safe_files.replace_atomically(mine, "sub/deeper/nb.py", b"one")
    assert (mine / "sub" / "deeper" / "nb.py").read_bytes() == b"one"
    (mine / "sub" / "deeper" / "nb.py").chmod(0o600)
    safe_files.replace_atomically(mine, "sub/deeper/nb.py", b"two")
    assert safe_files.read_bytes(mine, "sub/deeper/nb.py") == b"two"
    assert (mine / "sub" / "deeper" / "nb.py").stat().st_mode & 0o777 == 0o600  # mode kept
    assert [p.name for p in (mine / "sub" / "deeper").iterdir()] == ["nb.py"]  # no temp left
    assert safe_files.exists(mine, "sub/deeper/nb.py")
    safe_files.remove(mine, "sub/deeper/nb.py")
    safe_files.remove(mine, "sub/deeper/nb.py")  # already gone: nothing
    assert not safe_files.exists(mine, "sub/deeper/nb.py")
    with pytest.raises(FileNotFoundError):
        safe_files.read_bytes(mine, "sub/deeper/nb.py")


def test_a_folder_swapped_for_a_link_is_never_followed(folders: tuple[Path, Path]) -> None:
    """What a person's code can do between Hexa's path check and its access: the access
    fails, and the other folder is neither read, written nor emptied."""
    mine, theirs = folders
    os.symlink(theirs, mine / "sub")
    with pytest.raises(OSError):
        safe_files.read_bytes(mine, "sub/secret.py")
    with pytest.raises(OSError):
        safe_files.replace_atomically(mine, "sub/secret.py", b"overwritten")
    safe_files.remove(mine, "sub/secret.py")
    assert (theirs / "secret.py").read_text() == "their notebook"
    assert sorted(p.name for p in theirs.iterdir()) == ["secret.py"]


def test_a_file_that_is_a_link_is_not_read_and_a_pipe_does_not_block(
    folders: tuple[Path, Path],
) -> None:
    mine, theirs = folders
    os.symlink(theirs / "secret.py", mine / "nb.py")
    with pytest.raises(OSError):
        safe_files.read_bytes(mine, "nb.py")
    # Replacing it replaces the link itself; the file it pointed at is untouched.
    safe_files.replace_atomically(mine, "nb.py", b"mine now")
    assert not (mine / "nb.py").is_symlink()
    assert (theirs / "secret.py").read_text() == "their notebook"
    os.mkfifo(mine / "pipe.py")
    with pytest.raises(OSError, match="not a regular file"):
        safe_files.read_bytes(mine, "pipe.py")


@pytest.mark.parametrize("bad", ["../theirs/secret.py", "/etc/passwd", "", "."])
def test_paths_that_leave_the_folder_are_refused(folders: tuple[Path, Path], bad: str) -> None:
    mine, _ = folders
    with pytest.raises(ValueError, match="not a path inside"):
        safe_files.read_bytes(mine, bad)
