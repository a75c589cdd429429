"""Notebooks from a prompt, a Mermaid flowchart, an upload or a template."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from hexa.api.deps import CurrentUser, ServicesDep
from hexa.api.responses import BODY, errors
from hexa.api.schemas import CreatedNotebook, Strict
from hexa.generate import list_templates
from hexa.generate.mermaid import MAX_MERMAID_BYTES
from hexa.notebooks.views import NotebookSummary

router = APIRouter(tags=["generation"])

_MAX_SOURCE = 200_000


class GenerateRequest(Strict):
    prompt: str | None = Field(None, max_length=_MAX_SOURCE)
    mermaid: str | None = Field(None, max_length=MAX_MERMAID_BYTES)
    name: str | None = Field(None, max_length=120)


class GeneratedNotebook(CreatedNotebook):
    notes: list[str] = Field(default_factory=list)
    remaining_errors: list[str] = Field(default_factory=list)


class TemplateInfo(BaseModel):
    id: str
    title: str
    description: str


@router.get("/api/templates", response_model=list[TemplateInfo], responses=errors(401))
async def templates(user: CurrentUser) -> list[TemplateInfo]:
    """The notebook templates `POST /api/notebooks` accepts."""
    return [TemplateInfo(**t) for t in list_templates()]


@router.post(
    "/api/notebooks/generate", response_model=GeneratedNotebook, responses=errors(*BODY, 409, 502)
)
async def generate(body: GenerateRequest, user: CurrentUser, svc: ServicesDep) -> GeneratedNotebook:
    """A notebook from `{prompt}` or `{mermaid}`; 422 with the line or nodes at fault."""
    made = await svc.generation.generate(
        user, prompt=body.prompt, mermaid=body.mermaid, name=body.name
    )
    return GeneratedNotebook(
        **_created(made.view).model_dump(),
        notes=list(made.notes),
        remaining_errors=list(made.remaining_errors),
    )


@router.post(
    "/api/notebooks/import", response_model=CreatedNotebook, responses=errors(*BODY, 409, 415)
)
async def import_notebook(
    file: Annotated[UploadFile, File(description="A marimo .py, a Python script or a .ipynb")],
    user: CurrentUser,
    svc: ServicesDep,
    name: Annotated[str | None, Form(max_length=120)] = None,
) -> CreatedNotebook:
    data = await file.read()
    view = await svc.generation.import_file(user, file.filename or "upload.py", data, name=name)
    return _created(view)


def _created(view: NotebookSummary) -> CreatedNotebook:
    return CreatedNotebook(
        notebook_id=view.notebook_id, name=view.name, path=view.path, url=view.url
    )
