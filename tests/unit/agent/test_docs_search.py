"""The shipped custom tool: offline search of marimo's API docs (imports marimo, no network)."""

from __future__ import annotations

from hexa.agent.docs_search import DocEntry, DocsIndex, DocsSearch, build_index


def test_ranking_prefers_names() -> None:
    index = DocsIndex(
        [
            DocEntry("mo.ui.slider", "(start, stop)", "A numeric slider over an interval."),
            DocEntry("mo.ui.table", "(data)", "A table; each row can have a slider widget."),
            DocEntry("mo.md", "(text)", "Markdown."),
        ]
    )
    assert [h.entry.name for h in index.search("slider")][:2] == ["mo.ui.slider", "mo.ui.table"]
    assert index.search("mo.md")[0].entry.name == "mo.md"
    assert index.search("!!!") == []


def test_the_real_index_covers_marimos_api() -> None:
    entries = build_index()
    names = {e.name for e in entries}
    assert {"mo.ui.slider", "mo.md", "mo.sql", "mo.ui.table", "mo.hstack"} <= names
    index = DocsIndex(entries)
    assert index.search("slider")[0].entry.name == "mo.ui.slider"
    assert index.search("sql query")[0].entry.name == "mo.sql"


async def test_the_index_is_built_once_off_the_loop() -> None:
    search = DocsSearch()
    first = await search.index()
    assert await search.index() is first
