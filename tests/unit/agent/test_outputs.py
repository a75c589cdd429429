"""Outputs as text for the model."""

from __future__ import annotations

from hexa.agent.outputs import clip, describe_cell_outputs, describe_output, html_to_text
from hexa.marimo.models import CellOutputs


def test_html_is_reduced_to_text() -> None:
    html = "<div><h1>Title</h1><p>a &amp; b</p><script>evil()</script><br>next</div>"
    assert html_to_text(html) == "Title\na & b\nnext"


def test_images_and_widgets_are_named_not_dumped() -> None:
    png = "data:image/png;base64," + "A" * 5000
    assert html_to_text(f'<img src="{png}">') == "[image]"
    assert "[image/png data]" in html_to_text(f"<span>{png}</span>")
    table = "<marimo-table data-total-rows='3' data-data='[...]'></marimo-table>"
    assert html_to_text(table) == "[table with 3 rows]"
    assert html_to_text("<marimo-slider data-start='1'></marimo-slider>") == "[slider element]"
    assert describe_output("image/png", "A" * 4096).startswith("[image/png image, 3 KB")


def test_errors_and_long_outputs() -> None:
    error = (
        '[{"type": "exception", "msg": "division by zero", "exception_type": "ZeroDivisionError"}]'
    )
    assert (
        describe_output("application/vnd.marimo+error", error)
        == "Error: exception: division by zero"
    )
    long = describe_output("text/plain", "x" * 5000, limit=100)
    assert long.startswith("x" * 100)
    assert "4900 more characters" in long
    assert clip("short", 10) == "short"
    assert describe_output("text/html", None) == ""


def test_cell_outputs_with_console() -> None:
    cell: CellOutputs = {
        "cell_id": "a",
        "visual_output": {"visual_output": "<pre>42</pre>", "visual_mimetype": "text/html"},
        "console_outputs": {"stdout": ["hello\n"], "stderr": ["warn\n"]},
    }
    assert describe_cell_outputs(cell) == "output:\n42\nstdout:\nhello\nstderr:\nwarn"
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


def test_gist_skips_labels_and_joins_content() -> None:
    from hexa.agent.outputs import gist

    assert gist("output:\n42") == "42"
    assert gist("output:\n[table with 4 rows]\nconsole:\nhello") == "[table with 4 rows] hello"
    assert gist("output:\n") == "no output"
