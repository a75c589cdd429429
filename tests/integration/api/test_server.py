"""The HTTP API, the proxy and users, against a real `hexa serve` with real marimo, on SQLite
and on PostgreSQL.

One server is shared by the module (each marimo start costs seconds on a small machine);
tests that open notebooks close them again so the caps stay predictable.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
import websockets
from websockets.sync.client import connect as sync_connect

from tests.support.server import HexaServer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_store_env: dict[str, str]
) -> Iterator[HexaServer]:
    data = tmp_path_factory.mktemp("hexa")
    with running_server(
        data,
        HEXA_MAX_NOTEBOOKS_PER_USER="2",
        HEXA_MAX_PROCESSES="3",
        HEXA_MAX_BODY_BYTES="200000",
        **module_store_env,
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def alice(server: HexaServer) -> Iterator[httpx2.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def bob_token(server: HexaServer) -> str:
    return server.add_user("bob")


@pytest.fixture(scope="module")
def bob(server: HexaServer, bob_token: str) -> Iterator[httpx2.Client]:
    with server.client(bob_token) as client:
        yield client


@pytest.fixture(scope="module")
def opened(alice: httpx2.Client) -> Iterator[dict[str, str]]:
    reply = alice.post(
        "/api/notebooks/open", json={"notebook_id": "first", "notebook_path": "first.py"}
    )
    assert reply.status_code == 200, reply.text
    yield reply.json()
    alice.post("/api/notebooks/first/close")


def notebook_file(server: HexaServer, user: str, path: str) -> Path:
    return server.data_dir / "notebooks" / user / path


def test_the_server_runs_on_the_store_it_was_given(server: HexaServer, server_backend: str) -> None:
    """SQLite is a file in the data dir; with HEXA_DATABASE_URL there is none."""
    assert (server.data_dir / "hexa.db").exists() == (server_backend == "sqlite")


def test_health_needs_no_token(server: HexaServer) -> None:
    reply = httpx2.get(server.url + "/health")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_missing_or_wrong_token_is_401(server: HexaServer, headers: dict[str, str]) -> None:
    reply = httpx2.get(server.url + "/api/notebooks", headers=headers)
    assert reply.status_code == 401
    assert "detail" in reply.json()


def test_open_returns_hexa_url_and_session(server: HexaServer, opened: dict[str, str]) -> None:
    assert opened["notebook_id"] == "first"
    assert opened["url"] == "/nb/first/"
    assert opened["session_id"].startswith("sess-") or opened["session_id"]
    assert notebook_file(server, "default", "first.py").exists()


def test_state_lists_cells_in_order_with_marimo_ids(
    alice: httpx2.Client, opened: dict[str, str]
) -> None:
    reply = alice.get("/api/notebooks/first/state")
    assert reply.status_code == 200, reply.text
    state = reply.json()
    assert state["notebook_id"] == "first"
    assert state["cells"][0]["preview"].startswith("import marimo as mo")
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", c["cell_id"]) for c in state["cells"])
    assert "mo" in state["variables"]


def test_execute_creates_updates_runs_and_saves(
    server: HexaServer, alice: httpx2.Client, opened: dict[str, str]
) -> None:
    reply = alice.post(
        "/api/notebooks/first/cells/execute",
        json={"cell_ids": ["new-a", "new-b"], "codes": ["a = 20", "b = a * 2\nb"]},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["success"] is True
    a_id, b_id = body["cell_ids"]
    text = notebook_file(server, "default", "first.py").read_text()
    assert "a = 20" in text
    assert "b = a * 2" in text

    # Change one cell: the dependent cell reruns, the file follows.
    reply = alice.post(
        "/api/notebooks/first/cells/execute", json={"cell_ids": [a_id], "codes": ["a = 21"]}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["cell_ids"] == [a_id]
    state = alice.get("/api/notebooks/first/state").json()
    ids = [c["cell_id"] for c in state["cells"]]
    assert ids.index(a_id) < ids.index(b_id)
    assert "a = 21" in notebook_file(server, "default", "first.py").read_text()
    assert state["variables"]["b"]["value"] in ("42", 42) or "42" in json.dumps(
        state["variables"]["b"]
    )

    # Delete: gone from the kernel's view and from the file.
    reply = alice.delete(f"/api/notebooks/first/cells/{b_id}")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"success": True}
    state = alice.get("/api/notebooks/first/state").json()
    assert b_id not in [c["cell_id"] for c in state["cells"]]
    assert "b = a * 2" not in notebook_file(server, "default", "first.py").read_text()


def test_an_editor_save_built_before_a_change_does_not_take_it_back(
    server: HexaServer, alice: httpx2.Client, opened: dict[str, str]
) -> None:
    """marimo's editor autosaves its whole cell list, and marimo makes the notebook match
    it. A save built before the editor heard of a change made through Hexa would delete
    the cell just added, bring back the one just deleted and revert the edit (what a
    browser test once caught: undo then found nothing to undo). Hexa's proxy mends such a
    save; what the person then does to those cells is theirs. Real proxy, marimo, file."""
    reply = alice.post(
        "/api/notebooks/open", json={"notebook_id": "saves", "notebook_path": "saves.py"}
    )
    assert reply.status_code == 200, reply.text
    # The editor: a browser's session of the notebook, as marimo's page opens it.
    session = {"Marimo-Session-Id": "editor-like"}
    with sync_connect(
        server.url.replace("http", "ws") + "/nb/saves/ws?session_id=editor-like",
        additional_headers={"Authorization": f"Bearer {server.token}"},
    ) as editor_ws:
        ops = [json.loads(editor_ws.recv(20))["op"] for _ in range(2)]
        assert "kernel-ready" in ops, ops  # after marimo's "reconnected" when resumed
        reply = alice.post(
            "/api/notebooks/saves/cells/execute",
            json={"cell_ids": ["s-a", "s-b", "s-c"], "codes": ["sa = 1", "sb = 1", "sc = 1"]},
        )
        assert reply.status_code == 200, reply.text
        a, b, c = reply.json()["cell_ids"]
        hidden = {"column": None, "disabled": False, "hide_code": True, "expand_output": False}

        def cells() -> list[tuple[str, str]]:
            state = alice.get("/api/notebooks/saves/state").json()
            return [(cell["cell_id"], cell["preview"]) for cell in state["cells"]]

        def save(of: list[tuple[str, str]]) -> httpx2.Response:
            body = {
                "cellIds": [i for i, _ in of],
                "codes": [code for _, code in of],
                "names": ["_"] * len(of),
                "configs": [hidden if i == a else {} for i, _ in of],
                "filename": "saves.py",
                "layout": None,
                "persist": True,
            }
            return alice.post("/nb/saves/api/kernel/save", json=body, headers=session)

        editor = cells()  # what the editor knows (every cell is one short line)
        # Changes it has not heard of yet: a cell added, one edited, one deleted.
        reply = alice.post(
            "/api/notebooks/saves/cells/execute",
            json={"cell_ids": ["s-new", b], "codes": ["added_meanwhile = 1", "sb = 2"]},
        )
        assert reply.status_code == 200, reply.text
        added = reply.json()["cell_ids"][0]
        assert alice.delete(f"/api/notebooks/saves/cells/{c}").status_code == 200
        now = cells()

        saved = save(editor)
        assert saved.status_code == 200, saved.text
        assert cells() == now
        assert (b, "sb = 2") in now
        assert added in dict(now)
        assert c not in dict(now)
        text = notebook_file(server, "default", "saves.py").read_text()
        assert "added_meanwhile = 1" in text
        assert "sb = 2" in text
        assert "sc = 1" not in text
        assert "@app.cell(hide_code=True)\ndef _():\n    sa = 1" in text  # the editor's

        # Having heard of them, the person deletes the cell added and types the edited one
        # back: the editor sends its writes to marimo's document first, then saves.
        mine = [(i, "sb = 1" if i == b else code) for i, code in now if i != added]
        writes = {
            "changes": [
                {"type": "delete-cell", "cellId": added},
                {"type": "set-code", "cellId": b, "code": "sb = 1"},
            ]
        }
        reply = alice.post("/nb/saves/api/document/transaction", json=writes, headers=session)
        assert reply.status_code == 200, reply.text
        assert save(mine).status_code == 200
        assert cells() == mine
        text = notebook_file(server, "default", "saves.py").read_text()
        assert "added_meanwhile = 1" not in text
        assert "sb = 1" in text
        alice.post("/api/notebooks/saves/close")


def test_concurrent_executes_with_one_new_id_make_one_cell(
    server: HexaServer, opened: dict[str, str]
) -> None:
    """Two clients send the same new id at once (found by bench/load.py: the second was
    refused with "multiply-defined"): the kernel, which runs batches one at a time, makes
    the cell once and the other call updates it."""
    body = {"cell_ids": ["racer"], "codes": ["racer_value = 7"]}

    def send() -> httpx2.Response:
        with server.client() as http:
            return http.post("/api/notebooks/first/cells/execute", json=body)

    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: send(), range(4)))
    assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
    ids = {r.json()["cell_ids"][0] for r in replies}
    assert len(ids) == 1
    with server.client() as http:
        state = http.get("/api/notebooks/first/state").json()
    assert sum("racer_value" in c["preview"] for c in state["cells"]) == 1
    assert state["errors"] == []


def test_execute_with_mismatched_lists_is_422(alice: httpx2.Client, opened: dict[str, str]) -> None:
    reply = alice.post(
        "/api/notebooks/first/cells/execute", json={"cell_ids": ["x", "y"], "codes": ["1"]}
    )
    assert reply.status_code == 422


def test_unknown_cell_and_notebook_are_404(alice: httpx2.Client, opened: dict[str, str]) -> None:
    assert alice.delete("/api/notebooks/first/cells/nope").status_code == 404
    assert alice.get("/api/notebooks/nope/state").status_code == 404
    assert alice.post("/api/notebooks/nope/close").status_code == 404


def test_proxy_serves_marimo_ui_without_leaking_upstream(
    alice: httpx2.Client, opened: dict[str, str]
) -> None:
    page = alice.get("/nb/first/")
    assert page.status_code == 200
    assert "marimo" in page.text.lower()
    asset = re.search(r'(?:src|href)="\./(assets/[^"]+\.js)"', page.text)
    assert asset is not None
    reply = alice.get(f"/nb/first/{asset.group(1)}")
    assert reply.status_code == 200
    redirect = alice.get("/nb/first", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/nb/first/"
    for value in page.headers.values():
        assert "127.0.0.1:" not in value or value.startswith(alice.base_url.host)


def test_a_marimo_error_answer_does_not_break_the_next_request(
    alice: httpx2.Client, opened: dict[str, str]
) -> None:
    # marimo answers 500 to a missing file and then drops that connection; the proxy must
    # not send the next request (a POST it cannot simply repeat) down the dropped one.
    for _ in range(15):
        missing = alice.post("/nb/first/api/files/file_details", json={"path": "/no/such.db"})
        assert missing.status_code == 500, missing.text
        listing = alice.post("/nb/first/api/files/list_files", json={"path": "/"})
        assert listing.status_code == 200, listing.text
        assert listing.json()["files"]


def test_proxy_websocket_relays_marimo_messages(server: HexaServer, opened: dict[str, str]) -> None:
    async def first_frame() -> dict[str, object]:
        url = server.url.replace("http", "ws") + "/nb/first/ws?session_id=test-viewer&kiosk=true"
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {server.token}"}
        ) as ws:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert isinstance(frame, dict)
            return frame

    frame = asyncio.run(first_frame())
    assert frame["op"] == "kernel-ready"


def test_browser_resume_gets_no_reconnected_banner(
    server: HexaServer, opened: dict[str, str]
) -> None:
    """Every first editor load resumes Hexa's session; marimo's banner about it is dropped."""

    async def frames() -> list[dict[str, object]]:
        url = server.url.replace("http", "ws") + "/nb/first/ws?session_id=browser-like"
        seen: list[dict[str, object]] = []
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {server.token}"}
        ) as ws:
            try:
                while True:
                    seen.append(json.loads(await asyncio.wait_for(ws.recv(), 3)))
            except TimeoutError:
                return seen

    seen = asyncio.run(frames())
    ready = next(f for f in seen if f["op"] == "kernel-ready")
    assert isinstance(ready["data"], dict)
    assert ready["data"]["resumed"] is True
    assert not [f for f in seen if f["op"] == "banner"]


def test_other_user_reaches_nothing_of_alice(
    server: HexaServer, bob: httpx2.Client, bob_token: str, opened: dict[str, str]
) -> None:
    assert bob.get("/api/notebooks").json() == []
    requests: list[tuple[str, str, dict[str, object] | None]] = [
        ("GET", "/api/notebooks/first", None),
        ("GET", "/api/notebooks/first/state", None),
        ("GET", "/api/notebooks/first/code", None),
        ("POST", "/api/notebooks/first/close", None),
        ("POST", "/api/notebooks/first/restart", None),
        ("PATCH", "/api/notebooks/first", {"name": "mine"}),
        ("DELETE", "/api/notebooks/first", None),
        ("POST", "/api/notebooks/first/cells/execute", {"cell_ids": ["x"], "codes": ["1"]}),
        ("DELETE", "/api/notebooks/first/cells/abc", None),
        ("GET", "/nb/first/", None),
        ("POST", "/nb/first/api/kernel/run", {"cellIds": [], "codes": []}),
        ("GET", "/first", None),
    ]
    for method, path, body in requests:
        reply = bob.request(method, path, json=body)
        assert reply.status_code in (403, 404), (method, path, reply.status_code)
    # Opening her notebook id is refused too.
    reply = bob.post("/api/notebooks/open", json={"notebook_id": "first", "notebook_path": "x.py"})
    assert reply.status_code in (403, 404, 409)

    async def ws_refused() -> None:
        url = server.url.replace("http", "ws") + "/nb/first/ws?session_id=bob"
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(
                url, additional_headers={"Authorization": f"Bearer {bob_token}"}
            ):
                pass
        assert info.value.response.status_code == 403

    asyncio.run(ws_refused())


@pytest.mark.parametrize(
    "path",
    ["../escape.py", "/etc/passwd.py", "a/../../b.py", "nul\x00.py", "notes.txt", "link/x.py", ""],
)
def test_bad_paths_are_400(server: HexaServer, alice: httpx2.Client, path: str) -> None:
    outside = server.data_dir / "outside"
    outside.mkdir(exist_ok=True)
    link = notebook_file(server, "default", "link")
    if not link.exists():
        os.symlink(outside, link)
    reply = alice.post("/api/notebooks/open", json={"notebook_id": "bad", "notebook_path": path})
    assert reply.status_code == 400, reply.text
    assert "detail" in reply.json()
    assert not (outside / "x.py").exists()


def test_malformed_json_and_wrong_types_are_422(alice: httpx2.Client) -> None:
    reply = alice.post(
        "/api/notebooks/open", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 422
    reply = alice.post("/api/notebooks/open", json={"notebook_id": 5, "notebook_path": ["x"]})
    assert reply.status_code == 422
    reply = alice.post("/api/notebooks/open", json={"notebook_id": "a b", "notebook_path": "x.py"})
    assert reply.status_code == 422


def test_body_over_the_limit_is_413(alice: httpx2.Client) -> None:
    reply = alice.post("/create-notebook", json={"content": "x" * 300_000})
    assert reply.status_code == 413
    assert "max_body_bytes" in reply.json()["detail"]


def test_a_notebook_with_errors_in_its_cells_opens_so_they_can_be_fixed(
    server: HexaServer, alice: httpx2.Client
) -> None:
    """marimo opens a notebook whose cells break its rules (a name defined twice) and shows
    the errors; so does Hexa, and the agent can fix it. A file marimo cannot load at all is
    still refused (422) before any process starts."""
    twice = (
        "import marimo\napp = marimo.App()\n\n@app.cell\ndef _():\n    x = 1\n    return (x,)\n"
        "\n@app.cell\ndef _():\n    x = 2\n    return (x,)\n"
    )
    notebook_file(server, "default", "twice.py").write_text(twice)
    reply = alice.post(
        "/api/notebooks/open", json={"notebook_id": "twice", "notebook_path": "twice.py"}
    )
    assert reply.status_code == 200, reply.text
    try:
        state = alice.get("/api/notebooks/twice/state").json()
        assert state["errors"], state
        second = state["cells"][1]["cell_id"]
        chat = alice.post(
            "/api/chat",
            json={"notebook_id": "twice", "message": f"edit cell {second}: ```python\ny = 2\n```"},
        )
        assert chat.status_code == 200, chat.text
        assert alice.get("/api/notebooks/twice/state").json()["errors"] == []
    finally:
        alice.post("/api/notebooks/twice/close")
    notebook_file(server, "default", "prose.py").write_text("this is not python at all\n")
    refused = alice.post(
        "/api/notebooks/open", json={"notebook_id": "prose", "notebook_path": "prose.py"}
    )
    assert refused.status_code == 422
    assert "prose.py is not a notebook marimo can open" in refused.json()["detail"]


def test_create_notebook_validates_with_marimo(server: HexaServer, alice: httpx2.Client) -> None:
    reply = alice.post("/create-notebook", json={"content": "def broken(:\n  pass\n"})
    assert reply.status_code == 422
    body = reply.json()
    assert body["diagnostics"]
    text = "import marimo\napp = marimo.App()\n\n@app.cell\ndef _():\n    x = 1\n    return (x,)\n"
    reply = alice.post("/create-notebook", json={"content": text, "name": "from llm"})
    assert reply.status_code == 200, reply.text
    created = reply.json()
    assert set(created) >= {"notebook_id", "name", "path", "url"}
    saved = notebook_file(server, "default", created["path"]).read_text()
    assert "x = 1" in saved
    # The path it gives is one `open` accepts.
    reply = alice.post(
        "/api/notebooks/open",
        json={"notebook_id": created["notebook_id"], "notebook_path": created["path"]},
    )
    assert reply.status_code == 200, reply.text
    # And /{notebook_name} finds it and sends the browser to its editor.
    reply = alice.get(f"/{created['name']}", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == created["url"]
    alice.post(f"/api/notebooks/{created['notebook_id']}/close")


def test_caps_give_clear_errors(
    server: HexaServer, alice: httpx2.Client, bob: httpx2.Client, opened: dict[str, str]
) -> None:
    # alice has "first" open; the per-user cap is 2, the global cap 3.
    assert alice.post(
        "/api/notebooks/open", json={"notebook_id": "second", "notebook_path": "second.py"}
    ).is_success
    reply = alice.post(
        "/api/notebooks/open", json={"notebook_id": "third", "notebook_path": "third.py"}
    )
    assert reply.status_code == 409
    assert "max_notebooks_per_user" in reply.json()["detail"]
    assert bob.post(
        "/api/notebooks/open", json={"notebook_id": "bob1", "notebook_path": "b1.py"}
    ).is_success
    reply = bob.post("/api/notebooks/open", json={"notebook_id": "bob2", "notebook_path": "b2.py"})
    assert reply.status_code == 429
    assert "max_processes" in reply.json()["detail"]
    alice.post("/api/notebooks/second/close")
    bob.post("/api/notebooks/bob1/close")


def test_cookie_sign_in_and_csrf(server: HexaServer) -> None:
    with httpx2.Client(base_url=server.url) as browser:
        reply = browser.get(f"/?token={server.token}", follow_redirects=False)
        assert reply.status_code == 303
        assert reply.headers["location"] == "/"
        cookie = reply.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert browser.get("/api/notebooks").status_code == 200
        # A state change riding on the cookie needs a same-origin Origin.
        reply = browser.post("/api/notebooks", json={"name": "csrf"})
        assert reply.status_code == 403
        reply = browser.post(
            "/api/notebooks", json={"name": "csrf"}, headers={"Origin": "http://evil.example"}
        )
        assert reply.status_code == 403
        reply = browser.post(
            "/api/notebooks", json={"name": "csrf ok"}, headers={"Origin": server.url}
        )
        assert reply.status_code == 201, reply.text


def test_user_add_prints_token_last(server: HexaServer) -> None:
    token = server.add_user("carol")
    with server.client(token) as carol:
        me = carol.get("/api/me").json()
        assert me["name"] == "carol"
        assert me["max_notebooks_per_user"] == 2


def test_restart_keeps_users_and_notebooks(tmp_path: Path, store_env: dict[str, str]) -> None:
    with running_server(tmp_path, **store_env) as srv:
        token = srv.add_user("dave")
        with srv.client(token) as dave:
            assert dave.post("/api/notebooks", json={"name": "kept"}).status_code == 201
    with running_server(tmp_path, **store_env) as srv, srv.client(token) as dave:
        names = [n["name"] for n in dave.get("/api/notebooks").json()]
        assert names == ["kept"]
