"""Notebook paths, always resolved inside the owner's folder."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from hexa.errors import BadPathError

_MAX_PATH = 255
# A file name may be 255 bytes; an atomic save writes `.<name>.<random>.tmp` beside it.
MAX_NAME_BYTES = 200


def canonical_path(relative: str) -> str:
    """The one spelling of a notebook path: `a//b.py`, `./a/b.py/` and `a/b.py` are one
    file, so they must be one notebook (one row, one marimo). BadPathError if invalid."""
    if not relative or len(relative) > _MAX_PATH:
        raise BadPathError("notebook_path must be 1 to 255 characters")
    if "\x00" in relative or any(ord(ch) < 32 for ch in relative):
        raise BadPathError("notebook_path must not contain NUL or control characters")
    if "\\" in relative:
        raise BadPathError("notebook_path must use '/' as separator")
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadPathError("notebook_path must be valid UTF-8 text") from exc
    if relative.startswith("/"):
        raise BadPathError("notebook_path must be relative to your notebook folder")
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BadPathError("notebook_path must not contain '..' segments")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in parts):
        raise BadPathError(f"each part of notebook_path must be at most {MAX_NAME_BYTES} bytes")
    pure = PurePosixPath(*parts) if parts else PurePosixPath()
    if pure.suffix != ".py" or pure.name == ".py":
        raise BadPathError("notebook_path must name a .py file")
    if any(part.startswith(".") for part in pure.parts):
        raise BadPathError("notebook_path must not name hidden files or folders")
    return str(pure)


def resolve_notebook_path(root: Path, relative: str) -> Path:
    """The absolute path of `relative` inside `root`, or BadPathError.

    Refused: NUL or control bytes, absolute paths, `..`, backslashes, names not ending in
    `.py`, over-long names, a folder where the file should be or a file where a folder
    should be, and anything whose real path (symlinks followed) leaves `root`.
    """
    pure = PurePosixPath(canonical_path(relative))
    real_root = root.resolve()
    candidate = (real_root / pure).resolve()
    if not candidate.is_relative_to(real_root):
        raise BadPathError("notebook_path leaves your notebook folder")
    if candidate.is_dir():
        raise BadPathError(f"{pure} is a folder, not a notebook file")
    for parent in candidate.parents:
        if parent == real_root:
            break
        if parent.exists() and not parent.is_dir():
            raise BadPathError(f"{parent.relative_to(real_root)} is a file, not a folder")
    return candidate


def display_name(relative: str) -> str:
    """A notebook's name as shown to people: its file name without `.py`."""
    return PurePosixPath(relative).stem


def safe_file_name(name: str) -> str:
    """A file name made from a free-text notebook name (`My data!` -> `My_data.py`)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_")[:80] or "notebook"
    return f"{stem}.py"
