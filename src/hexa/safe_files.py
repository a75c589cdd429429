"""Reading and writing inside a person's folder without following links.

Hexa reads and writes users' files as itself, while the person's own notebook code, in its
sandbox, can change their folder at any moment. Checking a resolved path and then opening
it leaves a gap in which a folder can be swapped for a link to someone else's folder. So
every access here starts from the folder (Hexa's own, which the person cannot replace)
and opens one component at a time relative to the last with O_NOFOLLOW: a link anywhere
below the folder fails the access (ELOOP or ENOTDIR) instead of being followed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW
NEW_FILE_MODE = 0o644


def parts_of(relative: str | PurePosixPath) -> tuple[str, ...]:
    parts = tuple(p for p in PurePosixPath(relative).parts if p not in ("", "."))
    if not parts or ".." in parts or PurePosixPath(relative).is_absolute():
        raise ValueError(f"not a path inside the folder: {relative}")
    return parts


def _folder(root: Path, parts: Sequence[str], *, create: bool) -> int:
    """A descriptor of `root/parts...`, each folder opened without following links; with
    `create`, missing folders are made, owned like the folder they are made in."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            try:
                inner = os.open(part, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
                inner = os.open(part, _DIR, dir_fd=fd)
                _own_like(fd, inner)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _own_like(folder_fd: int, fd: int) -> None:
    """What Hexa (as root) makes in a user's folder belongs to that folder's owner, so the
    user's sandboxed marimo, running as their own uid, can save over it."""
    if os.geteuid() != 0:
        return
    st = os.fstat(folder_fd)
    if st.st_uid != 0:
        os.fchown(fd, st.st_uid, st.st_gid)


def read_bytes(root: Path, relative: str | PurePosixPath, limit: int = -1) -> bytes:
    """The file's bytes (the first `limit` when given). FileNotFoundError when it is not
    there; OSError when a link is on the way or it is not a regular file."""
    parts = parts_of(relative)
    folder = _folder(root, parts[:-1], create=False)
    try:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=folder)
    finally:
        os.close(folder)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{relative} is not a regular file")
        return handle.read(limit)


def exists(root: Path, relative: str | PurePosixPath) -> bool:
    """Whether something (a link included) is at `relative`, its folders followed by no link."""
    parts = parts_of(relative)
    try:
        folder = _folder(root, parts[:-1], create=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    finally:
        os.close(folder)
    return True


def replace_atomically(root: Path, relative: str | PurePosixPath, data: bytes) -> None:
    """Write `data` to a temporary file beside the target, fsync it and rename it over the
    target, so readers (and a `marimo edit` watching the file) see the old file or the new
    one, never half of one. Folders on the way are made; the file keeps its mode."""
    parts = parts_of(relative)
    folder = _folder(root, parts[:-1], create=True)
    name = parts[-1]
    tmp = f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        try:
            mode = stat.S_IMODE(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            mode = NEW_FILE_MODE
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb", closefd=False) as handle:
                handle.write(data)
                handle.flush()
                os.fsync(fd)
            os.fchmod(fd, mode)
            _own_like(folder, fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
            os.fsync(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=folder)
        raise
    finally:
        os.close(folder)


def remove(root: Path, relative: str | PurePosixPath) -> None:
    """Remove the file (a link there is removed, not followed); nothing when it is gone."""
    parts = parts_of(relative)
    try:
        folder = _folder(root, parts[:-1], create=False)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(parts[-1], dir_fd=folder)
    finally:
        os.close(folder)
