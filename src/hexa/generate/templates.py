"""Starter notebooks: a registry, rendering with a title, and a keyword match for prompts.

Every template runs on a fresh install of Hexa's dependencies (pandas, matplotlib, DuckDB)
without network or data files. The SQL template calls DuckDB directly: marimo's `mo.sql`
also needs `sqlglot`, which Hexa does not install.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from hexa.errors import NotFoundError
from hexa.generate.codegen import CellSource, build_notebook, markdown_cell, one_line


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    description: str
    keywords: tuple[str, ...]  # prefixes matched against the words of a prompt
    cells: tuple[CellSource, ...]

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description}


def _cells(*codes: str) -> tuple[CellSource, ...]:
    return tuple(CellSource(code=code) for code in codes)


_BLANK = Template(
    id="blank",
    title="Blank notebook",
    description="A title and `import marimo as mo`, nothing else.",
    keywords=(),
    cells=(),
)

_DATA_ANALYSIS = Template(
    id="data-analysis",
    title="Data analysis with pandas",
    description="Load a table into a pandas DataFrame, summarise it and group it.",
    keywords=(
        "data",
        "pandas",
        "dataframe",
        "csv",
        "excel",
        "analy",
        "statistic",
        "summar",
        "aggregat",
        "group",
        "clean",
        "explor",
        "sales",
        "metric",
    ),
    cells=_cells(
        "import pandas as pd",
        """# Replace with your own data, e.g. pd.read_csv("data.csv").
df = pd.DataFrame(
    {
        "region": ["north", "south", "east", "west", "north", "south", "east", "west"],
        "quarter": ["Q1", "Q1", "Q1", "Q1", "Q2", "Q2", "Q2", "Q2"],
        "sales": [120, 98, 143, 87, 135, 110, 150, 95],
        "units": [12, 10, 15, 9, 14, 11, 16, 10],
    }
)
df""",
        "df.describe()",
        """by_region = (
    df.groupby("region", as_index=False)[["sales", "units"]]
    .sum()
    .sort_values("sales", ascending=False)
)
by_region""",
        """_best = by_region.iloc[0]
mo.md(f"The best region is **{_best['region']}** with {_best['sales']} in sales.")""",
    ),
)

_PLOTTING = Template(
    id="plotting",
    title="Plotting with matplotlib",
    description="Line and histogram plots with matplotlib and NumPy.",
    keywords=(
        "plot",
        "chart",
        "graph",
        "matplotlib",
        "visuali",
        "histogram",
        "scatter",
        "figure",
        "curve",
        "line",
        "bar",
        "trend",
    ),
    cells=_cells(
        "import matplotlib.pyplot as plt\nimport numpy as np",
        "x = np.linspace(0, 2 * np.pi, 200)",
        """# Underscored names stay local to this cell, so other cells can reuse them.
_fig, _ax = plt.subplots(figsize=(6, 3.5))
_ax.plot(x, np.sin(x), label="sin(x)")
_ax.plot(x, np.cos(x), label="cos(x)")
_ax.set_xlabel("x")
_ax.legend()
_ax""",
        """samples = np.random.default_rng(seed=0).normal(loc=0.0, scale=1.0, size=500)
_fig, _ax = plt.subplots(figsize=(6, 3.5))
_ax.hist(samples, bins=30)
_ax.set_title("500 draws from a normal distribution")
_ax""",
    ),
)

_SQL = Template(
    id="sql",
    title="SQL with DuckDB",
    description="Query pandas DataFrames with SQL in an in-memory DuckDB database.",
    keywords=("sql", "duckdb", "query", "queries", "database", "select", "join", "postgres"),
    cells=_cells(
        "import duckdb\nimport pandas as pd",
        """orders = pd.DataFrame(
    {
        "customer": ["ada", "grace", "alan", "ada", "grace", "ada"],
        "day": ["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"],
        "amount": [30.0, 12.5, 8.0, 22.0, 40.0, 5.5],
    }
)""",
        """# An in-memory database; registering the DataFrame here makes every query cell
# depend on `orders` through `db`, so they rerun when it changes.
db = duckdb.connect()
db.register("orders", orders)""",
        '''top_customers = db.sql(
    """
    SELECT customer, SUM(amount) AS total, COUNT(*) AS n_orders
    FROM orders
    GROUP BY customer
    ORDER BY total DESC
    """
).df()
top_customers''',
        """daily = db.sql(
    "SELECT day, SUM(amount) AS total FROM orders GROUP BY day ORDER BY day"
).df()
daily""",
    ),
)

_INTERACTIVE = Template(
    id="interactive",
    title="Interactive notebook",
    description="A slider whose value drives the cells below it.",
    keywords=("interactive", "slider", "widget", "dashboard", "ui", "input", "control", "app"),
    cells=_cells(
        'n = mo.ui.slider(start=1, stop=100, value=20, label="Number of terms")\nn',
        "squares = [i * i for i in range(1, n.value + 1)]",
        'mo.md(f"The sum of the first **{n.value}** squares is **{sum(squares)}**.")',
    ),
)

# Most specific first: on a tie the earlier template wins.
TEMPLATES: tuple[Template, ...] = (_SQL, _PLOTTING, _DATA_ANALYSIS, _INTERACTIVE, _BLANK)


def list_templates() -> list[dict[str, Any]]:
    """`[{id, title, description}]`, blank first."""
    ordered = sorted(TEMPLATES, key=lambda t: t.id != "blank")
    return [template.info() for template in ordered]


def get_template(template_id: str) -> Template:
    for template in TEMPLATES:
        if template.id == template_id:
            return template
    raise NotFoundError(f"No template {template_id!r}; known: {_known()}")


def render_template(
    template_id: str = "blank", title: str | None = None, note: str | None = None
) -> str:
    """The template as notebook text, headed by `title` (default: the template's title) and
    an optional markdown `note` under it."""
    template = get_template(template_id)
    heading = one_line(title) if title and title.strip() else template.title
    cells = [markdown_cell(f"# {html.escape(heading, quote=False)}")]
    if note:
        cells.append(markdown_cell(note))
    cells.append(CellSource(code="import marimo as mo", hide_code=True))
    cells.extend(template.cells)
    return build_notebook(cells)


def match_template(prompt: str) -> Template:
    """The template whose keywords best match the words of `prompt`; blank when none do."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    best, best_score = _BLANK, 0
    for template in TEMPLATES:
        score = sum(1 for key in template.keywords if any(w.startswith(key) for w in words))
        if score > best_score:
            best, best_score = template, score
    return best


def _known() -> str:
    return ", ".join(t.id for t in TEMPLATES)
