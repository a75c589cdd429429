"""Notebook files: every write is validated by marimo's checker and atomic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

from hexa.generate.errors import (
    NotebookInvalidError,
    UnknownTemplateError,
    UnsupportedNotebookFormatError,
)
from hexa.generate.importing import import_notebook, normalize_notebook_text
from hexa.generate.saving import make_folders, write_notebook
from hexa.generate.templates import render_template
from hexa.generate.validation import validate_notebook_async
from hexa.notebooks.errors import InvalidNotebookError, NotFoundError, UnsupportedError

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


class NotebookFiles:
    """Writes and checks notebook files; nothing invalid or half-written reaches disk."""

    def blank(self) -> str:
        return _BLANK

    def template(self, template_id: str, *, title: str | None = None) -> str:
        try:
            return render_template(template_id, title=title)
        except UnknownTemplateError as exc:
            raise NotFoundError(str(exc)) from exc

    async def normalize(self, text: str) -> str:
        """Almost-right notebook text (an LLM's) as marimo would write it; 422 when marimo
        cannot read it at all."""
        with _invalid_as_422():
            return await asyncio.to_thread(normalize_notebook_text, text)

    async def convert(self, filename: str, data: bytes) -> str:
        """A `.py` notebook or script, or a Jupyter `.ipynb`, as a marimo notebook."""
        with _invalid_as_422():
            try:
                return await asyncio.to_thread(import_notebook, filename, data)
            except UnsupportedNotebookFormatError as exc:
                raise UnsupportedError(str(exc)) from exc

    async def write(self, path: Path, text: str) -> None:
        make_folders(path.parent)
        try:
            await asyncio.to_thread(write_notebook, path, text)
        except NotebookInvalidError as exc:
            raise InvalidNotebookError(str(exc), [d.to_dict() for d in exc.diagnostics]) from exc

    async def read(self, path: Path) -> str:
        """A notebook's text; 422 when the file is not UTF-8 (marimo could not read it)."""
        try:
            return await asyncio.to_thread(path.read_text, encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidNotebookError(
                f"{path.name} is not UTF-8 text (byte {exc.start}), so marimo cannot read it",
                [],
            ) from exc

    async def check(self, path: Path) -> None:
        """Refuse to start a file marimo cannot open (it would exit at once)."""
        text = await self.read(path)
        result = await validate_notebook_async(text)
        if not result.valid:
            raise InvalidNotebookError(
                f"{path.name} is not a valid marimo notebook: "
                + "; ".join(d.describe() for d in result.errors[:5]),
                [d.to_dict() for d in result.diagnostics],
            )


@contextlib.contextmanager
def _invalid_as_422() -> Iterator[None]:
    try:
        yield
    except NotebookInvalidError as exc:
        raise InvalidNotebookError(str(exc), [d.to_dict() for d in exc.diagnostics]) from exc
