"""What the notebook services return: pydantic models that are the API's replies too."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

NotebookStatus = Literal["stopped", "starting", "running", "failed"]


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class NotebookSummary(View):
    """A notebook as listed to its owner."""

    notebook_id: str
    name: str
    path: str
    url: str
    status: NotebookStatus
    reason: str | None = Field(None, description="Why it failed, when it did.")
    created_at: AwareDatetime
    last_opened_at: AwareDatetime | None


class CellInfo(View):
    cell_id: str
    preview: str
    line_count: int
    cell_type: str
    runtime_state: str | None = None
    has_output: bool = False
    has_errors: bool = False
    name: str | None = None


class CellsReport(View):
    """What `GET .../state` reports: cells in order, errors, variables."""

    notebook_id: str
    cells: list[CellInfo]
    errors: list[dict[str, Any]]
    variables: dict[str, Any]


class ExecuteResult(View):
    success: bool
    cell_ids: list[str] = Field(description="The real marimo ids of the cells, in order.")
    errors: list[dict[str, Any]] = Field(default_factory=list)
