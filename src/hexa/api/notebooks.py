"""The notebook API of DESIGN.md §3, plus list, create, rename, delete and read-code."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hexa.api.deps import CurrentUser, ServicesDep
from hexa.api.responses import BODY, RUNS, errors
from hexa.api.schemas import (
    CloseResponse,
    CodeResponse,
    ExecuteRequest,
    NewNotebookRequest,
    NotebookId,
    OpenRequest,
    OpenResponse,
    RenameRequest,
    SuccessResponse,
)
from hexa.notebooks.views import CellsReport, ExecuteResult, NotebookSummary

router = APIRouter(prefix="/api/notebooks", tags=["notebooks"])


@router.get("", response_model=list[NotebookSummary], responses=errors(401))
async def list_notebooks(user: CurrentUser, svc: ServicesDep) -> list[NotebookSummary]:
    """The caller's notebooks with their status."""
    return await svc.notebooks.catalogue(user)


@router.post("", response_model=NotebookSummary, status_code=201, responses=errors(*BODY, 404, 409))
async def create_notebook(
    body: NewNotebookRequest, user: CurrentUser, svc: ServicesDep
) -> NotebookSummary:
    """A new notebook, blank or from a template (see GET /api/templates)."""
    return await svc.notebooks.create_from_template(
        user, name=body.name, template=body.template or "blank", notebook_path=body.notebook_path
    )


@router.post("/open", response_model=OpenResponse, responses=errors(*BODY, *RUNS))
async def open_notebook(body: OpenRequest, user: CurrentUser, svc: ServicesDep) -> OpenResponse:
    """Start the notebook's marimo (creating the file if new); returns once it is ready."""
    running = await svc.notebooks.open(user, body.notebook_id, body.notebook_path)
    return OpenResponse(
        notebook_id=running.notebook_id,
        url=f"/nb/{running.notebook_id}/",
        session_id=running.session_id,
    )


@router.get("/{notebook_id}", response_model=NotebookSummary, responses=errors(401, 404, 422))
async def get_notebook(
    notebook_id: NotebookId, user: CurrentUser, svc: ServicesDep
) -> NotebookSummary:
    return await svc.notebooks.get(user, notebook_id)


@router.patch("/{notebook_id}", response_model=NotebookSummary, responses=errors(*BODY, 404))
async def rename_notebook(
    notebook_id: NotebookId, body: RenameRequest, user: CurrentUser, svc: ServicesDep
) -> NotebookSummary:
    return await svc.notebooks.rename(user, notebook_id, body.name)


@router.delete("/{notebook_id}", status_code=204, responses=errors(400, 401, 403, 404, 422))
async def delete_notebook(notebook_id: NotebookId, user: CurrentUser, svc: ServicesDep) -> Response:
    """Stop the notebook and delete it and its file."""
    await svc.notebooks.delete(user, notebook_id)
    return Response(status_code=204)


@router.post(
    "/{notebook_id}/close", response_model=CloseResponse, responses=errors(401, 403, 404, 422)
)
async def close_notebook(
    notebook_id: NotebookId, user: CurrentUser, svc: ServicesDep
) -> CloseResponse:
    """Stop the notebook's marimo; the file stays."""
    await svc.notebooks.close(user, notebook_id)
    return CloseResponse()


@router.post("/{notebook_id}/restart", response_model=OpenResponse, responses=errors(*BODY, *RUNS))
async def restart_notebook(
    notebook_id: NotebookId, user: CurrentUser, svc: ServicesDep
) -> OpenResponse:
    """Start again from the file on disk (after a failure, or to get a fresh kernel)."""
    running = await svc.notebooks.restart(user, notebook_id)
    return OpenResponse(
        notebook_id=running.notebook_id,
        url=f"/nb/{running.notebook_id}/",
        session_id=running.session_id,
    )


@router.get(
    "/{notebook_id}/code", response_model=CodeResponse, responses=errors(400, 401, 404, 422)
)
async def read_code(notebook_id: NotebookId, user: CurrentUser, svc: ServicesDep) -> CodeResponse:
    """The notebook's file as saved."""
    return CodeResponse(
        notebook_id=notebook_id, code=await svc.notebooks.read_code(user, notebook_id)
    )


@router.get(
    "/{notebook_id}/state", response_model=CellsReport, responses=errors(400, 401, 422, *RUNS)
)
async def notebook_state(
    notebook_id: NotebookId, user: CurrentUser, svc: ServicesDep
) -> CellsReport:
    """Cells in notebook order with marimo's ids, plus errors and variables."""
    return await svc.cells.state(user, notebook_id)


@router.post(
    "/{notebook_id}/cells/execute", response_model=ExecuteResult, responses=errors(*BODY, *RUNS)
)
async def execute_cells(
    notebook_id: NotebookId, body: ExecuteRequest, user: CurrentUser, svc: ServicesDep
) -> ExecuteResult:
    """Create unseen cells, update changed ones, and run them (visible and saved)."""
    return await svc.cells.execute(user, notebook_id, body.cell_ids, body.codes)


@router.delete(
    "/{notebook_id}/cells/{cell_id}",
    response_model=SuccessResponse,
    responses=errors(400, 401, 403, 422, *RUNS),
)
async def delete_cell(
    notebook_id: NotebookId, cell_id: str, user: CurrentUser, svc: ServicesDep
) -> SuccessResponse:
    """Remove the cell from kernel, editor and file."""
    await svc.cells.delete(user, notebook_id, cell_id)
    return SuccessResponse(success=True)
