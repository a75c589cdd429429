"""Outputs as text for the model: what the person sees, fenced as code. Pure functions
over marimo's real output documents (captured in `marimo_outputs`)."""

from __future__ import annotations

import json

from hexa.agent.outputs import (
    cell_errors,
    clip,
    code_span,
    describe_cell_outputs,
    describe_output,
    fenced,
    gist,
    html_to_text,
)
from hexa.marimo.models import CellOutputs
from tests.unit.agent.marimo_outputs import KEYERROR_TRACEBACK, TABLE


def test_html_is_reduced_to_text() -> None:
    html = "<div><h1>Title</h1><p>a &amp; b</p><script>evil()</script><br>next</div>"
    assert html_to_text(html) == "Title\na & b\nnext"


def test_images_and_widgets_are_named_not_dumped() -> None:
    png = "data:image/png;base64," + "A" * 5000
    assert html_to_text(f'<img src="{png}">') == "[image]"
    assert "[image/png data]" in html_to_text(f"<span>{png}</span>")
    assert html_to_text("<marimo-slider data-start='1'></marimo-slider>") == "[slider element]"
    assert describe_output("image/png", "A" * 4096).startswith("[image/png image, 3 KB")


def test_a_dataframe_output_is_its_columns_types_and_first_rows() -> None:
    text = html_to_text(TABLE)
    assert text.splitlines() == [
        "table: 2 rows x 3 columns",
        "columns: region (str), month (int64), amount (int64)",
        "first 2 rows:",
        "region | month | amount",
        "north | 1 | 10",
        "south | 1 | 5",
    ]
    # A table whose rows are not inline (a large one): its size and columns still show.
    lazy = (
        "<marimo-table data-total-rows='5000' data-total-columns='1' "
        "data-data='\"./@file/12-abc.csv\"' "
        "data-field-types='[[&quot;x&quot;,[&quot;integer&quot;,&quot;int64&quot;]]]'>"
        "</marimo-table>"
    )
    shown = html_to_text(lazy)
    assert "table: 5000 rows x 1 columns\ncolumns: x (int64)" in shown
    assert "rows not included" in shown


def test_a_figure_bundle_is_named_with_its_size() -> None:
    bundle = json.dumps(
        {
            "image/png": "data:image/png;base64,AAAA",
            "__metadata__": {"image/png": {"width": 576, "height": 454}},
        }
    )
    assert (
        describe_output("application/vnd.marimo+mimebundle", bundle)
        == "[image/png image, 576x454 px]"
    )


def test_an_error_is_the_exception_and_the_persons_line_not_the_library_traceback() -> None:
    cell: CellOutputs = {
        "cell_id": "vblA",
        "visual_output": {
            "visual_output": json.dumps(
                [{"type": "MarimoExceptionRaisedError", "message": "'amout'"}]
            ),
            "visual_mimetype": "application/json",
        },
        "console_outputs": {"stdout": [], "stderr": [KEYERROR_TRACEBACK]},
    }
    [error] = cell_errors(cell) or []
    assert (error.exception, error.message, error.line) == ("KeyError", "'amout'", 2)
    assert error.source == "total = sales['amout'].sum()"
    text = describe_cell_outputs(cell, hints=["`sales` has no column 'amout'."])
    assert text == (
        "error:\ncell `vblA`, line 2: `KeyError: 'amout'` in `total = sales['amout'].sum()`"
        "\n`sales` has no column 'amout'."
    )
    assert "pandas/core" not in text  # the library's frames are left out


def test_a_json_output_that_is_not_an_error_stays_json() -> None:
    data = json.dumps([{"type": "fruit", "name": "apple"}])
    assert describe_output("application/json", data) == data


def test_long_outputs_are_cut() -> None:
    long = describe_output("text/plain", "x" * 5000, limit=100)
    assert long.startswith("x" * 100)
    assert "4900 more characters" in long
    assert clip("short", 10) == "short"
    assert describe_output("text/html", None) == ""


def test_outputs_and_console_are_fenced_so_chat_shows_them_as_code() -> None:
    cell: CellOutputs = {
        "cell_id": "a",
        "visual_output": {"visual_output": "<pre># 42</pre>", "visual_mimetype": "text/html"},
        "console_outputs": {"stdout": ["# hello\n"], "stderr": ["warn\n"]},
    }
    assert describe_cell_outputs(cell) == (
        "output:\n```text\n# 42\n```\nstdout:\n```text\n# hello\n```\nstderr:\n```text\nwarn\n```"
    )
    nothing: CellOutputs = {
        "cell_id": "b",
        "visual_output": {"visual_output": None, "visual_mimetype": None},
        "console_outputs": {"stdout": [], "stderr": []},
    }
    assert describe_cell_outputs(nothing) == "(no output)"
    # marimo's JSON is only cast to the TypedDict, so missing keys are tolerated: this
    # argument is wrong for the type on purpose.
    empty = {"cell_id": "b", "visual_output": {}, "console_outputs": {}}
    assert describe_cell_outputs(empty) == "(no output)"  # type: ignore[arg-type]


def test_fences_and_code_spans_outlast_the_backticks_inside() -> None:
    assert fenced("a\n```\nb") == "````text\na\n```\nb\n````"
    assert code_span("x") == "`x`"
    assert code_span("add: ```python ...```") == "```` add: ```python ...``` ````"


def test_gist_skips_labels_fences_and_joins_content() -> None:
    assert gist("output:\n```text\n42\n```") == "42"
    assert gist("output:\n[table]\nconsole:\nhello") == "[table] hello"
    assert gist("output:\n") == "no output"
