"""Templates: registry, rendering with a title, keyword matching for prompts."""

from __future__ import annotations

import pytest

from hexa.generate import (
    NotFoundError,
    generate_from_prompt,
    get_template,
    list_templates,
    match_template,
    notebook_from_prompt,
    render_template,
    validate_notebook,
)

IDS = [t["id"] for t in list_templates()]


def test_registry_lists_the_required_templates() -> None:
    listed = list_templates()
    assert {"blank", "data-analysis", "plotting", "sql"} <= set(IDS)
    assert IDS[0] == "blank"
    for item in listed:
        assert set(item) == {"id", "title", "description"}
        assert item["title"]
        assert item["description"]


@pytest.mark.parametrize("template_id", IDS)
def test_every_template_is_valid_without_warnings(template_id: str) -> None:
    result = validate_notebook(render_template(template_id))
    assert result.valid
    assert result.diagnostics == ()


def test_rendering_puts_the_title_on_top() -> None:
    text = render_template("plotting", title="Weekly <sales> plot\nsecond line")
    assert text.index("# Weekly &lt;sales&gt; plot second line") < text.index("import matplotlib")
    assert "# Plotting with matplotlib" in render_template("plotting")


@pytest.mark.parametrize("title", ["quotes \"\"\" and '''", "back\\slash C:\\temp", "{braces}"])
def test_awkward_titles_stay_valid_and_literal(title: str) -> None:
    text = render_template("blank", title=title)
    assert validate_notebook(text).valid


def test_sql_template_uses_duckdb_not_mo_sql() -> None:
    text = render_template("sql")
    assert "duckdb" in text
    assert "mo.sql" not in text  # needs sqlglot, which Hexa does not install


def test_unknown_template() -> None:
    with pytest.raises(NotFoundError, match="known: sql"):
        get_template("nope")
    with pytest.raises(NotFoundError):
        render_template("nope")


@pytest.mark.parametrize(
    ("prompt", "template_id"),
    [
        ("Plot a histogram of response times", "plotting"),
        ("visualise the trend as a line chart", "plotting"),
        ("Analyse sales by region from a CSV with pandas", "data-analysis"),
        ("query orders with SQL and join customers", "sql"),
        ("a DuckDB database of my expenses", "sql"),
        ("an interactive dashboard with a slider", "interactive"),
        ("hello there", "blank"),
        ("", "blank"),
    ],
)
def test_prompt_matches_the_nearest_template(prompt: str, template_id: str) -> None:
    assert match_template(prompt).id == template_id


def test_offline_prompt_notebook_has_prompt_title_and_note() -> None:
    text, template_id = notebook_from_prompt("Plot monthly revenue")
    assert template_id == "plotting"
    assert "# Plot monthly revenue" in text
    assert "language model" in text
    assert "> Plot monthly revenue" in text
    assert validate_notebook(text).valid


async def test_generate_from_prompt_offline() -> None:
    result = await generate_from_prompt("Analyse a CSV of sales")
    assert result.source == "builtin"
    assert result.template == "data-analysis"
    assert result.ok
    assert result.model_calls == 0
