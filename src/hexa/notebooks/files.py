"""Notebook files: every write is validated by marimo's checker and atomic."""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from hexa import safe_files
from hexa.errors import BadPathError, InvalidNotebookError
from hexa.generate.importing import import_notebook, normalize_notebook_text
from hexa.generate.saving import write_notebook_inside
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

    async def write(self, folder: Path, relative: str, text: str) -> None:
        """Validate and write `text` at `relative` in the person's `folder`, atomically."""
        with _no_links(relative):
            await asyncio.to_thread(write_notebook_inside, folder, relative, text)

    async def read(self, folder: Path, relative: str) -> str:
        """A notebook's text; 422 when the file is not UTF-8 (marimo could not read it)."""
        with _no_links(relative):
            data = await asyncio.to_thread(safe_files.read_bytes, folder, relative)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            name = PurePosixPath(relative).name
            message = f"{name} is not UTF-8 text (byte {exc.start}), so marimo cannot read it"
            raise InvalidNotebookError([], message=message) from exc

    async def remove(self, folder: Path, relative: str) -> None:
        with _no_links(relative):
            await asyncio.to_thread(safe_files.remove, folder, relative)

    async def check(self, folder: Path, relative: str) -> None:
        """Refuse to start a file marimo cannot open (it would exit at once). Problems in
        cells (a name defined twice, a cycle, a cell that does not parse) are not refused:
        marimo opens such a notebook and shows them in the cells, where the person (or the
        agent) can fix them; Hexa never writes one itself."""
        text = await self.read(folder, relative)
        result = await validate_notebook_async(text)
        fatal = [d for d in result.errors if d.code in UNOPENABLE]
        if fatal:
            raise InvalidNotebookError(
                result.diagnostics,
                message=f"{PurePosixPath(relative).name} is not a notebook marimo can open: "
                + "; ".join(d.describe() for d in fatal[:5]),
            )


@contextlib.contextmanager
def _no_links(relative: str) -> Iterator[None]:
    """A link (or a file where a folder should be) met on the way is the path's fault: 400."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise BadPathError(f"{relative} goes through a link or a file") from exc
        raise
