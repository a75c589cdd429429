"""New notebooks from a prompt, a Mermaid flowchart or an uploaded file, for a user."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import PurePosixPath

from hexa.errors import BadRequestError
from hexa.generate import (
    GenerationResult,
    NotebookRunner,
    TextModel,
    generate_from_mermaid,
    generate_from_prompt,
)
from hexa.generate.importing import becomes_one_cell, cell_codes
from hexa.generate.mermaid import parse_mermaid
from hexa.notebooks.paths import display_name
from hexa.notebooks.service import NotebookService
from hexa.notebooks.views import NotebookSummary
from hexa.users import Principal


@dataclass(frozen=True)
class Generated:
    view: NotebookSummary
    notes: tuple[str, ...]
    remaining_errors: tuple[str, ...]


class GenerationService:
    """Turns outside material into a saved, validated notebook of the user's."""

    def __init__(
        self,
        notebooks: NotebookService,
        model: TextModel | None = None,
        runner: NotebookRunner | None = None,
    ) -> None:
        self._notebooks = notebooks
        # Runs model-written notebooks to find failing cells (in the sandbox Hexa uses).
        self._runner = runner
        # None: the builtin, offline path (cells from the request or labels, else stubs or
        # the nearest template).
        self._model = model

    async def generate(
        self,
        user: Principal,
        *,
        prompt: str | None = None,
        mermaid: str | None = None,
        name: str | None = None,
    ) -> Generated:
        if (prompt is None) == (mermaid is None):
            raise BadRequestError("give exactly one of prompt or mermaid")
        # New notebooks go to the top of the folder; the data files they name are read
        # (only their header, only inside it) to match the columns a request names.
        folder = self._notebooks.folder(user)
        if mermaid is not None:
            title = name or parse_mermaid(mermaid).title or "Flowchart"
            result = await generate_from_mermaid(
                mermaid, self._model, title=title, runner=self._runner, folder=folder
            )
            default_name = title
        else:
            assert prompt is not None
            if not prompt.strip():
                raise BadRequestError("prompt is empty")
            result = await generate_from_prompt(
                prompt, self._model, runner=self._runner, folder=folder
            )
            default_name = prompt.strip().splitlines()[0][:60]
        return await self._save(user, result, name or default_name)

    async def import_file(
        self, user: Principal, filename: str, data: bytes, *, name: str | None = None
    ) -> NotebookSummary:
        if becomes_one_cell(filename, data):
            # A plain script becomes one cell: its size is known before any work.
            self._notebooks.check_code_sizes([data.decode("utf-8", "replace")])
        text = await self._notebooks.files.convert(filename, data)
        self._notebooks.check_code_sizes(await asyncio.to_thread(cell_codes, text))
        # `data.md` is named `data`, as `data.py` is; its file becomes `data.py`.
        stem = display_name(PurePosixPath(filename).with_suffix(".py").name)
        return await self._notebooks.create(user, text=text, name=name or stem)

    async def _save(self, user: Principal, result: GenerationResult, name: str) -> Generated:
        view = await self._notebooks.create(user, text=result.text, name=name)
        return Generated(
            view=view, notes=tuple(result.notes), remaining_errors=tuple(result.remaining_errors)
        )
