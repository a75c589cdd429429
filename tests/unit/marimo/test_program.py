"""The code-mode programs: user strings only ever travel as data, and the interpreter's
logic (targets, refs, conflicts, results), run here against a fake of marimo's
`marimo._code_mode` context (no kernel); tests/integration/marimo checks the real one."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hexa.marimo import program
from hexa.marimo.models import (
    CreateCell,
    DeleteCell,
    EditCell,
    MoveCell,
    NewCell,
    Op,
    PutCells,
    RunCell,
    RunStale,
)

HOSTILE = [
    "x = 1",
    "s = '''it's'''",
    's = """a\'\'\'b"""\nt = "\\"\\\\"',
    "\\\\\\ \\n \\' \\x00",
    "line1\nline2\r\nline3\rend",
    '"); __import__("os").system("echo pwned"); ("',
    "\"\"\"'''\\",
    "tab\tnul\x00 sep\u2028 para\u2029 bidi\u202e é ☃ 😀 \udcff",
    "__HEXA_REQUEST__ {marker} %s {0}",
]


def string_constants(source: str) -> list[str]:
    tree = ast.parse(source)
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def request_of(source: str) -> dict[str, Any]:
    """The JSON document embedded in a program: the argument of the last json.loads."""
    tree = ast.parse(source)
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "loads"
        and n.args
        and isinstance(n.args[0], ast.Constant)
    ]
    assert len(calls) == 1
    value = calls[0].args[0]
    assert isinstance(value, ast.Constant)
    assert isinstance(value.value, str)
    decoded: dict[str, Any] = json.loads(value.value)
    return decoded


@pytest.mark.parametrize("text", HOSTILE)
def test_user_strings_travel_only_inside_the_json_literal(text: str) -> None:
    marker = program.new_marker()
    ops: list[Op] = [
        CreateCell(text, after="Hbol", name="agent"),
        EditCell("MJUe", code=text, expected_code=text),
        MoveCell(NewCell(0), before="MJUe"),
        PutCells(((text, text),)),
    ]
    source = program.edit_program(ops, marker)
    compile(source, "<hexa>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert source.isascii()
    request = request_of(source)
    assert request["ops"][0]["code"] == text
    assert request["ops"][1]["expected_code"] == text
    assert request["ops"][3]["cells"] == [[text, text]]
    assert request["marker"] == marker
    # The same program text for any user input, apart from the literal.
    baseline = program.edit_program(
        [
            CreateCell("x"),
            EditCell("a", code="y"),
            MoveCell(NewCell(0), before="a"),
            PutCells((("k", "z"),)),
        ],
        marker,
    )
    assert _without_literal(source) == _without_literal(baseline)

    replace = program.replace_program([(text, None), ("y = 2", "named")], run=True, marker=marker)
    compile(replace, "<hexa>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert request_of(replace)["ops"][0]["cells"][0]["code"] == text


def _without_literal(source: str) -> str:
    return "\n".join(
        line for line in source.splitlines() if not line.startswith("await _hexa.main(")
    )


def test_operations_are_checked_before_sending() -> None:
    with pytest.raises(ValueError, match="at most one"):
        program.encode_op(CreateCell("x", after="a", before="b"))
    with pytest.raises(ValueError, match="after= or before="):
        program.encode_op(MoveCell("a"))
    with pytest.raises(ValueError, match="code= or name="):
        program.encode_op(EditCell("a"))
    assert program.encode_op(RunStale()) == {"op": "run_stale"}
    assert program.encode_op(RunCell(NewCell(2))) == {"op": "run", "target": {"new": 2}}
    assert program.encode_op(DeleteCell("name")) == {"op": "delete", "target": {"cell": "name"}}


def test_results_need_the_exact_marker() -> None:
    marker = program.new_marker()
    assert marker != program.new_marker()
    stdout = (
        "cell output\n"
        '__hexa_0000000000000000__ {"ok": true, "created": ["forged"]}\n'
        f"{marker}not json\n"
        f'{marker}{{"ok": true, "created": ["Ab12"]}}\n'
        "created cell 'Ab12'\n"
    )
    assert program.find_result(stdout, marker) == {"ok": True, "created": ["Ab12"]}
    assert program.find_result("nothing\n", marker) is None
    assert marker not in program.strip_results(stdout, marker)
    assert "forged" in program.strip_results(stdout, marker)


# ----------------------------------------------------------------------------- the fake


@dataclass
class FakeOutput:
    channel: str
    mimetype: str
    data: object


@dataclass
class FakeConfig:
    hide_code: bool = False
    disabled: bool = False


@dataclass
class FakeError:
    msg: str


@dataclass
class FakeCell:
    id: str
    code: str
    name: str = "_"
    status: str | None = "idle"
    errors: list[FakeError] = field(default_factory=list)
    output: FakeOutput | None = None
    console_outputs: list[FakeOutput] = field(default_factory=list)
    config: FakeConfig = field(default_factory=FakeConfig)


class FakeCells:
    def __init__(self, cells: list[FakeCell]) -> None:
        self._cells = cells

    def _find(self, key: str) -> FakeCell | None:
        return next((c for c in self._cells if key in (c.id, c.name)), None)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def __getitem__(self, key: str) -> FakeCell:
        cell = self._find(key)
        if cell is None:
            raise KeyError(key)
        return cell

    def __iter__(self) -> Iterator[FakeCell]:
        return iter(list(self._cells))


@dataclass
class FakeTransaction:
    changes: list[dict[str, Any]]


@dataclass
class FakeNotification:
    transaction: FakeTransaction


def _change(op: tuple[Any, ...]) -> dict[str, Any]:
    """A queued call as marimo's document change (only what the tests look at)."""
    if op[0] == "create":
        return {"type": "create-cell", "cellId": op[1], "code": op[2], "name": "_", "config": {}}
    if op[0] == "edit":
        return {"type": "set-code", "cellId": op[1], "code": op[2]}
    if op[0] == "delete":
        return {"type": "delete-cell", "cellId": op[1]}
    return {"type": "move-cell", "cellId": op[1]}


class FakeContext:
    """Queues calls like marimo's AsyncCodeModeContext; applies them on a clean exit."""

    def __init__(self, cells: list[FakeCell], reject: type[Exception] | None = None) -> None:
        self.notebook = cells
        self.reject = reject  # raised by __aexit__, like marimo's dry-run validation
        self.queued: list[tuple[Any, ...]] = []
        self.applied: list[tuple[Any, ...]] = []
        self.broadcasts: list[object] = []
        self.count = 0

    @property
    def cells(self) -> FakeCells:
        return FakeCells(self.notebook)

    async def __aenter__(self) -> FakeContext:
        self.queued = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc_type is not None:
            return
        if self.reject is not None:
            raise self.reject("rejected by validation")
        self.applied = self.queued
        code = {str(c.id): c.code for c in self.notebook}
        # As marimo: runs and an edit to the same code change nothing in the document.
        changes = [
            _change(op)
            for op in self.queued
            if op[0] != "run" and not (op[0] == "edit" and code.get(op[1]) == op[2])
        ]
        if changes:  # as marimo: one transaction, told before any cell runs
            self.broadcast_raw_notification(FakeNotification(FakeTransaction(changes)))
        print("created cell 'new0'")

    def broadcast_raw_notification(self, notification: object) -> None:
        self.broadcasts.append(notification)

    def create_cell(self, code: str, **kw: object) -> str:
        cid = f"new{self.count}"
        self.count += 1
        self.queued.append(("create", cid, code, kw))
        return cid

    def edit_cell(self, target: str, code: str | None = None, **kw: object) -> None:
        self.queued.append(("edit", target, code, kw))

    def move_cell(self, target: str, **kw: object) -> None:
        self.queued.append(("move", target, kw))

    def delete_cell(self, target: str) -> None:
        self.queued.append(("delete", target))

    def run_cell(self, target: str) -> None:
        self.queued.append(("run", target))


def notebook() -> list[FakeCell]:
    return [
        FakeCell("Hbol", "import marimo as mo"),
        FakeCell("MJUe", "df = 1", name="data", status="stale"),
        FakeCell(
            "bkHC",
            "1 / 0",
            status="exception",
            errors=[FakeError("ZeroDivisionError: division by zero")],
            output=FakeOutput("marimo-error", "application/vnd.marimo+error", [FakeError("x")]),
            console_outputs=[
                FakeOutput(
                    "stderr",
                    "application/vnd.marimo+traceback",
                    '<span class="gt">Traceback</span> &lt;module&gt;',
                )
            ],
        ),
    ]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeContext:
    ctx = FakeContext(notebook())
    cm = types.ModuleType("marimo._code_mode")
    monkeypatch.setattr(cm, "get_context", lambda **_: ctx, raising=False)
    package = types.ModuleType("marimo")
    monkeypatch.setattr(package, "_code_mode", cm, raising=False)
    monkeypatch.setitem(sys.modules, "marimo", package)
    monkeypatch.setitem(sys.modules, "marimo._code_mode", cm)
    # The interpreter a program defines stays in sys.modules (as in a kernel): each test
    # starts without it.
    monkeypatch.delitem(sys.modules, program.MODULE, raising=False)
    return ctx


async def run(source: str) -> tuple[str, BaseException | None]:
    """Run a program the way marimo's scratchpad does (top-level await)."""
    code = compile(source, "<hexa>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            coroutine = eval(code, {"__name__": "__hexa__"})
            if coroutine is not None:
                await coroutine
        except Exception as exc:
            error = exc
    return out.getvalue(), error


async def apply(ops: list[Op]) -> tuple[dict[str, Any] | None, BaseException | None]:
    marker = program.new_marker()
    stdout, error = await run(program.edit_program(ops, marker))
    return program.find_result(stdout, marker), error


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_code_reaches_marimo_unchanged(fake: FakeContext, text: str) -> None:
    result, error = await apply(
        [CreateCell(text, name="agent", after="data"), EditCell("bkHC", code=text)]
    )
    assert error is None
    assert result == {"ok": True, "created": ["new0"]}
    assert fake.applied[0] == (
        "create",
        "new0",
        text,
        {"after": "data", "before": None, "name": "agent", "hide_code": False},
    )
    assert fake.applied[1] == ("run", "new0")
    assert fake.applied[2] == ("edit", "bkHC", text, {"name": None})
    assert fake.applied[3] == ("run", "bkHC")


async def test_new_cell_references(fake: FakeContext) -> None:
    result, error = await apply(
        [
            CreateCell("a = 1", run=False),
            CreateCell("b = a", after=NewCell(0), run=False),
            MoveCell(NewCell(1), before="Hbol"),
            RunCell(NewCell(0)),
        ]
    )
    assert error is None
    assert result == {"ok": True, "created": ["new0", "new1"]}
    assert fake.applied[1][3]["after"] == "new0"
    assert fake.applied[2] == ("move", "new1", {"after": None, "before": "Hbol"})
    assert fake.applied[3] == ("run", "new0")


async def test_unknown_target_fails_before_anything_is_applied(fake: FakeContext) -> None:
    result, error = await apply([CreateCell("x = 1"), DeleteCell("nope")])
    assert isinstance(error, LookupError)
    assert result == {"ok": False, "error": "not_found", "target": "nope"}
    assert fake.applied == []

    result, _ = await apply([MoveCell("Hbol", after=NewCell(3))])
    assert result is not None
    assert result["error"] == "bad_ref"


async def test_expected_code_conflict(fake: FakeContext) -> None:
    result, error = await apply([EditCell("data", code="df = 2", expected_code="df = 0")])
    assert error is not None
    assert result == {"ok": False, "error": "conflict", "target": "data", "code": "df = 1"}
    assert fake.applied == []
    result, error = await apply([EditCell("data", code="df = 2", expected_code="df = 1")])
    assert (error, result) == (None, {"ok": True, "created": []})


async def test_validation_error_applies_nothing(fake: FakeContext) -> None:
    fake.reject = SyntaxError
    result, error = await apply([CreateCell("x = (")])
    assert isinstance(error, SyntaxError)
    assert result == {
        "ok": False,
        "error": "invalid",
        "type": "SyntaxError",
        "message": "rejected by validation",
    }
    assert fake.applied == []


async def test_run_stale_and_replace(fake: FakeContext) -> None:
    result, _ = await apply([RunStale()])
    assert result == {"ok": True, "created": []}
    assert fake.applied == [("run", "MJUe")]

    marker = program.new_marker()
    stdout, error = await run(
        program.replace_program([("a = 1", None), ("b = 2", "bee")], run=False, marker=marker)
    )
    assert error is None
    assert program.find_result(stdout, marker) == {"ok": True, "created": ["new0", "new1"]}
    assert [op[0] for op in fake.applied] == ["delete", "delete", "delete", "create", "create"]
    assert fake.applied[4][3]["name"] == "bee"


async def test_put_finds_cells_by_id_then_name_and_creates_the_rest(fake: FakeContext) -> None:
    keys = [
        ("Hbol", "import marimo as mo"),  # by id, code unchanged: only run
        ("data", "df = 2"),  # by name: edited and run
        ("fresh", "z = 1"),  # unseen: created under its name, after the one before
        ("for", "w = 2"),  # a keyword is no name
        ("_", "q = 3"),  # nor is `_`, which unnamed cells carry
    ]
    result, error = await apply([PutCells(tuple(keys))])
    assert error is None
    assert result == {
        "ok": True,
        "created": [],
        "put": [
            {"id": "Hbol", "before": "import marimo as mo"},
            {"id": "MJUe", "before": "df = 1"},
            {"id": "new0", "before": None},
            {"id": "new1", "before": None},
            {"id": "new2", "before": None},
        ],
    }
    made = {"hide_code": False}
    assert fake.applied == [
        ("run", "Hbol"),
        ("edit", "MJUe", "df = 2", {}),
        ("run", "MJUe"),
        ("create", "new0", "z = 1", {"after": "MJUe", "name": "fresh", **made}),
        ("run", "new0"),
        ("create", "new1", "w = 2", {"after": "new0", "name": None, **made}),
        ("run", "new1"),
        ("create", "new2", "q = 3", {"after": "new1", "name": None, **made}),
        ("run", "new2"),
    ]


async def test_a_first_new_put_goes_to_the_end(fake: FakeContext) -> None:
    result, _ = await apply([PutCells((("late", "y = 1"),))])
    assert result is not None
    assert result["put"] == [{"id": "new0", "before": None}]
    assert fake.applied[0] == (
        "create",
        "new0",
        "y = 1",
        {"after": None, "name": "late", "hide_code": False},
    )


async def test_a_batch_reports_the_cells_it_left_when_asked(fake: FakeContext) -> None:
    marker = program.new_marker()
    stdout, error = await run(program.edit_program([RunCell("Hbol")], marker, cells=True))
    assert error is None
    assert program.find_result(stdout, marker) == {
        "ok": True,
        "created": [],
        "cells": [
            ["Hbol", None, "import marimo as mo"],
            ["MJUe", "data", "df = 1"],
            ["bkHC", None, "1 / 0"],
        ],
    }
    result, _ = await apply([RunCell("Hbol")])
    assert result == {"ok": True, "created": []}, "not asked: not sent"


async def test_a_batch_first_prints_the_cells_it_found_when_asked(fake: FakeContext) -> None:
    marker = program.new_marker()
    stdout, error = await run(program.edit_program([RunCell("Hbol")], marker, before=True))
    assert error is None
    lines = [line for line in stdout.splitlines() if line]
    prefix = program.before_marker(marker)
    assert not prefix.startswith(marker), "never taken for the result line"
    assert lines[0].startswith(prefix), "before anything is applied"
    assert json.loads(lines[0][len(prefix) :]) == [
        ["Hbol", None, "import marimo as mo"],
        ["MJUe", "data", "df = 1"],
        ["bkHC", None, "1 / 0"],
    ]
    assert lines[1] == "created cell 'new0'"
    assert program.find_result(stdout, marker) == {"ok": True, "created": []}
    assert program.strip_results(stdout, marker).strip() == "created cell 'new0'"
    # Not asked: not printed.
    stdout, _ = await run(program.edit_program([RunCell("Hbol")], marker))
    assert prefix not in stdout


async def test_a_batch_reports_what_marimo_applied_before_the_cells_run(
    fake: FakeContext,
) -> None:
    marker = program.new_marker()
    prefix = program.applied_marker(marker)
    assert not prefix.startswith(marker), "never taken for the result line"
    ops: list[Op] = [EditCell("MJUe", code="df = 2"), CreateCell("z = 1", run=False)]
    stdout, error = await run(program.edit_program(ops, marker, applied=True))
    assert error is None
    lines = [line for line in stdout.splitlines() if line]
    assert lines[0].startswith(prefix), "before what the batch's runs print"
    report = json.loads(lines[0][len(prefix) :])
    assert report["changes"] == [
        {"type": "set-code", "cellId": "MJUe", "code": "df = 2"},
        {"type": "create-cell", "cellId": "new0", "code": "z = 1", "name": "_", "config": {}},
    ]
    # Old values of what is set, the code as its digest; marimo's order after the batch.
    assert report["old"] == {"MJUe": ["data", hashlib.sha256(b"df = 1").hexdigest()]}
    assert report["order"] == ["Hbol", "MJUe", "bkHC"]
    assert isinstance(report["stamp"], int)
    assert prefix not in program.strip_results(stdout, marker)
    # Nothing for marimo to apply (the same code; runs): said at once, no report after.
    for same in ([EditCell("MJUe", code="df = 1", run=True)], [RunCell("Hbol")]):
        fake.broadcasts.clear()
        stdout, _ = await run(program.edit_program(same, marker, applied=True))
        lines = [line for line in stdout.splitlines() if line]
        assert lines[0] == prefix + '{"none": true}'
        assert fake.broadcasts == []
    # Not asked: the notification goes out untouched and nothing is printed.
    stdout, _ = await run(program.edit_program([DeleteCell("bkHC")], marker))
    assert prefix not in stdout
    assert len(fake.broadcasts) == 1


async def test_read_program(fake: FakeContext) -> None:
    marker = program.new_marker()
    stdout, error = await run(program.read_program(marker, limit=5))
    assert error is None
    result = program.find_result(stdout, marker)
    assert result is not None
    cells = {c["id"]: c for c in result["cells"]}
    assert list(cells) == ["Hbol", "MJUe", "bkHC"]
    assert cells["MJUe"]["name"] == "data"
    assert cells["bkHC"]["errors"] == ["ZeroDivisionError: division by zero"]
    assert cells["bkHC"]["output"] == {
        "mimetype": "application/vnd.marimo+error",
        "data": "FakeE",
        "truncated": True,
    }
    # HTML tracebacks come back as text, clipped to the limit.
    assert cells["bkHC"]["console"] == [{"channel": "stderr", "data": "Trace", "truncated": True}]


async def test_the_interpreter_is_defined_once_then_reused(
    fake: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, error = await apply([CreateCell("x = 1")])
    assert error is None
    assert result == {"ok": True, "created": ["new0"]}
    loaded = sys.modules[program.MODULE]
    # A second program calls the module it finds and defines nothing: a stand-in put there
    # answers for it.
    calls: list[dict[str, Any]] = []

    async def main(req: dict[str, Any], space: dict[str, Any]) -> None:
        calls.append(req)
        print(req["marker"] + json.dumps({"ok": True, "created": ["standin"]}))

    standin = types.ModuleType(program.MODULE)
    standin.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, program.MODULE, standin)
    result, error = await apply([CreateCell("y = 2")])
    assert error is None
    assert result == {"ok": True, "created": ["standin"]}
    assert calls[0]["ops"][0]["code"] == "y = 2"
    assert sys.modules[program.MODULE] is standin
    assert standin is not loaded
    # Only the first program reached marimo's context.
    assert fake.applied == [
        (
            "create",
            "new0",
            "x = 1",
            {"after": None, "before": None, "name": None, "hide_code": False},
        ),
        ("run", "new0"),
    ]


def test_the_interpreters_name_carries_a_hash_of_its_source() -> None:
    # A kernel that outlives an upgrade of Hexa must not run the old interpreter.
    digest = hashlib.sha256(program._INTERPRETER.encode()).hexdigest()[:12]
    assert "_hexa_code_mode_" + digest == program.MODULE
    assert program.MODULE in program.read_program(program.new_marker(), limit=10)


async def test_charts_see_the_notebooks_names_not_the_loaders(fake: FakeContext) -> None:
    # Notebook variables named like the modules the loader imports are still found.
    class Chart:
        __module__ = "plotly.graph_objs"
        data: list[Any] = []
        layout = types.SimpleNamespace(
            title=types.SimpleNamespace(text="t"),
            xaxis=types.SimpleNamespace(title=types.SimpleNamespace(text="x")),
            yaxis=types.SimpleNamespace(title=types.SimpleNamespace(text="y")),
        )

    marker = program.new_marker()
    source = program.charts_program(["json", "sys", "types"], marker)
    code = compile(source, "<hexa>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    space: dict[str, Any] = {"__name__": "__hexa__", "json": Chart(), "sys": Chart()}
    space["types"] = Chart()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await eval(code, space)
    result = program.find_result(out.getvalue(), marker)
    assert result is not None
    assert sorted(result["charts"]) == ["json", "sys", "types"]
    assert result["charts"]["json"]["library"] == "plotly"
