"""The notebook tools' arguments: each model is the JSON schema the model is shown.

Field names, limits and descriptions are part of the agent's prompt; change them knowingly.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from hexa.agent.registry import NotebookArgs, ToolArgs

CellId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class MapArgs(NotebookArgs):
    preview_lines: int = Field(3, ge=1, le=20, description="Lines of code shown per cell.")


class CellIdsArgs(NotebookArgs):
    cell_ids: list[CellId] = Field(min_length=1, max_length=50, description="Cell ids.")


class SomeCellsArgs(NotebookArgs):
    cell_ids: list[CellId] = Field(
        default_factory=list, max_length=200, description="Cell ids; empty means every cell."
    )


class VariablesArgs(NotebookArgs):
    names: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Variable or dataframe names; empty means all of them.",
    )


class GraphArgs(NotebookArgs):
    cell_id: CellId | None = Field(None, description="Centre the graph on this cell.")
    depth: int | None = Field(None, ge=1, le=10, description="Hops from `cell_id`.")


class AddCellArgs(NotebookArgs):
    code: str = Field(description="Python code of the new cell (marimo rules apply).")
    after_cell_id: CellId | None = Field(None, description="Put it after this cell.")
    before_cell_id: CellId | None = Field(None, description="Put it before this cell.")
    name: str | None = Field(None, max_length=64, description="Optional cell name.")
    run: bool = Field(True, description="Run the cell once added.")

    @model_validator(mode="after")
    def _one_place(self) -> AddCellArgs:
        if self.after_cell_id and self.before_cell_id:
            raise ValueError("give after_cell_id or before_cell_id, not both")
        return self


class EditCellArgs(NotebookArgs):
    cell_id: CellId
    code: str = Field(description="The cell's complete new code.")
    run: bool = Field(True, description="Run the cell after the edit.")


class MoveCellArgs(NotebookArgs):
    cell_id: CellId
    after_cell_id: CellId | None = None
    before_cell_id: CellId | None = None

    @model_validator(mode="after")
    def _exactly_one_place(self) -> MoveCellArgs:
        if bool(self.after_cell_id) == bool(self.before_cell_id):
            raise ValueError("give exactly one of after_cell_id and before_cell_id")
        return self


class NoArgs(NotebookArgs):
    pass


class NewCellSpec(ToolArgs):
    code: str
    name: str | None = Field(None, max_length=64)


class ReplaceArgs(NotebookArgs):
    cells: list[NewCellSpec] = Field(min_length=1, max_length=200)
    run: bool = True
