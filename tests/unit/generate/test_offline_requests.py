"""Offline generation that follows the request: a prompt naming a data file, a grouping, an
aggregation or a chart becomes cells that do just that; flowchart labels that say what to
do become code; everything else keeps the template or the stub, and the notes say which."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hexa.generate import (
    generate_from_mermaid,
    generate_from_prompt,
    match_template,
    notebook_from_prompt,
    parse_mermaid,
    plan_steps,
    validate_notebook,
)
from hexa.generate import label_steps as label_steps_module
from hexa.generate.data_files import read_columns, read_head
from hexa.generate.importing import cell_codes
from hexa.generate.intent import Condition, read_intent
from tests.unit.generate.conftest import marimo_dependencies


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "Load sales.csv and plot total amount by region as a bar chart",
            {"file": "sales.csv", "group": "region", "aggregation": "sum", "measure": "amount"},
        ),
        (
            "Read sales.csv and show a line chart of the average amount per month",
            {"group": "month", "aggregation": "mean", "measure": "amount", "chart": "line"},
        ),
        ("histogram of amount from sales.csv", {"measure": "amount", "chart": "hist"}),
        (
            "count orders for each region in 'my sales.csv'",
            {"file": "my sales.csv", "group": "region", "aggregation": "count"},
        ),
        (
            'scatter plot of "unit price" vs quantity from data.parquet',
            {"measure": "unit price", "x": "quantity", "chart": "scatter"},
        ),
        ("Monthly totals", {"group": "month", "aggregation": "sum"}),
        (
            "Filter amount >= 10.5",
            {"condition": Condition("amount", ">=", 10.5)},
        ),
        (
            "keep rows where region is north",
            {"condition": Condition("region", "==", "north")},
        ),
    ],
)
def test_the_request_is_read(prompt: str, expected: dict[str, object]) -> None:
    intent = read_intent(prompt)
    assert {key: getattr(intent, key) for key in expected} == expected


SALES_PROMPT = "Load sales.csv and plot total amount by region as a bar chart"


async def test_a_prompt_with_a_file_group_and_chart_becomes_those_cells() -> None:
    result = await generate_from_prompt(SALES_PROMPT)
    assert result.source == "builtin"
    assert result.template is None
    assert result.ok
    codes = cell_codes(result.text)
    assert 'df = pd.read_csv("sales.csv")\ndf' in codes
    assert 'totals = df.groupby("region")["amount"].sum().reset_index()\ntotals' in codes
    (chart,) = [c for c in codes if "plt.subplots()" in c]
    assert 'ax.bar(totals["region"].astype(str), totals["amount"])' in chart
    assert chart.endswith("fig")
    assert "ax.set_title(" in chart
    assert "import marimo as mo" in codes
    assert any(SALES_PROMPT in c and c.startswith("mo.md(") for c in codes)
    assert result.notes[0] == (
        "Written offline from the request: read sales.csv; total amount by region; bar chart."
    )
    assert any("not checked against sales.csv" in n for n in result.notes)


@pytest.mark.parametrize(
    ("prompt", "needles", "said"),
    [
        (
            "Read sales.csv and show a line chart of the average amount per month",
            ['df.groupby("month")["amount"].mean()', 'ax.plot(averages["month"]'],
            "average amount by month; line chart",
        ),
        (
            "Show a histogram of amount from sales.csv",
            ['ax.hist(df["amount"].dropna(), bins=20)'],
            "histogram of amount",
        ),
        (
            "count orders per region in sales.csv",
            ['counts = df.groupby("region").size().reset_index(name="count")'],
            "count of rows per region",
        ),
        (
            "Load sales.csv, only rows where amount > 10, average amount",
            ['filtered = df[df["amount"] > 10]', 'average = filtered["amount"].mean()'],
            "rows where amount > 10; average amount",
        ),
    ],
)
async def test_prompts_become_the_cells_they_ask_for(
    prompt: str, needles: list[str], said: str
) -> None:
    result = await generate_from_prompt(prompt)
    assert result.ok, result.validation.diagnostics
    assert result.template is None
    for needle in needles:
        assert needle in result.text
    assert said in result.notes[0]


async def test_columns_without_a_file_get_sample_rows_and_a_note_on_what_was_left_out() -> None:
    result = await generate_from_prompt("Plot sales by month and forecast next quarter")
    assert result.ok
    assert "pd.DataFrame(" in result.text
    notes = " ".join(result.notes)
    assert "No data file was named" in notes
    assert "line chart" in notes
    assert 'Not understood, so left out: "forecast", "next", "quarter".' in notes


@pytest.mark.parametrize(
    "prompt", ["Query my orders with SQL", "an interactive dashboard", "Analyse a CSV of sales"]
)
async def test_a_prompt_with_nothing_to_read_keeps_the_template(prompt: str) -> None:
    result = await generate_from_prompt(prompt)
    text, template_id = notebook_from_prompt(prompt)
    assert result.template == template_id == match_template(prompt).id
    assert result.text == text
    assert result.notes
    assert "template" in result.notes[-1]


async def test_the_header_of_a_file_in_the_folder_fixes_the_column_names(tmp_path: Path) -> None:
    (tmp_path / "sales.csv").write_text("Region,Amount ($),month\nnorth,1,2024-01\n")
    result = await generate_from_prompt(
        "Load sales.csv and plot total amounts by region", folder=tmp_path
    )
    assert 'df.groupby("Region")["Amount ($)"].sum()' not in result.text  # "amounts" ≠ that
    assert 'df.groupby("Region")' in result.text
    notes = " ".join(result.notes)
    assert '"region" is read as the column "Region" of sales.csv.' in notes
    assert 'sales.csv has no column like "amounts"' in notes
    assert "not checked" not in notes


def test_only_files_inside_the_folder_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "sub").mkdir()
    (folder / "sub" / "in.csv").write_text("a,b\n1,2\n")
    (tmp_path / "out.csv").write_text("secret,columns\n")
    os.symlink(tmp_path / "out.csv", folder / "link.csv")
    assert read_columns(folder, "sub/in.csv") == ("a", "b")
    assert read_columns(folder, "../out.csv") is None
    assert read_columns(folder, str(tmp_path / "out.csv")) is None
    assert read_columns(folder, "link.csv") is None
    assert read_columns(folder, "missing.csv") is None


def test_the_read_itself_follows_no_link_so_a_swap_after_the_check_reads_nothing(
    tmp_path: Path,
) -> None:
    """The person's code can swap a checked folder for a link between the check and the
    read; the read opens each component without following links."""
    folder = tmp_path / "user"
    folder.mkdir()
    (tmp_path / "out.csv").write_text("secret,columns\n")
    os.symlink(tmp_path, folder / "sub")  # what `sub/` became after the check
    with pytest.raises(OSError):
        read_head(folder, ("sub", "out.csv"))
    os.mkfifo(folder / "pipe.csv")  # never blocks on a pipe
    with pytest.raises(OSError, match="not a regular file"):
        read_head(folder, ("pipe.csv",))


FLOW = (
    "flowchart LR\n"
    "  A[Load sales.csv] --> B[Sum amount by month] --> C[Plot monthly totals]\n"
    "  B --> D[Think about it]\n"
    "  A --> E{Big enough?}\n"
    "  E -->|yes| F[Show table]\n"
)


async def test_clear_labels_become_code_and_the_rest_stay_stubs(tmp_path: Path) -> None:
    result = await generate_from_mermaid(FLOW)
    assert result.ok
    origins = {c.node_id: c.origin for c in result.cells}
    assert origins == {"A": "label", "B": "label", "C": "label", "D": "stub", "E": "stub"} | {
        "F": "stub"  # its input is a decision, not a table written from a label
    }
    codes = cell_codes(result.text)
    assert any('A = _pd.read_csv("sales.csv")' in c for c in codes)
    assert any('B = A.groupby("month")["amount"].sum().reset_index()' in c for c in codes)
    assert any('_ax.plot(B["month"], B["amount"], marker="o")' in c for c in codes)
    assert any('D = {"step": "Think about it", "inputs": [B]}' in c for c in codes)
    written, stubs = result.notes
    assert written.startswith("Written from their labels: A (")
    assert 'B ("Sum amount by month") total amount by month' in written
    assert "Think about it" not in written
    assert 'D ("Think about it")' in stubs
    assert 'E ("Big enough?", a decision)' in stubs
    # marimo's graph is still the chart's.
    steps = plan_steps(parse_mermaid(FLOW))
    edges, _ = marimo_dependencies(result.text, tmp_path)
    expected = {(p.variable, s.variable) for s in steps for p in s.inputs}
    assert edges == expected


async def test_a_label_body_that_breaks_the_contract_stays_a_stub(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        label_steps_module, "check_cell_code", lambda step, code, variables: ["broken"]
    )
    result = await generate_from_mermaid(FLOW)
    assert {c.origin for c in result.cells} == {"stub"}
    assert validate_notebook(result.text).valid


async def test_a_step_on_a_missing_column_of_a_known_file_stays_a_stub(tmp_path: Path) -> None:
    (tmp_path / "sales.csv").write_text("Month,Amount\n2024-01,3\n")
    chart = "flowchart LR\n  A[Load sales.csv] --> B[Sum amount by month] --> C[Sum price]\n"
    result = await generate_from_mermaid(chart, folder=tmp_path)
    assert [c.origin for c in result.cells] == ["label", "label", "stub"]
    assert 'B = A.groupby("Month")["Amount"].sum().reset_index()' in result.text
