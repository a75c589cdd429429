"""A person's data files, seen from generation: which names are safe to look at, and the
header of a CSV, read cheaply to match the columns a request names."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from hexa import safe_files

_HEADER_BYTES = 64 * 1024


def local_data_file(folder: Path, name: str) -> Path | None:
    """`name` as a file inside `folder`, or None: absolute names, `..`, backslashes and
    anything whose real path (symlinks followed) leaves the folder are never looked at."""
    if not name or "\\" in name or "\x00" in name or name.startswith(("/", "~")):
        return None
    parts = PurePosixPath(name).parts
    if ".." in parts:
        return None
    try:
        root = folder.resolve()
        path = (root / PurePosixPath(*parts)).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def read_columns(folder: Path, name: str) -> tuple[str, ...] | None:
    """The column names in the first line of the CSV/TSV `name` in `folder`; None when it
    is not such a file there, or cannot be read."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in (".csv", ".tsv"):
        return None
    if local_data_file(folder, name) is None:
        return None
    try:
        head = read_head(folder, PurePosixPath(name).parts)
    except OSError:
        return None
    lines = head.decode("utf-8-sig", "replace").splitlines()
    if not lines:
        return None
    row = next(csv.reader([lines[0]], delimiter="\t" if suffix == ".tsv" else ","), [])
    columns = tuple(c.strip() for c in row if c.strip())
    return columns or None


def read_head(folder: Path, parts: Sequence[str]) -> bytes:
    """The first bytes of `folder/parts...`, following no link (`hexa.safe_files`): Hexa
    reads as itself, and the person's own code could swap a checked path for a link."""
    return safe_files.read_bytes(folder, PurePosixPath(*parts), _HEADER_BYTES)
