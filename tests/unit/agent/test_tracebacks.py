"""Reading marimo's tracebacks (real ones, captured from marimo 0.25.2) and explaining
errors from the notebook's data."""

from __future__ import annotations

from hexa.agent.error_hints import hints
from hexa.agent.tracebacks import CellError, plain, raised, read_error
from tests.unit.agent.marimo_outputs import KEYERROR_TRACEBACK, ZERO_TRACEBACK

WRAPPER = "MarimoExceptionRaisedError"


def test_the_final_exception_and_the_cells_own_line_are_read() -> None:
    text = plain(KEYERROR_TRACEBACK)
    assert "<span" not in text
    assert "&lt;" not in text
    assert raised(text) == ("KeyError", "'amout'")
    error = read_error("vblA", WRAPPER, "'amout'", KEYERROR_TRACEBACK)
    assert (error.line, error.source) == (2, "total = sales['amout'].sum()")
    assert error.headline() == "KeyError: 'amout'"


def test_the_cells_code_gives_the_line_when_it_is_known() -> None:
    code = "# one\nx = 1 / 0  # the line"
    error = read_error("lEQa", WRAPPER, "division by zero", ZERO_TRACEBACK, code)
    assert error.exception == "ZeroDivisionError"
    # The traceback says line 1; the code given is the cell's: its line 1.
    assert (error.line, error.source) == (1, "# one")


def test_another_cells_frame_is_not_the_persons_line() -> None:
    error = read_error("other", WRAPPER, "division by zero", ZERO_TRACEBACK)
    assert error.exception == "ZeroDivisionError"
    assert error.line is None
    assert error.source is None


def test_errors_without_a_traceback_keep_what_marimo_said() -> None:
    error = read_error("a", "MultipleDefinitionError", "'df' is defined in cell b")
    assert error.headline() == "MultipleDefinitionError: 'df' is defined in cell b"
    bare = read_error("a", WRAPPER, "boom")
    assert bare.headline() == "Exception: boom"


def test_multi_line_messages_and_dotted_types() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/tmp/m/__marimo__cell_Ab_.py", line 3, in <module>\n'
        "    pd.read_csv(path)\n"
        "pandas.errors.ParserError: Error tokenizing data.\n"
        "Expected 2 fields in line 3, saw 3\n"
    )
    assert raised(text) == (
        "ParserError",
        "Error tokenizing data.\nExpected 2 fields in line 3, saw 3",
    )


COLUMNS = {"sales": ["region", "month", "amount"], "other": ["a"]}


def test_a_keyerror_names_the_dataframe_its_columns_and_the_closest() -> None:
    error = CellError("c", "KeyError", "'amout'", 2, "total = sales['amout'].sum()")
    assert hints(error, COLUMNS, []) == [
        "`sales` has no column 'amout'; its columns are 'region', 'month', 'amount'. "
        "The closest is 'amount'."
    ]
    # A key the dataframe has is no column problem (a dict's KeyError, say).
    assert hints(CellError("c", "KeyError", "'month'", 1, "sales['month']"), COLUMNS, []) == []
    # Without the line, the only dataframe there is.
    lone = CellError("c", "KeyError", "'Amount'")
    assert hints(lone, {"sales": COLUMNS["sales"]}, []) == [
        "`sales` has no column 'Amount'; its columns are 'region', 'month', 'amount'. "
        "The closest is 'amount'."
    ]


def test_an_attribute_error_on_a_dataframe_is_a_column_too() -> None:
    error = CellError(
        "c", "AttributeError", "'DataFrame' object has no attribute 'amout'", 1, "sales.amout"
    )
    assert "The closest is 'amount'." in hints(error, COLUMNS, [])[0]


def test_a_name_error_names_the_missing_import_or_the_closest_name() -> None:
    np = CellError("c", "NameError", "name 'np' is not defined")
    assert hints(np, {}, []) == ["`np` is never imported: add `import numpy as np` to a cell."]
    typo = CellError("c", "NameError", "name 'totl' is not defined")
    assert hints(typo, {}, ["total", "sales"]) == [
        "No cell defines `totl`; the closest defined name is `total`."
    ]


def test_other_errors() -> None:
    assert hints(CellError("c", "ZeroDivisionError", "division by zero"), {}, []) == [
        "A divisor on that line is zero."
    ]
    missing = CellError("c", "ModuleNotFoundError", "No module named 'sklearn'")
    assert hints(missing, {}, []) == ["`sklearn` is not installed in this notebook's environment."]
    assert hints(CellError("c", "TypeError", "bad operand"), {}, []) == []
