"""Pure functions of the proxy: header filtering, redirect rewriting, frame filtering."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from hexa.marimo.frames import is_resume_banner
from hexa.proxy.headers import request_headers, response_headers, rewrite_location


def wire(op: str, data: Mapping[str, object]) -> str:
    # marimo's own wire format (ws_formatter.format_wire_message).
    return f'{{"op": "{op}", "data": {json.dumps(data)}}}'


def test_resume_banner_is_recognised_and_nothing_else() -> None:
    banner = {"title": "Reconnected", "description": "You have reconnected", "action": "restart"}
    assert is_resume_banner(wire("banner", banner))
    assert not is_resume_banner(wire("banner", {**banner, "title": "Kernel died"}))
    assert not is_resume_banner(wire("alert", {"title": "Reconnected"}))
    assert not is_resume_banner(wire("cell-op", {"cell_id": "Reconnected"}))
    assert not is_resume_banner('{"op": "banner", "data": Reconnected')


def test_request_headers_inject_token_and_keep_other_cookies() -> None:
    out = dict(
        request_headers(
            [
                ("Authorization", "Bearer hexa-user-token"),
                ("Cookie", "hexa_token=secret; theme=dark"),
                ("Connection", "keep-alive"),
                ("Marimo-Session-Id", "s1"),
                ("Content-Length", "3"),
            ],
            token="marimo-token",
            hexa_cookie="hexa_token",
        )
    )
    assert out["authorization"] == "Bearer marimo-token"
    assert out["cookie"] == "theme=dark"
    assert out["Marimo-Session-Id"] == "s1"
    assert "Connection" not in out
    assert "Content-Length" not in out
    assert "secret" not in json.dumps(out)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:4321/nb/x/", "/nb/x/"),
        ("http://localhost:9999/nb/x/auth/login?next=%2F", "/nb/x/auth/login?next=%2F"),
        ("/nb/x/", "/nb/x/"),
        ("https://example.com/docs", "https://example.com/docs"),
    ],
)
def test_upstream_redirects_never_leak(location: str, expected: str) -> None:
    assert rewrite_location(location, "http://127.0.0.1:4321") == expected


def test_response_headers_drop_hop_by_hop() -> None:
    out = response_headers(
        [("Transfer-Encoding", "chunked"), ("Location", "http://127.0.0.1:1/nb/a/"), ("X", "y")],
        relocate=lambda value: rewrite_location(value, "http://127.0.0.1:1"),
    )
    assert out == [("Location", "/nb/a/"), ("X", "y")]


def test_marimo_cookies_never_reach_the_browser() -> None:
    out = response_headers(
        [
            ("set-cookie", "session_4321_nb_x=abc; HttpOnly; Path=/nb/x; Max-Age=1209600"),
            ("Set-Cookie", "other=1"),
            ("content-type", "text/html"),
        ],
        relocate=lambda value: rewrite_location(value, "http://127.0.0.1:4321"),
    )
    assert out == [("content-type", "text/html")]
