"""The one way Hexa writes a notebook file: validated first, then replaced atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from hexa import safe_files
from hexa.generate.validation import ValidationResult, require_valid

_NEW_FILE_MODE = 0o644


def write_notebook(path: str | os.PathLike[str], text: str) -> ValidationResult:
    """Validate `text` with marimo's checker, then write it to `path` atomically.

    Raises InvalidNotebookError (carrying the diagnostics) and leaves `path` untouched when
    the text has breaking issues. The write goes to a temporary file in the same directory,
    is fsynced and renamed over `path`, so readers (and a `marimo edit` watching the file)
    see the old file or the new one, never half of one. Returns the validation result, whose
    warnings the caller may want to show.
    """
    result = require_valid(text)
    _replace_atomically(Path(path), text.encode("utf-8"))
    return result


def write_notebook_inside(root: Path, relative: str, text: str) -> ValidationResult:
    """`write_notebook` into a person's folder: no link on the way is followed (see
    `hexa.safe_files`)."""
    result = require_valid(text)
    safe_files.replace_atomically(root, relative, text.encode("utf-8"))
    return result


def _replace_atomically(target: Path, data: bytes) -> None:
    directory = target.parent
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        same_owner_as(directory, tmp_name)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def same_owner_as(directory: Path, name: str | Path) -> None:
    """A file Hexa (as root) writes into a user's folder belongs to that folder's owner,
    so the user's sandboxed marimo, running as their own uid, can save over it."""
    if os.geteuid() != 0:
        return
    st = directory.stat()
    if st.st_uid != 0:
        os.chown(name, st.st_uid, st.st_gid)


def make_folders(folder: Path) -> None:
    """`mkdir -p` whose new folders belong to the owner of the folder they are made in."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for made in reversed(missing):
        same_owner_as(made.parent, made)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse to open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
