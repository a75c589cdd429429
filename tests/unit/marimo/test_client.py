"""MarimoClient's HTTP handling against a fake of marimo's HTTP API.

`FakeMarimo` is NOT marimo: it is an httpx2.MockTransport handler that answers with the
shapes marimo 0.25.2 was seen to use (research §3-§5), including its odd ones. The real
protocol is checked by tests/integration/marimo against real marimo processes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from http.cookiejar import Cookie
from typing import Any

import httpx2
import pytest

from hexa.marimo.client import MarimoClient, make_http_client
from hexa.marimo.errors import (
    CellConflictError,
    CellNotFoundError,
    CodeModeError,
    EditModeRequiredError,
    MarimoAuthError,
    MarimoNotRunningError,
    MarimoSessionError,
    MarimoTimeoutError,
)
from hexa.marimo.models import CellState, EditCell, RunCell
from hexa.marimo.saves import Applied, digest
from hexa.marimo.saves import NewCell as AppliedCell
from hexa.marimo.transport import Connection

BASE = "http://127.0.0.1:4321/nb/abc"
TOKEN = "secret-token"
MARKER = re.compile(r"__hexa_[0-9a-f]{16}__ ")


def sse(*events: tuple[str, Any]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events
    )


def done(success: bool = True) -> tuple[str, Any]:
    return ("done", {"success": success, "output": {"mimetype": "text/plain", "data": ""}})


class FakeMarimo:
    """Answers like marimo's HTTP API, and records what it was sent."""

    def __init__(self) -> None:
        self.sessions = {"hexa-1": "sess-1"}  # ws id -> stable id
        self.requests: list[httpx2.Request] = []
        self.tools: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.execute: Callable[[str], httpx2.Response] = lambda code: httpx2.Response(
            200, content=sse(done())
        )
        self.broken: list[type[httpx2.TransportError]] = []  # raised, in order, before answering

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.broken:
            raise self.broken.pop(0)("broken", request=request)
        path = request.url.path.removeprefix("/nb/abc")
        if path == "/health":
            return httpx2.Response(200, json={"status": "healthy"})
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx2.Response(401, json={"detail": "Authorization header required"})
        if path == "/api/sessions":
            return httpx2.Response(
                200,
                json={
                    k: {"session_id": v, "filename": "nb.py", "path": "/x/nb.py"}
                    for k, v in self.sessions.items()
                },
            )
        if path == "/api/home/shutdown_session":
            closing = json.loads(request.content)["sessionId"]
            self.sessions.pop(closing, None)
            return httpx2.Response(200, json={"files": []})
        if path == "/api/kernel/execute":
            stable = request.headers.get("marimo-stable-session-id")
            if stable not in self.sessions.values():
                return httpx2.Response(404, json={"detail": f"Invalid stable session id: {stable}"})
            return self.execute(json.loads(request.content)["code"])
        # Everything else needs the current ws id; marimo answers a bad one with a 500.
        ws_id = request.headers.get("marimo-session-id")
        if ws_id is None:
            return httpx2.Response(500, json={"detail": "Missing Marimo-Session-Id header"})
        if ws_id not in self.sessions:
            return httpx2.Response(500, json={"detail": f"Invalid session id: {ws_id}"})
        body = json.loads(request.content) if request.content else {}
        if path == "/api/ai/invoke_tool":
            name = body["toolName"]
            if name not in self.tools:
                return httpx2.Response(
                    200,
                    json={
                        "success": False,
                        "toolName": name,
                        "result": None,
                        "error": f"Internal error: Tool '{name}' not found.",
                    },
                )
            return httpx2.Response(200, json=self.tools[name](body["arguments"]))
        if path == "/api/kernel/status":
            return httpx2.Response(200, json={"state": "idle"})
        if path == "/api/kernel/read_code":
            return httpx2.Response(200, json={"contents": "import marimo\n"})
        if path == "/api/kernel/interrupt":
            return httpx2.Response(200, json={"success": True})
        if path == "/api/kernel/format":
            return httpx2.Response(
                200, json={"codes": {k: v.strip() for k, v in body["codes"].items()}}
            )
        if path == "/api/kernel/run":
            return httpx2.Response(
                403, json={"detail": "This connection is read-only for this action."}
            )
        return httpx2.Response(404, json={"detail": "Not Found"})


def tool_ok(result: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda args: {"success": True, "toolName": "t", "result": result, "error": None}


def tool_error(code: str, message: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    payload = json.dumps({"message": message, "code": code, "status": 400})
    return lambda args: {
        "success": False,
        "toolName": "t",
        "result": None,
        "error": f"Error invoking tool 't': {payload}",
    }


@pytest.fixture
async def fake() -> FakeMarimo:
    return FakeMarimo()


@pytest.fixture
async def http(fake: FakeMarimo) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(fake)) as client:
        yield client


@pytest.fixture
def client(http: httpx2.AsyncClient) -> MarimoClient:
    return MarimoClient(BASE, TOKEN, http, stable_session_id="sess-1")


async def test_requests_carry_the_token_and_never_jar_cookies(
    fake: FakeMarimo, http: httpx2.AsyncClient, client: MarimoClient
) -> None:
    http.cookies.jar.set_cookie(_cookie("session_4321_nb_abc", "someone-elses"))
    await client.sessions()
    request = fake.requests[-1]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "cookie" not in request.headers
    assert await client.health()
    assert "authorization" not in fake.requests[-1].headers


async def test_make_http_client_keeps_no_cookies() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"set-cookie": "session_1=abc; Path=/"}, json={})

    http = make_http_client()
    http._transport = httpx2.MockTransport(handler)  # the fake instead of the network
    async with http:
        await http.get("http://127.0.0.1:1/api/status")
        assert len(http.cookies.jar) == 0
        assert http.trust_env is False


def _cookie(name: str, value: str) -> Cookie:
    return Cookie(
        0,
        name,
        value,
        None,
        False,
        "127.0.0.1",
        True,
        False,
        "/",
        True,
        False,
        None,
        False,
        None,
        None,
        {},
    )


async def test_health_is_false_when_nothing_listens(fake: FakeMarimo, client: MarimoClient) -> None:
    fake.broken = [httpx2.ConnectError]
    assert not await client.health()


async def test_stale_ws_id_is_resolved_again(fake: FakeMarimo, client: MarimoClient) -> None:
    fake.tools["get_notebook_errors"] = tool_ok(
        {"has_errors": False, "total_errors": 0, "total_cells_with_errors": 0, "cells": []}
    )
    assert await client.ws_session_id() == "hexa-1"
    # A browser resumed the session: marimo now files it under the browser's ws id.
    fake.sessions = {"browser-1": "sess-1"}
    errors = await client.notebook_errors()
    assert errors["has_errors"] is False
    sent = [(r.url.path, r.headers.get("marimo-session-id")) for r in fake.requests]
    assert sent[-3:] == [
        ("/nb/abc/api/ai/invoke_tool", "hexa-1"),  # HTTP 500 "Invalid session id"
        ("/nb/abc/api/sessions", None),
        ("/nb/abc/api/ai/invoke_tool", "browser-1"),
    ]
    assert json.loads(fake.requests[-1].content)["arguments"]["session_id"] == "browser-1"


async def test_tool_session_not_found_also_refreshes(
    fake: FakeMarimo, client: MarimoClient
) -> None:
    calls: list[str] = []

    def tool(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args["session_id"])
        if len(calls) == 1:
            return tool_error("SESSION_NOT_FOUND", "Session hexa-1 not found")(args)
        return tool_ok({"status": "success", "rules_content": "# rules"})(args)

    fake.tools["get_cell_dependency_graph"] = tool
    graph = await client.dependency_graph()
    assert graph["cells"] == []
    assert len(calls) == 2


async def test_session_gone_for_good(
    fake: FakeMarimo, http: httpx2.AsyncClient, client: MarimoClient
) -> None:
    fake.sessions = {}
    with pytest.raises(MarimoSessionError):
        await client.kernel_status()
    with pytest.raises(MarimoSessionError):
        await MarimoClient(BASE, TOKEN, http).cell_map()  # never opened


async def test_tool_failures(fake: FakeMarimo, client: MarimoClient) -> None:
    fake.tools["get_cell_outputs"] = tool_error(
        "CELL_NOT_FOUND", "Cell zzzz not found in session s"
    )
    with pytest.raises(CellNotFoundError) as err:
        await client.cell_outputs(["zzzz"])
    assert err.value.cell_id == "zzzz"
    fake.tools["get_database_tables"] = tool_error("NO_DATABASES_FOUND", "No databases found.")
    assert await client.database_tables() == []


async def test_tools_without_arguments_get_no_session_id(
    fake: FakeMarimo, client: MarimoClient
) -> None:
    fake.tools["get_marimo_rules"] = tool_ok({"rules_content": "# Marimo rules"})
    assert await client.marimo_rules() == "# Marimo rules"
    request = fake.requests[-1]
    assert json.loads(request.content)["arguments"] == {}
    assert request.headers["marimo-session-id"] == "hexa-1"


async def test_http_errors(http: httpx2.AsyncClient) -> None:
    with pytest.raises(MarimoAuthError):
        await MarimoClient(BASE, "wrong", http).status()
    with pytest.raises(EditModeRequiredError):
        await Connection(BASE, TOKEN, http, stable_session_id="sess-1").session_call(
            "POST", "/api/kernel/run"
        )


async def test_transport_failures(fake: FakeMarimo, client: MarimoClient) -> None:
    fake.broken = [httpx2.ConnectError]
    with pytest.raises(MarimoNotRunningError):
        await client.sessions()
    # One dropped keep-alive connection is retried; two in a row mean marimo is gone.
    fake.broken = [httpx2.ReadError]
    assert [r.stable_session_id for r in await client.sessions()] == ["sess-1"]
    fake.broken = [httpx2.RemoteProtocolError, httpx2.ReadError]
    with pytest.raises(MarimoNotRunningError):
        await client.sessions()
    fake.broken = [httpx2.ReadTimeout]
    with pytest.raises(MarimoTimeoutError):
        await client.sessions()


async def test_plain_kernel_calls(fake: FakeMarimo, client: MarimoClient) -> None:
    assert await client.kernel_status() == "idle"
    assert await client.read_code() == "import marimo\n"
    await client.interrupt()
    assert await client.format({"a": " x = 1 "}, line_length=88) == {"a": "x = 1"}
    assert json.loads(fake.requests[-1].content) == {"codes": {"a": " x = 1 "}, "lineLength": 88}


async def test_execute_parses_the_stream(fake: FakeMarimo, client: MarimoClient) -> None:
    body = sse(
        ("stdout", {"data": "hé"}),
        ("stdout", {"data": "llo\n"}),
        ("stderr", {"data": "warn\n"}),
        ("done", {"success": True, "output": {"mimetype": "text/html", "data": "<b>4</b>"}}),
    )

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 5):
            yield body[i : i + 5]

    fake.execute = lambda code: httpx2.Response(200, content=chunks())
    result = await client.execute("print('hello')", timeout=5)
    assert (result.success, result.stdout, result.stderr) == (True, "héllo\n", "warn\n")
    assert result.output is not None
    assert (result.output.mimetype, result.output.data) == ("text/html", "<b>4</b>")
    request = fake.requests[-1]
    assert request.headers["marimo-stable-session-id"] == "sess-1"
    assert "marimo-session-id" not in request.headers
    assert json.loads(request.content) == {"code": "print('hello')"}


async def test_execute_failures(
    fake: FakeMarimo, client: MarimoClient, http: httpx2.AsyncClient
) -> None:
    with pytest.raises(MarimoSessionError):
        await MarimoClient(BASE, TOKEN, http, stable_session_id="sess-gone").execute("1")
    fake.execute = lambda code: httpx2.Response(200, content=sse(("stdout", {"data": "x"})))
    with pytest.raises(MarimoNotRunningError):
        await client.execute("1", timeout=5)


async def test_execute_timeout_hangs_up(fake: FakeMarimo, client: MarimoClient) -> None:
    closed = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        try:
            yield sse(("stdout", {"data": "started\n"}))
            await asyncio.Event().wait()  # the code runs on and prints nothing more
        finally:
            closed.set()  # hanging up is what makes marimo interrupt the kernel

    fake.execute = lambda code: httpx2.Response(200, content=slow())
    with pytest.raises(MarimoTimeoutError):
        await client.execute("import time; time.sleep(30)", timeout=0.3)
    assert closed.is_set()


def reply_with(
    *lines: dict[str, Any], success: bool = True, stderr: str = ""
) -> Callable[[str], httpx2.Response]:
    """An execute handler that answers with the interpreter's result lines."""

    def handler(code: str) -> httpx2.Response:
        match = MARKER.search(code)
        assert match is not None
        events: list[tuple[str, Any]] = [("stdout", {"data": "cell print\n"})]
        events += [
            ("stdout", {"data": f"\n{match.group(0)}{json.dumps(line)}\n"}) for line in lines
        ]
        if stderr:
            events.append(("stderr", {"data": stderr}))
        events.append(done(success))
        return httpx2.Response(200, content=sse(*events))

    return handler


async def test_edit_results(fake: FakeMarimo, client: MarimoClient) -> None:
    fake.execute = reply_with({"ok": True, "created": ["Ab12"]})
    assert await client.create_cell("x = 1") == "Ab12"

    fake.execute = reply_with({"ok": False, "error": "not_found", "target": "nope"}, success=False)
    with pytest.raises(CellNotFoundError) as missing:
        await client.edit_cell("nope", "x = 2")
    assert missing.value.cell_id == "nope"

    fake.execute = reply_with(
        {"ok": False, "error": "conflict", "target": "Ab12", "code": "x = 3"}, success=False
    )
    with pytest.raises(CellConflictError) as conflict:
        await client.edit_cell("Ab12", "x = 2", expected_code="x = 1")
    assert conflict.value.current_code == "x = 3"

    fake.execute = reply_with(
        {"ok": False, "error": "invalid", "type": "SyntaxError", "message": "'(' was never closed"},
        success=False,
        stderr="Traceback (most recent call last):\nSyntaxError: '(' was never closed\n",
    )
    with pytest.raises(CodeModeError) as invalid:
        await client.create_cell("x = (")
    assert (invalid.value.applied, invalid.value.error_type) == (False, "SyntaxError")

    fake.execute = reply_with(
        {"ok": True, "created": ["Cd34"]},
        success=False,
        stderr="Traceback (most recent call last):\nZeroDivisionError: division by zero\n",
    )
    with pytest.raises(CodeModeError) as ran:
        await client.create_cell("1 / 0")
    assert (ran.value.applied, ran.value.cell_ids) == (True, ("Cd34",))
    assert str(ran.value) == "a cell raised: ZeroDivisionError: division by zero"
    assert "cell print" in ran.value.stdout
    assert MARKER.search(ran.value.stdout) is None

    fake.execute = lambda code: httpx2.Response(200, content=sse(done(False)))
    with pytest.raises(CodeModeError) as silent:
        await client.run_stale()
    assert not silent.value.applied


def report_then_result(kind: str, report: str, *noise: str) -> Callable[[str], httpx2.Response]:
    """An execute handler that streams what a cell printed (`noise`), then a batch's
    `kind` line ("before": the cells it found; "applied": what marimo applied) cut over
    several stdout events (as marimo may cut it), then the result. It checks the program
    asked for that line."""

    def handler(code: str) -> httpx2.Response:
        match = MARKER.search(code)
        assert match is not None
        prefix = f"{match.group(0).rstrip()}{kind} "
        assert prefix in code, f"asked to print its {kind} line"
        line = f"\n{prefix}{report}\n"
        events: list[tuple[str, Any]] = [("stdout", {"data": text}) for text in noise]
        events += [("stdout", {"data": line[i : i + 5]}) for i in range(0, len(line), 5)]
        events.append(("stdout", {"data": f"\n{match.group(0)}{json.dumps({'ok': True})}\n"}))
        events.append(done(True))
        return httpx2.Response(200, content=sse(*events))

    return handler


async def test_a_batch_hands_over_the_cells_it_found(
    fake: FakeMarimo, client: MarimoClient
) -> None:
    found: list[Sequence[CellState]] = []
    cells = [["Hbol", None, "import math"], ["MJUe", "data", "x = 'a\\nb'"]]
    forged = '__hexa_0123456789abcdef__before [["fake", null, "x"]]\n'
    fake.execute = report_then_result("before", json.dumps(cells), forged)
    result = await client.apply([RunCell("Hbol")], on_before=found.append)
    assert [list(f) for f in found] == [
        [CellState("Hbol", None, "import math"), CellState("MJUe", "data", "x = 'a\\nb'")]
    ]
    assert "before" not in result.stdout.replace(forged, ""), "our line is not the cells' output"
    assert forged in result.stdout


async def test_a_malformed_cells_line_is_logged_and_the_batch_still_reads(
    fake: FakeMarimo, client: MarimoClient, caplog: pytest.LogCaptureFixture
) -> None:
    found: list[Sequence[CellState]] = []
    fake.execute = report_then_result("before", '[["only two", null]]')
    result = await client.apply([RunCell("Hbol")], on_before=found.append)
    assert found == []
    assert result.created == ()
    assert "could not be read" in caplog.text


async def test_a_batch_reports_what_marimo_applied(
    fake: FakeMarimo, http: httpx2.AsyncClient
) -> None:
    got: list[Applied] = []
    closed: list[bool] = []

    class Watch:  # one per batch
        def __init__(self) -> None:
            self.open = True

        def applied(self, applied: Applied) -> None:
            got.append(applied)

        def close(self) -> None:
            if self.open:  # may be called again
                self.open = False
                closed.append(True)

    client = MarimoClient(BASE, TOKEN, http, stable_session_id="sess-1", watch=Watch)
    report = {
        "stamp": 7,
        "changes": [
            {"type": "create-cell", "cellId": "New1", "code": "z = 3", "name": "", "config": {}},
            {"type": "set-code", "cellId": "Hbol", "code": "x = 2"},
        ],
        "old": {"Hbol": [None, digest("x = 1")]},
        "order": ["Hbol", "New1"],
    }
    forged = '\n__hexa_0123456789abcdef__applied {"stamp": 1, "changes": []}\n'
    progress = [f"\r{i}%" for i in range(100)]  # a progress bar: one long line
    fake.execute = report_then_result("applied", json.dumps(report), forged, *progress)
    result = await client.apply([EditCell("Hbol", code="x = 2")])
    assert got == [
        Applied(
            stamp=7,
            created={"New1": AppliedCell("z = 3", "_", {})},
            codes={"Hbol": (digest("x = 1"), "x = 2")},
            order=("Hbol", "New1"),
        )
    ]
    assert result.stdout.count("applied") == 1, "our line is not the cells' output"
    assert forged in result.stdout
    assert closed == [True]
    # Malformed: logged, never raised into the stream (that would interrupt the kernel).
    fake.execute = report_then_result("applied", '{"stamp": "x"}')
    await client.apply([EditCell("Hbol", code="x = 2")])
    assert len(got) == 1
    assert closed == [True, True]
    # "Nothing to apply" ends the watch; a report after it (marimo changed something
    # after all) is still handed over.
    got.clear()
    none_first = report_then_result("applied", json.dumps(report))

    def none_then_report(code: str) -> httpx2.Response:
        match = MARKER.search(code)
        assert match is not None
        none = f'\n{match.group(0).rstrip()}applied {{"none": true}}\n'
        reply = none_first(code)
        return httpx2.Response(200, content=sse(("stdout", {"data": none})) + reply.content)

    fake.execute = none_then_report
    await client.apply([EditCell("Hbol", code="x = 2")])
    assert closed == [True, True, True]
    assert len(got) == 1
    # Runs alone change no cell: not watched, not asked to report.
    fake.execute = reply_with({"ok": True, "created": []})
    await client.apply([RunCell("Hbol")])
    sent = json.loads(fake.requests[-1].content)["code"]
    marker = MARKER.search(sent)
    assert marker is not None
    assert marker.group(0).rstrip() + "applied " not in sent
    assert closed == [True, True, True]


async def test_read_cells(fake: FakeMarimo, client: MarimoClient) -> None:
    cell = {
        "id": "Hbol",
        "name": "_",
        "code": "x = 1",
        "status": "idle",
        "errors": [],
        "output": {"mimetype": "text/plain", "data": "1", "truncated": False},
        "console": [{"channel": "stdout", "data": "hi\n", "truncated": False}],
        "hide_code": False,
        "disabled": False,
    }
    fake.execute = reply_with(
        {"ok": True, "cells": [cell, dict(cell, id="Ab12", name="named", output=None)]}
    )
    first, second = await client.read_cells()
    assert (first.cell_id, first.name, first.status) == ("Hbol", None, "idle")
    assert first.output is not None
    assert first.output.data == "1"
    assert first.console[0].data == "hi\n"
    assert (second.name, second.output) == ("named", None)


async def test_empty_batch_sends_nothing(fake: FakeMarimo, client: MarimoClient) -> None:
    result = await client.apply([])
    assert result.created == ()
    assert fake.requests == []


async def test_an_aborted_client_ends_its_waiting_execute_and_refuses_more(
    fake: FakeMarimo, client: MarimoClient
) -> None:
    # marimo keeps the stream of a kernel that died open (one server per person): only
    # Hexa's abort ends it, and it hangs up.
    running, closed = asyncio.Event(), asyncio.Event()

    async def dead_kernel() -> AsyncIterator[bytes]:
        try:
            running.set()
            yield sse(("stdout", {"data": "started\n"}))
            await asyncio.Event().wait()
        finally:
            closed.set()

    fake.execute = lambda code: httpx2.Response(200, content=dead_kernel())
    call = asyncio.create_task(client.execute("hog = b'x' * 2**40", timeout=30))
    await running.wait()
    client.abort("notebook n stopped running: out of memory")
    with pytest.raises(MarimoNotRunningError, match="out of memory"):
        await call
    assert closed.is_set()
    sent = len(fake.requests)
    with pytest.raises(MarimoNotRunningError, match="out of memory"):
        await client.execute("1", timeout=5)
    assert len(fake.requests) == sent  # nothing more reaches that marimo


async def test_queued_execute_times_out_without_hanging_up_on_the_running_one(
    fake: FakeMarimo, client: MarimoClient
) -> None:
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        await release.wait()
        yield sse(done())

    arrived = asyncio.Event()

    def respond(code: str) -> httpx2.Response:
        arrived.set()
        return httpx2.Response(200, content=slow())

    fake.execute = respond
    running = asyncio.create_task(client.execute("first", timeout=5))
    await arrived.wait()  # the first call is running in marimo
    with pytest.raises(MarimoTimeoutError):
        await client.execute("second", timeout=0.2)
    sent = [json.loads(r.content)["code"] for r in fake.requests if r.url.path.endswith("/execute")]
    assert sent == ["first"]  # the second never reached marimo, so it interrupted nothing
    release.set()
    assert (await running).success


async def test_close_session_closes_the_notebooks_own(
    fake: FakeMarimo, http: httpx2.AsyncClient
) -> None:
    fake.sessions = {"hexa-1": "sess-1", "browser-2": "sess-2"}
    mine = MarimoClient(BASE, TOKEN, http, stable_session_id="sess-2")
    assert await mine.close_session()
    assert fake.sessions == {"hexa-1": "sess-1"}, "another session of the server stays"
    assert not await mine.close_session(), "nothing left of it"


async def test_close_session_without_one_closes_its_files(
    fake: FakeMarimo, http: httpx2.AsyncClient
) -> None:
    # An open that failed half-way knows no session: those of its file are closed.
    fake.sessions = {"hexa-1": "sess-1", "hexa-2": "sess-2"}  # both at /x/nb.py
    other = MarimoClient(BASE, TOKEN, http, file_key="other.py")
    assert not await other.close_session()
    assert len(fake.sessions) == 2
    same = MarimoClient(BASE, TOKEN, http, file_key="nb.py")
    assert await same.close_session()
    assert fake.sessions == {}
    assert not await MarimoClient(BASE, TOKEN, http).close_session(), "no file, no session"
