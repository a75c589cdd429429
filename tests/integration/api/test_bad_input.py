"""Bad input gets a clear 4xx and loses nothing; one file is one notebook.

Real parts: a real `hexa serve` (SQLite and PostgreSQL, its proxy, marimo in its sandbox).
Each request that once gave a 500 is followed by another on the same keep-alive connection,
which must still be answered.
"""

from __future__ import annotations

import httpx2
import pytest

from tests.support.server import HexaServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def still_answers(api: httpx2.Client) -> None:
    assert api.get("/api/me").status_code == 200


def listed(api: httpx2.Client) -> dict[str, str]:
    return {n["notebook_id"]: n["path"] for n in api.get("/api/notebooks").json()}


def test_spellings_of_one_file_are_one_notebook(api: httpx2.Client) -> None:
    first = api.post("/api/notebooks/open", json={"notebook_id": "dup", "notebook_path": "dup.py"})
    assert first.status_code == 200, first.text
    for spelling in ("dup.py/", "./dup.py", ".//dup.py"):
        again = api.post(
            "/api/notebooks/open", json={"notebook_id": "dup2", "notebook_path": spelling}
        )
        assert again.status_code == 409, again.text
        assert "already open as notebook dup" in again.json()["detail"]
        same = api.post(
            "/api/notebooks/open", json={"notebook_id": "dup", "notebook_path": spelling}
        )
        assert same.status_code == 200, same.text
    nested = api.post(
        "/api/notebooks/open", json={"notebook_id": "nested", "notebook_path": "sub//n.py"}
    )
    assert nested.status_code == 200, nested.text
    assert listed(api)["nested"] == "sub/n.py"
    assert "dup2" not in listed(api)
    api.post("/api/notebooks/dup/close")
    api.post("/api/notebooks/nested/close")


@pytest.mark.parametrize(
    "path",
    [
        "x" * 236 + ".py",  # 240 characters: its atomic save's temporary name would not fit
        "é" * 120 + ".py",  # 243 bytes of UTF-8 in one name
        "a/" + "b" * 250 + ".py",
    ],
)
def test_over_long_names_are_400(api: httpx2.Client, path: str) -> None:
    reply = api.post("/api/notebooks/open", json={"notebook_id": "long", "notebook_path": path})
    assert reply.status_code == 400, reply.text
    assert "long" not in listed(api)
    still_answers(api)


def test_a_folder_where_a_file_should_be_is_400_and_leaves_no_row(api: httpx2.Client) -> None:
    made = api.post(
        "/api/notebooks/open", json={"notebook_id": "inner", "notebook_path": "dir.py/x.py"}
    )
    assert made.status_code == 200, made.text
    api.post("/api/notebooks/inner/close")
    reply = api.post(
        "/api/notebooks/open", json={"notebook_id": "outer", "notebook_path": "dir.py"}
    )
    assert reply.status_code == 400, reply.text
    assert "is a folder" in reply.json()["detail"]
    assert "outer" not in listed(api)
    under_file = api.post(
        "/api/notebooks/open", json={"notebook_id": "under", "notebook_path": "dir.py/x.py/y.py"}
    )
    assert under_file.status_code == 400, under_file.text
    still_answers(api)


def test_a_file_that_is_not_utf8_is_422(server: HexaServer, api: httpx2.Client) -> None:
    folder = server.data_dir / "notebooks" / "default"
    (folder / "latin.py").write_bytes(b"import marimo\n# caf\xe9\napp = marimo.App()\n")
    reply = api.post(
        "/api/notebooks/open", json={"notebook_id": "latin", "notebook_path": "latin.py"}
    )
    assert reply.status_code == 422, reply.text
    assert "not UTF-8" in reply.json()["detail"]
    assert api.get("/api/notebooks/latin/code").status_code == 422
    still_answers(api)


def test_a_lone_surrogate_is_400(api: httpx2.Client) -> None:
    opened = api.post("/api/notebooks/open", json={"notebook_id": "sur", "notebook_path": "s.py"})
    assert opened.status_code == 200, opened.text
    reply = api.post(
        "/api/notebooks/sur/cells/execute",
        content=b'{"cell_ids": ["c1"], "codes": ["\\ud800"]}',
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 400, reply.text
    still_answers(api)
    api.post("/api/notebooks/sur/close")


@pytest.mark.parametrize(
    "url", ["/api/notebooks/dup/chat?after_id=", "/api/notebooks/dup/audit?before_id="]
)
def test_row_ids_past_64_bits_are_422(api: httpx2.Client, url: str) -> None:
    reply = api.get(url + str(2**63))
    assert reply.status_code == 422, reply.text
    still_answers(api)


def test_text_with_nul_is_kept_as_sent(api: httpx2.Client) -> None:
    """PostgreSQL's text cannot hold NUL; the store keeps it anyway, as SQLite does."""
    created = api.post("/api/notebooks", json={"name": "nul", "notebook_path": "nul.py"})
    assert created.status_code == 201, created.text
    notebook_id = created.json()["notebook_id"]
    renamed = api.patch(f"/api/notebooks/{notebook_id}", json={"name": "a\x00b"})
    assert renamed.status_code == 200, renamed.text
    assert api.get(f"/api/notebooks/{notebook_id}").json()["name"] == "a\x00b"
    said = api.post("/api/chat", json={"notebook_id": notebook_id, "message": "hi\x00there"})
    assert said.status_code == 200, said.text
    history = api.get(f"/api/notebooks/{notebook_id}/chat").json()["messages"]
    assert "hi\x00there" in [m["content"] for m in history]
    still_answers(api)
    assert api.delete(f"/api/notebooks/{notebook_id}").status_code in (200, 204)


def test_a_shared_display_name_is_not_silently_resolved(api: httpx2.Client) -> None:
    one = api.post("/api/notebooks", json={"name": "Twin", "notebook_path": "twin1.py"})
    two = api.post("/api/notebooks", json={"name": "Twin", "notebook_path": "twin2.py"})
    assert one.status_code == two.status_code == 201
    reply = api.get("/Twin", follow_redirects=False)
    assert reply.status_code == 409, reply.text
    detail = reply.json()["detail"]
    assert one.json()["notebook_id"] in detail
    assert two.json()["notebook_id"] in detail
    by_id = api.get(f"/{one.json()['notebook_id']}", follow_redirects=False)
    assert by_id.status_code in (302, 303, 307)


def test_a_closed_notebook_is_not_restarted_by_background_requests(api: httpx2.Client) -> None:
    opened = api.post("/api/notebooks/open", json={"notebook_id": "bg", "notebook_path": "bg.py"})
    assert opened.status_code == 200, opened.text
    assert api.post("/api/notebooks/bg/close").status_code == 200
    background = api.get("/nb/bg/api/status")
    assert background.status_code == 503, background.text
    assert api.get("/api/notebooks/bg").json()["status"] == "stopped"
    page = api.get("/nb/bg/")
    assert page.status_code == 200
    assert api.get("/api/notebooks/bg").json()["status"] == "running"
    api.post("/api/notebooks/bg/close")


def test_a_huge_mermaid_chart_is_413_and_stalls_no_one(api: httpx2.Client) -> None:
    chain = "flowchart TD\n" + "\n".join(f"n{i} --> n{i + 1}" for i in range(3000))
    reply = api.post("/api/notebooks/generate", json={"mermaid": chain})
    assert reply.status_code == 413, reply.text
    assert "at most" in reply.json()["detail"]
    still_answers(api)


def test_import_honours_max_code_bytes(api: httpx2.Client) -> None:
    big = "x = 1\n" * 50_000  # 300 KB in one cell; max_code_bytes is 256 KiB
    reply = api.post(
        "/api/notebooks/import", files={"file": ("big.py", big.encode(), "text/x-python")}
    )
    assert reply.status_code == 413, reply.text
    assert "max_code_bytes" in reply.json()["detail"]
