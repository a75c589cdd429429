"""Incremental parser for the server-sent events of `/api/kernel/execute`.

Network chunks split events, lines and even UTF-8 characters anywhere, so bytes are fed
as they arrive and whole events come out.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True)
class SSEEvent:
    event: str  # "message" when the event has no `event:` field (the SSE default)
    data: str  # the `data:` lines joined with "\n"


class SSEParser:
    """Feed bytes, get complete events (WHATWG event-stream rules, minus id/retry)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._started = False  # the optional BOM is stripped once, at the very start
        self._final = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += self._decoder.decode(chunk)
        return self._drain()

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line is dropped, per the spec."""
        self._buffer += self._decoder.decode(b"", final=True)
        self._final = True
        events = self._drain()
        self._buffer = ""
        self._event, self._data = "", []
        return events

    def _drain(self) -> list[SSEEvent]:
        if not self._started and self._buffer:
            self._started = True
            self._buffer = self._buffer.removeprefix("\ufeff")
        events: list[SSEEvent] = []
        buf, pos = self._buffer, 0
        while True:
            line, pos = self._next_line(buf, pos)
            if line is None:
                break
            if line == "":
                if self._data:
                    events.append(SSEEvent(self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            if line.startswith(":"):
                continue  # comment, e.g. a keep-alive
            field, sep, value = line.partition(":")
            if sep:
                value = value.removeprefix(" ")
            if field == "event":
                self._event = value
            elif field == "data":
                self._data.append(value)
        # Cut the consumed part once per feed, not once per line.
        self._buffer = buf[pos:]
        return events

    def _next_line(self, buf: str, pos: int) -> tuple[str | None, int]:
        """The line starting at `pos` and where the next one starts; None if incomplete."""
        lf = buf.find("\n", pos)
        # Look for "\r" only before the first "\n", so each line costs its own length.
        cr = buf.find("\r", pos, lf if lf >= 0 else len(buf))
        if cr < 0 and lf < 0:
            return None, pos
        if cr < 0:
            return buf[pos:lf], lf + 1
        # A "\r" at the very end may be the first half of "\r\n": wait for more.
        if cr + 1 == len(buf) and not self._final:
            return None, pos
        skip = 2 if buf[cr + 1 : cr + 2] == "\n" else 1
        return buf[pos:cr], cr + skip
