"""A person's way through a Hexa in a container, over HTTP as a browser goes: the sign-in
URL that `hexa serve` prints, the session cookie, a notebook, the agent (builtin model).

Every wait is for an event (an answer, a file's content, a state) with a deadline.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2


def wait_for(what: str, check: Callable[[], bool], timeout: float, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(step)


def healthy(url: str) -> bool:
    try:
        reply = httpx2.get(f"{url}/health", timeout=2)
    except httpx2.TransportError:
        return False
    return reply.status_code == 200 and reply.json().get("status") == "ok"


def wait_healthy(url: str, running: Callable[[], bool], timeout: float = 120) -> None:
    """`/health` answers ok; fails at once when the container has stopped."""

    def ready() -> bool:
        if healthy(url):
            return True
        assert running(), "the container stopped before /health answered"
        return False

    wait_for(f"{url}/health", ready, timeout, step=0.1)


def sign_in_url(log: str) -> str:
    """The token from the line `hexa serve` prints: `Hexa is running at http://…/?token=…`."""
    found = re.search(r"Hexa is running at (http://\S+/\?token=\S+)", log)
    assert found, log
    return found.group(1)


@contextlib.contextmanager
def sign_in(url: str, token: str) -> Iterator[httpx2.Client]:
    """A browser: it opens the printed URL, trades the token for a session cookie, and sends
    its own Origin with every request (Hexa's CSRF check)."""
    with httpx2.Client(base_url=url, headers={"Origin": url}, timeout=120) as browser:
        reply = browser.get(f"/?token={token}", follow_redirects=False)
        assert reply.status_code == 303, reply.text
        assert browser.get("/api/me").status_code == 200
        yield browser


def open_notebook(browser: httpx2.Client, notebook_id: str) -> None:
    reply = browser.post(
        "/api/notebooks/open",
        json={"notebook_id": notebook_id, "notebook_path": f"{notebook_id}.py"},
    )
    assert reply.status_code == 200, reply.text
    # marimo's own editor, through Hexa's proxy, as the UI's tab loads it.
    editor = browser.get(reply.json()["url"], follow_redirects=True)
    assert editor.status_code == 200, editor.text[:500]
    assert "marimo" in editor.text


def chat(browser: httpx2.Client, notebook_id: str, message: str) -> dict[str, Any]:
    reply = browser.post("/api/chat", json={"notebook_id": notebook_id, "message": message})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def agent_adds_and_runs(browser: httpx2.Client, notebook_id: str, code: str) -> dict[str, Any]:
    """The builtin model adds a cell with `code` and runs it."""
    body = chat(browser, notebook_id, f"add a cell:\n```python\n{code}\n```")
    assert body["status"] == "done", body
    assert body["pending_approval"] is None
    assert body["tool_calls"][0]["tool_name"] == "add_cell"
    assert body["tool_calls"][0]["arguments"]["code"] == code
    return body


def cell_holding(browser: httpx2.Client, notebook_id: str, text: str) -> str:
    state = browser.get(f"/api/notebooks/{notebook_id}/state")
    assert state.status_code == 200, state.text
    for cell in state.json()["cells"]:
        if text in cell["preview"]:
            found: str = cell["cell_id"]
            return found
    raise AssertionError(f"no cell with {text!r}: {state.text}")


def wait_file(path: Path, check: Callable[[str], bool], timeout: float = 30) -> str:
    """marimo saves asynchronously: the file on the volume, once it shows the change."""
    wait_for(
        f"{path} as expected",
        lambda: path.is_file() and check(path.read_text()),
        timeout,
    )
    return path.read_text()
