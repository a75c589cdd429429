"""Notebook files: every write is validated by marimo's checker and atomic."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hexa.errors import InvalidNotebookError
from hexa.generate.importing import import_notebook, normalize_notebook_text
from hexa.generate.saving import make_folders, write_notebook
from hexa.generate.templates import render_template
from hexa.generate.validation import validate_notebook_async

_BLANK = """import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo
    return (mo,)


if __name__ == "__main__":
    app.run()
"""


# What the checker finds about a file as a whole (`validation._file_diagnostic`): marimo
# cannot load it at all.
UNOPENABLE = frozenset({"empty", "syntax-error", "not-a-notebook"})


class NotebookFiles:
    """Writes and checks notebook files; nothing invalid or half-written reaches disk."""

    def blank(self) -> str:
        return _BLANK

    def template(self, template_id: str, *, title: str | None = None) -> str:
        return render_template(template_id, title=title)

    async def normalize(self, text: str) -> str:
        """Almost-right notebook text (an LLM's) as marimo would write it; 422 when marimo
        cannot read it at all."""
        return await asyncio.to_thread(normalize_notebook_text, text)

    async def convert(self, filename: str, data: bytes) -> str:
        """A `.py` notebook or script, or a Jupyter `.ipynb`, as a marimo notebook."""
        return await asyncio.to_thread(import_notebook, filename, data)

    async def write(self, path: Path, text: str) -> None:
        make_folders(path.parent)
        await asyncio.to_thread(write_notebook, path, text)

    async def read(self, path: Path) -> str:
        """A notebook's text; 422 when the file is not UTF-8 (marimo could not read it)."""
        try:
            return await asyncio.to_thread(path.read_text, encoding="utf-8")
        except UnicodeDecodeError as exc:
            message = f"{path.name} is not UTF-8 text (byte {exc.start}), so marimo cannot read it"
            raise InvalidNotebookError([], message=message) from exc

    async def check(self, path: Path) -> None:
        """Refuse to start a file marimo cannot open (it would exit at once). Problems in
        cells (a name defined twice, a cycle, a cell that does not parse) are not refused:
        marimo opens such a notebook and shows them in the cells, where the person (or the
        agent) can fix them; Hexa never writes one itself."""
        text = await self.read(path)
        result = await validate_notebook_async(text)
        fatal = [d for d in result.errors if d.code in UNOPENABLE]
        if fatal:
            raise InvalidNotebookError(
                result.diagnostics,
                message=f"{path.name} is not a notebook marimo can open: "
                + "; ".join(d.describe() for d in fatal[:5]),
            )
