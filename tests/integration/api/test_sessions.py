"""Browser sessions live on the server: they survive a restart of Hexa (even one that
gives the default user a new token), end on their own at sign-out, and all end when the
token is rotated. Real parts: two runs of a real `hexa serve` on one database (SQLite, and
PostgreSQL), its CLI, cookies through httpx as a browser sends them.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from tests.support.server import HexaServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sign_in(server: HexaServer, token: str) -> httpx2.Client:
    browser = httpx2.Client(base_url=server.url)
    reply = browser.get(f"/?token={token}", follow_redirects=False)
    assert reply.status_code == 303, reply.text
    assert token not in reply.headers["set-cookie"], "the cookie never holds the token"
    return browser


def test_sessions_survive_restarts_and_are_revoked_on_their_own(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    server = HexaServer(data_dir=tmp_path, token="first-token-of-default", env=store_env)
    try:
        server.start()
        laptop, phone = sign_in(server, server.token), sign_in(server, server.token)
        assert laptop.get("/api/me").status_code == 200
        server.stop()
        # A start with another token (as with no HEXA_TOKEN) used to sign everyone out.
        server.token = "second-token-of-default"
        server.start()
        assert laptop.get("/api/me").status_code == 200
        assert phone.get("/api/me").status_code == 200
        out = laptop.post("/api/auth/logout", headers={"Origin": server.url})
        assert out.status_code == 204
        assert laptop.get("/api/me").status_code == 401
        assert phone.get("/api/me").status_code == 200, "signing out one browser is not all"
        listing = server.cli("user", "list")
        assert "default (default)" in listing
        assert "1 browser session(s)" in listing
        new_token = server.cli("user", "rotate", "default").split()[-1]
        assert phone.get("/api/me").status_code == 401
        with server.client(new_token) as api:
            assert api.get("/api/me").status_code == 200
        with server.client(server.token) as old:
            assert old.get("/api/me").status_code == 401
        server.add_user("bob")
        assert "Removed user bob" in server.cli("user", "remove", "bob")
        assert "bob" not in server.cli("user", "list")
        laptop.close()
        phone.close()
    finally:
        server.stop()
