"""Notebook paths, always resolved inside the owner's folder."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from hexa.notebooks.errors import BadPathError

_MAX_PATH = 255


def resolve_notebook_path(root: Path, relative: str) -> Path:
    """The absolute path of `relative` inside `root`, or BadPathError.

    Refused: NUL or control bytes, absolute paths, `..`, backslashes, names not ending in
    `.py`, and anything whose real path (symlinks followed) leaves `root`.
    """
    if not relative or len(relative) > _MAX_PATH:
        raise BadPathError("notebook_path must be 1 to 255 characters")
    if "\x00" in relative or any(ord(ch) < 32 for ch in relative):
        raise BadPathError("notebook_path must not contain NUL or control characters")
    if "\\" in relative:
        raise BadPathError("notebook_path must use '/' as separator")
    pure = PurePosixPath(relative)
    if pure.is_absolute():
        raise BadPathError("notebook_path must be relative to your notebook folder")
    if any(part in ("..", ".") for part in pure.parts) or not pure.parts:
        raise BadPathError("notebook_path must not contain '..' or '.' segments")
    if pure.suffix != ".py" or pure.name == ".py":
        raise BadPathError("notebook_path must name a .py file")
    if any(part.startswith(".") for part in pure.parts):
        raise BadPathError("notebook_path must not name hidden files or folders")
    real_root = root.resolve()
    candidate = (real_root / pure).resolve()
    if not candidate.is_relative_to(real_root):
        raise BadPathError("notebook_path leaves your notebook folder")
    return candidate


def display_name(relative: str) -> str:
    """A notebook's name as shown to people: its file name without `.py`."""
    return PurePosixPath(relative).stem


def safe_file_name(name: str) -> str:
    """A file name made from a free-text notebook name (`My data!` -> `My_data.py`)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_")[:80] or "notebook"
    return f"{stem}.py"
