"""A notebook server's output, copied into its log file with secrets taken out.

marimo prints its URL with the access token at start. The log is Hexa's (0600, in a
folder no sandbox sees) and its tail becomes a failure reason shown in the UI, so the
token never reaches it: the output comes through a pipe that is always drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

_REDACTED = b"[redacted]"


class LogPump:
    def __init__(
        self, stream: asyncio.StreamReader, path: Path, *, secrets: tuple[str, ...]
    ) -> None:
        self._secrets = tuple(s.encode() for s in secrets if s)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        self._file = os.fdopen(fd, "ab", buffering=0)
        self._task = asyncio.create_task(self._copy(stream), name=f"log-{path.stem}")

    async def _copy(self, stream: asyncio.StreamReader) -> None:
        # A secret may straddle two reads: only an end that could begin one waits for the
        # next read; the rest is in the log at once (its tail is a failure's reason).
        pending = b""
        try:
            while chunk := await stream.read(65536):
                pending = self._redact(pending + chunk)
                cut = len(pending) - self._held(pending)
                self._write(pending[:cut])
                pending = pending[cut:]
            self._write(self._redact(pending))
        finally:
            self._file.close()

    def _held(self, data: bytes) -> int:
        """The length of the longest end of `data` that is the start of a secret."""
        held = 0
        for secret in self._secrets:
            for n in range(min(len(secret) - 1, len(data)), held, -1):
                if data.endswith(secret[:n]):
                    held = n
                    break
        return held

    def _redact(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, _REDACTED)
        return data

    def _write(self, data: bytes) -> None:
        # A full disk must not stop the draining: marimo would block on its next print.
        with contextlib.suppress(OSError):
            self._file.write(data)

    async def close(self) -> None:
        """Wait for the copy to end (the process is gone, so its pipe is at EOF)."""
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), 2.0)
        if not self._task.done():
            self._task.cancel()
