"""Request and response bodies of the HTTP API (names exactly as DESIGN.md §3)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NotebookId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenRequest(Strict):
    notebook_id: NotebookId
    notebook_path: str


class OpenResponse(BaseModel):
    notebook_id: str
    url: str
    session_id: str


class CloseResponse(BaseModel):
    status: Literal["closed"] = "closed"


class ExecuteRequest(Strict):
    cell_ids: list[str] = Field(max_length=200)
    codes: list[str] = Field(max_length=200)

    @model_validator(mode="after")
    def _same_length(self) -> ExecuteRequest:
        if len(self.cell_ids) != len(self.codes):
            raise ValueError("cell_ids and codes must have the same length")
        return self


class SuccessResponse(BaseModel):
    success: bool


class CreateNotebookRequest(Strict):
    content: str
    name: str | None = Field(None, max_length=120)


class NewNotebookRequest(Strict):
    name: str = Field(min_length=1, max_length=120)
    template: str | None = None
    notebook_path: str | None = None


class RenameRequest(Strict):
    name: str = Field(min_length=1, max_length=120)


class CreatedNotebook(BaseModel):
    notebook_id: str
    name: str
    path: str
    url: str


class CodeResponse(BaseModel):
    notebook_id: str
    code: str
