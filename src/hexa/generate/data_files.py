"""A person's data files, seen from generation: which names are safe to look at, and the
header of a CSV, read cheaply to match the columns a request names."""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

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
    """The first bytes of `folder/parts...`, opened one component at a time without
    following any symlink: Hexa reads as itself, and the person's own code could swap a
    checked path for a link elsewhere between the check and the read."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(folder.resolve(), flags | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    with os.fdopen(leaf, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{parts[-1]} is not a regular file")
        return handle.read(_HEADER_BYTES)
