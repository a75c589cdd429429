"""The incremental SSE parser used for `/api/kernel/execute` replies."""

from __future__ import annotations

import json

import pytest

from hexa.marimo.sse import SSEEvent, SSEParser

# Framed the way marimo's `format_sse_event` frames them (research §4D).
STREAM = (
    'event: stdout\ndata: {"data": "h\\u00e9llo \\u2603\\n"}\n\n'
    ": keep-alive\n\n"
    'event: stderr\ndata: {"data": "Traceback"}\n\n'
    'event: done\ndata: {"success": true, "output": {"mimetype": "text/plain", "data": ""}}\n\n'
)
EXPECTED = [
    SSEEvent("stdout", '{"data": "h\\u00e9llo \\u2603\\n"}'),
    SSEEvent("stderr", '{"data": "Traceback"}'),
    SSEEvent("done", '{"success": true, "output": {"mimetype": "text/plain", "data": ""}}'),
]


def parse_in_chunks(raw: bytes, size: int) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for start in range(0, len(raw), size):
        events += parser.feed(raw[start : start + size])
    return events + parser.close()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_any_chunking_gives_the_same_events(size: int) -> None:
    assert parse_in_chunks(STREAM.encode(), size) == EXPECTED


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_other_line_endings(newline: str) -> None:
    raw = STREAM.replace("\n", newline).encode()
    assert parse_in_chunks(raw, 1) == EXPECTED
    assert parse_in_chunks(raw, 5) == EXPECTED


def test_multibyte_characters_split_across_chunks() -> None:
    raw = 'data: {"data": "é☃😀"}\n\n'.encode()
    events = parse_in_chunks(raw, 1)
    assert json.loads(events[0].data) == {"data": "é☃😀"}


def test_multi_line_data_is_joined_with_newlines() -> None:
    raw = b"event: done\ndata: line one\ndata:line two\ndata\n\n"
    assert parse_in_chunks(raw, 3) == [SSEEvent("done", "line one\nline two\n")]


def test_defaults_bom_comments_and_unknown_fields() -> None:
    raw = "\ufeffid: 7\nretry: 10\ndata: x\n\n: only a comment\n\n".encode()
    assert parse_in_chunks(raw, 2) == [SSEEvent("message", "x")]


def test_an_unterminated_event_at_the_end_is_dropped() -> None:
    parser = SSEParser()
    assert parser.feed(b"event: done\ndata: {}\n") == []
    assert parser.close() == []


def test_a_big_single_line_in_many_chunks() -> None:
    payload = json.dumps({"data": "x" * 300_000})
    raw = f"event: stdout\ndata: {payload}\n\n".encode()
    assert parse_in_chunks(raw, 4096) == [SSEEvent("stdout", payload)]
