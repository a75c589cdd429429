"""The adversarial suite: from a cell of Alice's notebook, try to reach what is not hers.

(tests/containers/test_notebook_sandbox.py collects it again with HEXA_SANDBOX=docker.)

Real parts only: a real `hexa serve` (SQLite, its proxy), real marimo, real bubblewrap
with the sandbox Hexa picks itself (`auto`), real cgroups where the host allows them. Each
probe runs as notebook code through `cells/execute` and writes what it found into Alice's
own folder, where the test reads it.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import psutil
import pytest

from hexa.sandbox import bwrap_works
from tests.support.server import HexaServer, running_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        bwrap_works(as_root=os.geteuid() == 0) is not None,
        reason="bubblewrap cannot run here (`make test` installs it)",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HexaServer]:
    data = tmp_path_factory.mktemp("hexa-iso")
    with running_server(
        data,
        HEXA_SANDBOX="bwrap",
        HEXA_OPENAI_API_KEY="sk-secret-key-of-hexa",
        HEXA_NOTEBOOK_MEMORY_MB="300",
        HEXA_NOTEBOOK_MAX_PROCESSES="96",
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def alice(server: HexaServer) -> Iterator[httpx2.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def bob(server: HexaServer) -> Iterator[httpx2.Client]:
    with server.client(server.add_user("bob")) as client:
        yield client


@pytest.fixture(scope="module")
def bobs_notebook(bob: httpx2.Client) -> Iterator[str]:
    reply = bob.post("/api/notebooks/open", json={"notebook_id": "b1", "notebook_path": "b.py"})
    assert reply.status_code == 200, reply.text
    ok = bob.post("/api/notebooks/b1/cells/execute", json={"cell_ids": ["s"], "codes": ["s=1"]})
    assert ok.json()["success"], ok.text
    yield "b1"
    bob.post("/api/notebooks/b1/close")


@pytest.fixture(scope="module")
def alices_notebook(alice: httpx2.Client) -> Iterator[str]:
    reply = alice.post("/api/notebooks/open", json={"notebook_id": "a1", "notebook_path": "a.py"})
    assert reply.status_code == 200, reply.text
    yield "a1"
    alice.post("/api/notebooks/a1/close")


def probe(
    server: HexaServer, client: httpx2.Client, notebook: str, name: str, body: str, owner: str
) -> dict[str, Any]:
    """Run `body` (which fills the dict `found`) in a cell of `notebook`; what it found.

    The body runs inside a function so its names stay private to the cell (marimo allows
    each global name in one cell only); the result goes to a file in the owner's folder.
    """
    code = (
        "def _probe(found):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n_found = {}\n_probe(_found)\nimport json as _json\n"
        + f"with open({name + '.json'!r}, 'w') as _fh:\n    _json.dump(_found, _fh)\n"
    )
    reply = client.post(
        f"/api/notebooks/{notebook}/cells/execute", json={"cell_ids": [name], "codes": [code]}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["success"], reply.text
    result: dict[str, Any] = json.loads(
        (server.data_dir / "notebooks" / owner / f"{name}.json").read_text()
    )
    return result


def test_other_users_files_and_hexas_data_are_not_there(
    server: HexaServer, alice: httpx2.Client, alices_notebook: str, bobs_notebook: str
) -> None:
    data = server.data_dir.resolve()
    found = probe(
        server,
        alice,
        alices_notebook,
        "files",
        f"""
        import os
        data = {str(data)!r}
        def attempt(path, mode="r"):
            try:
                with open(path, mode) as fh:
                    fh.read(1) if "r" in mode else fh.write("x")
                return "opened"
            except OSError as exc:
                return type(exc).__name__
        found["bob_file"] = attempt(data + "/notebooks/bob/b.py")
        found["bob_write"] = attempt(data + "/notebooks/bob/evil.py", "w")
        found["data_listing"] = sorted(os.listdir(data)) if os.path.isdir(data) else []
        found["homes"] = sorted(os.listdir("/home"))
        found["cwd"] = os.getcwd()
        found["db_read"] = attempt(data + "/hexa.db", "rb")
        found["db_write"] = attempt(data + "/hexa.db", "ab")
        found["logs"] = attempt(data + "/logs/a1.log")
        found["run"] = os.path.exists(data + "/run")
        found["server_log"] = attempt(data + "/server.log")
        found["etc_write"] = attempt("/etc/hexa-evil", "w")
        found["own_write"] = attempt("mine.txt", "w")
        found["uid"] = os.getuid()
        """,
        "default",
    )
    assert found["bob_file"] == "FileNotFoundError"
    assert found["bob_write"] == "FileNotFoundError"
    # An empty stand-in: at most the empty mount point of Hexa's own (hidden) HOME.
    assert not {"hexa.db", "notebooks", "logs", "run"} & set(found["data_listing"])
    assert found["homes"] == ["default"], "only Alice's own HOME is in the sandbox"
    assert found["cwd"] == "/home/default/notebooks"
    assert found["db_read"] == "FileNotFoundError"
    # bwrap: the data dir is an empty, read-only stand-in; a container: it is not there.
    assert found["db_write"] in ("PermissionError", "FileNotFoundError")
    assert found["logs"] == found["server_log"] == "FileNotFoundError"
    assert found["run"] is False
    assert found["etc_write"] in ("OSError", "PermissionError")  # read-only file system
    assert found["own_write"] == "opened"
    assert (server.data_dir / "notebooks" / "default" / "mine.txt").read_text() == "x"
    assert not (server.data_dir / "notebooks" / "bob" / "evil.py").exists()
    if os.geteuid() == 0:
        assert found["uid"] != 0, "as root, each user's code runs under a uid of its own"


def test_no_process_of_hexa_or_other_users_is_visible(
    server: HexaServer, alice: httpx2.Client, alices_notebook: str, bobs_notebook: str
) -> None:
    found = probe(
        server,
        alice,
        alices_notebook,
        "procs",
        """
        import os
        found["cmdlines"] = []
        found["environ_secrets"] = []
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    found["cmdlines"].append(fh.read().decode(errors="replace"))
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    env = fh.read().decode(errors="replace")
            except OSError:
                continue
            for mark in ("HEXA_", "API_KEY", "sk-secret"):
                if mark in env:
                    found["environ_secrets"].append(f"{pid}: {mark}")
        found["own_env"] = sorted(os.environ)
        """,
        "default",
    )
    joined = "\n".join(found["cmdlines"])
    assert "hexa" not in joined.replace("hexa-", ""), joined
    assert "uvicorn" not in joined
    assert "b.py" not in joined, "Bob's marimo is not in Alice's PID namespace"
    assert found["environ_secrets"] == []
    assert not [k for k in found["own_env"] if k.startswith("HEXA_") or "API_KEY" in k]


def test_marimos_file_api_through_the_proxy_sees_only_the_sandbox(
    server: HexaServer, alice: httpx2.Client, alices_notebook: str, bobs_notebook: str
) -> None:
    data = server.data_dir.resolve()
    for path in (f"{data}/hexa.db", f"{data}/notebooks/bob/b.py", f"{data}/logs/a1.log"):
        reply = alice.post(f"/nb/{alices_notebook}/api/files/file_details", json={"path": path})
        assert "SQLite" not in reply.text
        assert "s=1" not in reply.text
        assert reply.status_code >= 400 or '"contents":null' in reply.text, reply.text
    # Listing folders shows the sandbox's view: Alice's own HOME only, no data dir.
    homes = alice.post(f"/nb/{alices_notebook}/api/files/list_files", json={"path": "/home"})
    assert homes.status_code == 200, homes.text
    assert [f["name"] for f in homes.json()["files"]] == ["default"]
    data_listing = alice.post(
        f"/nb/{alices_notebook}/api/files/list_files", json={"path": str(data)}
    )
    assert "hexa.db" not in data_listing.text
    assert "notebooks" not in data_listing.text
    environ = alice.post(
        f"/nb/{alices_notebook}/api/files/file_details", json={"path": "/proc/1/environ"}
    )
    assert "HEXA_" not in environ.text
    assert "sk-secret" not in environ.text
    assert server.token not in environ.text


def test_marimo_cookie_stays_inside_hexa(
    server: HexaServer, alice: httpx2.Client, alices_notebook: str
) -> None:
    page = alice.get(f"/nb/{alices_notebook}/")
    assert page.status_code == 200, page.text
    assert "set-cookie" not in page.headers
    assert not [c for c in alice.cookies.jar if c.name.startswith("session_")]
    assert alice.get(f"/nb/{alices_notebook}/auth/token").status_code == 404
    # Even a cookie marimo did hand out is useless to someone who reaches its port.
    port, base = alices_marimo("a.py")
    cookie = f"session_{port}{base.replace('/', '_')}"
    direct = httpx2.get(
        f"http://127.0.0.1:{port}{base}/api/status", cookies={cookie: "forged"}, timeout=10
    )
    assert direct.status_code in (401, 403)


def test_logs_hold_no_token(server: HexaServer, alices_notebook: str) -> None:
    # One log per marimo: a notebook's, or a person's (named for them) with one per person.
    logs = list((server.data_dir / "logs").glob("*.log"))
    assert logs
    texts = [log.read_text() for log in logs]
    assert any("access_token=[redacted]" in text for text in texts), texts
    assert not [text for text in texts if re.search(r"access_token=(?!\[redacted\])", text)]
    assert all(log.stat().st_mode & 0o077 == 0 for log in logs), "the logs are Hexa's alone"


def test_own_work_keeps_working(
    server: HexaServer, alice: httpx2.Client, alices_notebook: str
) -> None:
    found = probe(
        server,
        alice,
        alices_notebook,
        "work",
        """
        import pandas as pd, duckdb, matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        frame = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
        found["sum"] = int(duckdb.sql("select sum(v) from frame where k = 'a'").fetchall()[0][0])
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        fig.savefig("plot.png")
        found["groups"] = frame.groupby("k")["v"].sum().to_dict()
        """,
        "default",
    )
    assert found == {"sum": 4, "groups": {"a": 4, "b": 2}}
    assert (server.data_dir / "notebooks" / "default" / "plot.png").stat().st_size > 1000


def test_a_memory_hog_fails_its_own_notebook_only(
    server: HexaServer, alice: httpx2.Client, bob: httpx2.Client, bobs_notebook: str
) -> None:
    opened = alice.post(
        "/api/notebooks/open", json={"notebook_id": "hog", "notebook_path": "hog.py"}
    )
    assert opened.status_code == 200, opened.text
    # 1 GiB written byte by byte against a 300 MiB limit: the kernel is OOM-killed.
    reply = alice.post(
        "/api/notebooks/hog/cells/execute",
        json={"cell_ids": ["h"], "codes": ["hog = b'x' * (1024 ** 3)"]},
    )
    # The call ends when the kernel does (marimo itself would hold its stream open), as
    # a notebook that is not running.
    assert reply.status_code == 503, reply.text
    status = wait_for_status(alice, "hog", "failed")
    assert "out of memory" in (status["reason"] or ""), status
    assert "HEXA_NOTEBOOK_MEMORY_MB" in status["reason"]
    others_still_answer(server, bob, bobs_notebook, "after_hog")
    alice.post("/api/notebooks/hog/close")


def test_a_fork_bomb_hits_its_own_limit(
    server: HexaServer, alice: httpx2.Client, bob: httpx2.Client, bobs_notebook: str
) -> None:
    opened = alice.post(
        "/api/notebooks/open", json={"notebook_id": "bomb", "notebook_path": "bomb.py"}
    )
    assert opened.status_code == 200, opened.text
    bomb = textwrap.dedent(
        """
        import os, time
        children, error = 0, None
        deadline = time.monotonic() + 60
        while children < 10_000 and time.monotonic() < deadline:
            try:
                pid = os.fork()
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
                break
            if pid == 0:
                time.sleep(120)
                os._exit(0)
            children += 1
        bomb = (children, error)
        print(bomb)
        """
    )
    reply = alice.post(
        "/api/notebooks/bomb/cells/execute", json={"cell_ids": ["f"], "codes": [bomb]}
    )
    assert reply.status_code == 200, reply.text
    # While its children hold every process slot it has, Hexa and Bob carry on.
    others_still_answer(server, bob, bobs_notebook, "after_bomb")
    state = alice.get("/api/notebooks/bomb/state").json()
    value = state["variables"]["bomb"]["value"]
    assert "BlockingIOError" in value, value  # EAGAIN from fork: the pids limit
    children = int(value.strip("()").split(",")[0])
    assert children < 96
    alice.post("/api/notebooks/bomb/close")
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if "bomb.py" in " ".join(p.info["cmdline"] or [])
    ], "closing the notebook takes every forked child with it"


def others_still_answer(server: HexaServer, bob: httpx2.Client, notebook: str, name: str) -> None:
    """Hexa answers, and Bob's notebook still runs a new cell."""
    assert httpx2.get(server.url + "/health", timeout=10).status_code == 200
    fine = bob.post(
        f"/api/notebooks/{notebook}/cells/execute",
        json={"cell_ids": [name], "codes": [f"{name} = s + 1"]},
    )
    assert fine.json()["success"], fine.text


def wait_for_status(client: httpx2.Client, notebook: str, status: str) -> dict[str, Any]:
    """Poll the notebook's status until it is `status` (bounded: 60 checks)."""
    for _ in range(600):
        view: dict[str, Any] = client.get(f"/api/notebooks/{notebook}").json()
        if view["status"] == status:
            return view
        time.sleep(0.1)  # a bounded poll on the state, not a guess at how long it takes
    raise AssertionError(f"{notebook} never became {status}: {view}")


def alices_marimo(file_name: str) -> tuple[int, str]:
    """Port and base path of the marimo that serves Alice's `file_name`: one of its own
    (with a server per notebook), or the one serving her folder (one per person)."""
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd[1:4] != ["-m", "marimo", "edit"]:
            continue
        if cmd[4].endswith(file_name) or cmd[4] == "/home/default/notebooks":
            base = cmd[cmd.index("--base-url") + 1] if "--base-url" in cmd else ""
            return int(cmd[cmd.index("--port") + 1]), base
    raise AssertionError(f"no marimo serves {file_name}")


def test_pip_install_goes_to_the_users_own_packages(
    server: HexaServer, alice: httpx2.Client, alices_notebook: str
) -> None:
    found = probe(
        server,
        alice,
        alices_notebook,
        "pip",
        """
        import importlib, subprocess, sys
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "pyjokes"],
            capture_output=True, text=True, timeout=120,
        )
        found["code"] = done.returncode
        found["stderr"] = done.stderr[-2000:]
        if done.returncode == 0:
            importlib.invalidate_caches()
            found["imported"] = importlib.import_module("pyjokes").__file__
        """,
        "default",
    )
    unreachable = ("could not find a version", "network", "connection", "resolve")
    if found["code"] != 0 and any(m in found["stderr"].lower() for m in unreachable):
        pytest.skip(f"no package index reachable: {found['stderr'][-300:]}")
    assert found["code"] == 0, found["stderr"]
    assert found["imported"].startswith("/home/default/.local/lib/hexa-packages/"), found
    assert (server.data_dir / "home" / "default" / ".local/lib/hexa-packages/pyjokes").is_dir()
