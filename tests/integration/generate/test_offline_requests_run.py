"""Notebooks written offline from a request or from flowchart labels run against a real CSV
and compute what was asked: a check cell added to each notebook compares its variables with
numbers worked out here from the same rows (a failed check is a failed cell)."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import mean

import pytest

from hexa.generate import (
    SubprocessRunner,
    generate_from_mermaid,
    generate_from_prompt,
    validate_notebook,
)
from hexa.generate.codegen import CellSource, build_notebook
from hexa.generate.importing import cell_codes
from hexa.sandbox import Sandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = [
    ("north", "2024-01", 12.5),
    ("south", "2024-01", 4.0),
    ("north", "2024-02", 30.0),
    ("east", "2024-02", 8.0),
    ("south", "2024-03", 22.0),
    ("north", "2024-03", 3.5),
    ("east", "2024-03", 40.0),
]


def grouped(index: int, how: str) -> dict[str, float]:
    """Per region (index 0) or month (1): the sum, mean or count of the amounts."""
    groups: dict[str, list[float]] = defaultdict(list)
    for row in ROWS:
        groups[str(row[index])].append(row[2])
    reduce: dict[str, Callable[[list[float]], float]] = {"sum": sum, "mean": mean, "count": len}
    return {key: float(reduce[how](values)) for key, values in sorted(groups.items())}


@pytest.fixture
def sales_runner(tmp_path: Path, scratch_dir: Path, sandbox: Sandbox) -> SubprocessRunner:
    path = tmp_path / "sales.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["region", "month", "amount"])
        writer.writerows(ROWS)
    return SubprocessRunner(timeout=120, scratch_dir=scratch_dir, sandbox=sandbox, files=[path])


async def run_with_check(runner: SubprocessRunner, text: str, check: str) -> None:
    assert validate_notebook(text).valid
    checked = build_notebook([CellSource(code) for code in [*cell_codes(text), check]])
    report = await runner.run(checked)
    assert report.ok, [e.describe() + "\n" + e.traceback for e in report.errors]


def table_check(name: str, key: str, value: str, expected: dict[str, float]) -> str:
    return (
        f"_got = dict(zip({name}[{key!r}].astype(str), {name}[{value!r}].astype(float)))\n"
        f"assert _got == {expected!r}, _got"
    )


FIGURE = 'assert type(fig).__name__ == "Figure"'


async def test_total_per_region_as_a_bar_chart(sales_runner: SubprocessRunner) -> None:
    result = await generate_from_prompt(
        "Load sales.csv and plot total amount by region as a bar chart"
    )
    expected = grouped(0, "sum")
    check = "\n".join(
        [
            table_check("totals", "region", "amount", expected),
            FIGURE,
            f"assert len(ax.patches) == {len(expected)}",
        ]
    )
    await run_with_check(sales_runner, result.text, check)


async def test_average_per_month_as_a_line_chart(sales_runner: SubprocessRunner) -> None:
    result = await generate_from_prompt(
        "Read sales.csv and show a line chart of the average amount per month"
    )
    expected = grouped(1, "mean")
    check = "\n".join(
        [
            table_check("averages", "month", "amount", expected),
            FIGURE,
            f"assert list(ax.lines[0].get_ydata()) == {list(expected.values())!r}",
        ]
    )
    await run_with_check(sales_runner, result.text, check)


async def test_count_per_region(sales_runner: SubprocessRunner) -> None:
    result = await generate_from_prompt("count orders per region in sales.csv")
    await run_with_check(
        sales_runner, result.text, table_check("counts", "region", "count", grouped(0, "count"))
    )


async def test_histogram_of_a_column(sales_runner: SubprocessRunner) -> None:
    result = await generate_from_prompt("Show a histogram of amount from sales.csv")
    check = "\n".join([FIGURE, f"assert sum(p.get_height() for p in ax.patches) == {len(ROWS)}"])
    await run_with_check(sales_runner, result.text, check)


async def test_a_filter_then_an_average(sales_runner: SubprocessRunner) -> None:
    result = await generate_from_prompt(
        "Load sales.csv, only rows where amount > 10, average amount"
    )
    expected = mean(r[2] for r in ROWS if r[2] > 10)
    await run_with_check(sales_runner, result.text, f"assert average == {expected!r}, average")


async def test_sample_rows_when_no_file_is_named(sales_runner: SubprocessRunner) -> None:
    result = await generate_from_prompt("Plot sales by month")
    await run_with_check(sales_runner, result.text, FIGURE)


async def test_flowchart_labels_run_and_the_stub_stays(sales_runner: SubprocessRunner) -> None:
    chart = (
        "flowchart LR\n"
        "  A[Load sales.csv] --> B[Sum amount by month] --> C[Plot monthly totals]\n"
        "  B --> D[Think about it]\n"
        "  A --> F[Filter amount > 10] --> G[Bar chart of totals by region]\n"
    )
    result = await generate_from_mermaid(chart)
    origins = {c.node_id: c.origin for c in result.cells}
    assert origins == dict.fromkeys("ABCFG", "label") | {"D": "stub"}
    big: dict[str, float] = defaultdict(float)
    for region, _, amount in ROWS:
        if amount > 10:
            big[region] += amount
    heights = [big[region] for region in sorted(big)]
    check = "\n".join(
        [
            table_check("B", "month", "amount", grouped(1, "sum")),
            'assert type(C).__name__ == "Figure"',
            f"assert len(C.axes[0].lines[0].get_xdata()) == {len(grouped(1, 'sum'))}",
            'assert D == {"step": "Think about it", "inputs": [B]}',
            f"assert len(F) == {sum(1 for r in ROWS if r[2] > 10)}",
            f"assert [p.get_height() for p in G.axes[0].patches] == {heights!r}",
        ]
    )
    await run_with_check(sales_runner, result.text, check)
