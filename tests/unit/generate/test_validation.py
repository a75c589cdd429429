"""validate_notebook: marimo's checker, structured diagnostics, valid iff nothing breaks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from hexa.generate import validate_notebook, validate_notebook_async

GOOD = """import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    x = 1
    return (x,)


@app.cell
def _(x):
    y = x + 1
    return


if __name__ == "__main__":
    app.run()
"""

SLOPPY = """import marimo
app = marimo.App()

@app.cell
def _():
    x = 1

@app.cell
def _():
    y = x + 1
"""

SYNTAX = """import marimo
app = marimo.App()

@app.cell
def _():
    x = 1
    return (x,)

@app.cell
def _():
    y = = 2
"""

TWICE = """import marimo
app = marimo.App()

@app.cell
def _():
    x = 1
    return (x,)

@app.cell
def _():
    x = 2
    return (x,)
"""

CYCLE = """import marimo
app = marimo.App()

@app.cell
def _(b):
    a = b
    return (a,)

@app.cell
def _(a):
    b = a
    return (b,)
"""

NO_APP = """import marimo

@app.cell
def _():
    x = 1
"""

SCRIPT = "import os\nprint(os.getcwd())\n"


@pytest.mark.parametrize(
    ("text", "valid", "codes"),
    [
        pytest.param(GOOD, True, [], id="good"),
        pytest.param(SLOPPY, True, [], id="warnings-only"),
        pytest.param(SYNTAX, False, ["MB001"], id="syntax-error-in-cell"),
        pytest.param(TWICE, False, ["MB002", "MB002"], id="multiple-definitions"),
        pytest.param(CYCLE, False, ["MB003", "MB003"], id="cycle"),
        pytest.param(NO_APP, False, ["not-a-notebook"], id="no-app"),
        pytest.param(SCRIPT, False, ["not-a-notebook"], id="plain-script"),
        pytest.param("", False, ["empty"], id="empty"),
        pytest.param("import marimo\napp = marimo.App(\n", False, ["syntax-error"], id="py-syntax"),
    ],
)
def test_validity_and_codes(text: str, valid: bool, codes: list[str]) -> None:
    result = validate_notebook(text)
    assert result.valid is valid
    assert sorted(d.code for d in result.errors) == sorted(codes)


def test_warnings_do_not_invalidate() -> None:
    result = validate_notebook(SLOPPY)
    assert result.valid
    assert {d.code for d in result.warnings} == {"MF001"}  # no __generated_with, no run guard
    assert all(d.severity == "formatting" for d in result.warnings)


def test_breaking_diagnostics_carry_line_cell_and_message() -> None:
    result = validate_notebook(TWICE)
    by_cell = {d.cell_index: d for d in result.errors}
    assert set(by_cell) == {0, 1}
    assert by_cell[0].line == 5
    assert by_cell[1].line == 10
    assert all(d.severity == "breaking" and "'x'" in d.message for d in by_cell.values())
    assert all(d.cell_id for d in by_cell.values())


def test_syntax_error_names_the_cell_and_pythons_reason() -> None:
    (error,) = validate_notebook(SYNTAX).errors
    assert error.cell_index == 1
    assert error.line == 9
    assert "SyntaxError" in error.message


def test_top_level_syntax_error_has_its_line() -> None:
    (error,) = validate_notebook("import marimo\napp = marimo.App(\n").errors
    assert error.code == "syntax-error"
    assert error.line == 2


def test_lines_count_leading_blank_lines() -> None:
    # marimo strips the text before parsing; our lines refer to the text as given.
    shifted = validate_notebook("\n\n\n" + TWICE)
    assert [d.line for d in shifted.errors] == [8, 13]  # diagnostics come in line order


def test_notebook_header_cannot_switch_off_breaking_rules() -> None:
    header = '# /// script\n# [tool.marimo.lint]\n# ignore = ["MB002"]\n# ///\n'
    assert not validate_notebook(header + TWICE).valid


def test_diagnostics_serialise() -> None:
    data = validate_notebook(TWICE).errors[0].to_dict()
    assert set(data) >= {"line", "cell_index", "code", "message", "severity"}


async def test_sync_call_from_a_running_loop() -> None:
    # marimo's linter runs its own event loop; called from inside ours it must still work.
    assert validate_notebook(GOOD).valid
    assert not (await validate_notebook_async(TWICE)).valid


def test_parallel_checks_agree_and_leave_marimo_logging_intact() -> None:
    from marimo._loggers import marimo_logger

    handlers_before = list(marimo_logger().handlers)
    texts = [GOOD, TWICE, SYNTAX, SLOPPY] * 3
    results: list[bool] = [False] * len(texts)

    def check(i: int) -> None:
        results[i] = validate_notebook(texts[i]).valid

    threads = [threading.Thread(target=check, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True, False, False, True] * 3
    assert marimo_logger().handlers == handlers_before


async def test_async_checks_in_parallel() -> None:
    results = await asyncio.gather(*(validate_notebook_async(t) for t in [GOOD, CYCLE] * 4))
    assert [r.valid for r in results] == [True, False] * 4
