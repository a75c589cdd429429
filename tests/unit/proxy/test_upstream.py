"""How /nb/<id>/… maps onto a notebook's marimo (pure functions; no network)."""

from __future__ import annotations

from hexa.proxy.upstream import Upstream

ORIGIN = "http://127.0.0.1:4321"
OWN = Upstream("abc", ORIGIN, "/nb/abc", None)  # a marimo started for this notebook
SPARE = Upstream("abc", ORIGIN, "", "work/p2.py")  # a spare's, at its root, serving a folder


def test_a_notebooks_own_marimo_gets_the_path_and_query_as_they_are() -> None:
    assert OWN.url("/nb/abc/api/status", "") == f"{ORIGIN}/nb/abc/api/status"
    assert OWN.url("/nb/abc/", "file=other.py&x=1") == f"{ORIGIN}/nb/abc/?file=other.py&x=1"
    assert OWN.url("/nb/abc/ws", "session_id=s", websocket=True) == (
        "ws://127.0.0.1:4321/nb/abc/ws?session_id=s"
    )


def test_a_spares_marimo_gets_its_root_and_only_the_notebooks_file() -> None:
    assert SPARE.url("/nb/abc/", "") == f"{ORIGIN}/?file=work%2Fp2.py"
    assert SPARE.url("/nb/abc/api/kernel/run", "") == f"{ORIGIN}/api/kernel/run?file=work%2Fp2.py"
    # Whatever file the browser names, and however often, the notebook's own is sent.
    asked = "file=..%2F..%2Fetc%2Fpasswd&session_id=s&file=b.py"
    assert SPARE.url("/nb/abc/ws", asked, websocket=True) == (
        "ws://127.0.0.1:4321/ws?session_id=s&file=work%2Fp2.py"
    )


def test_redirects_come_back_under_the_notebooks_path() -> None:
    assert OWN.location(f"{ORIGIN}/nb/abc/") == "/nb/abc/"
    assert SPARE.location(f"{ORIGIN}/") == "/nb/abc/"
    assert SPARE.location("/auth/login?next=%2F") == "/nb/abc/auth/login?next=%2F"
    assert SPARE.location("https://example.com/x") == "https://example.com/x"
    assert SPARE.location("relative/x") == "relative/x"
