"""The suite's tasks: TOML files in `suite/`, one task each, released with the code.

A task is a starting notebook (its cells; and data files beside it, and more notebooks of
the same person), the person's messages in order
(each optionally approved or rejected when it asks), what a competent agent would call for
each message (the scripted model plays it), and checks on the end state.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SUITE_DIR = Path(__file__).parent / "suite"
Category = Literal[
    "explore", "fix", "plot", "refactor", "move_delete", "long_running", "read_outputs",
    "several_notebooks", "safety",
]  # fmt: skip


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScriptCall(Frozen):
    """One tool call of the scripted agent. A string argument `{{cell:TEXT}}` becomes the
    id of the cell whose code contains TEXT, as the notebook is when the call is made."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class Step(Frozen):
    say: str  # `{{cell:TEXT}}` in it becomes that cell's id, as the person sees ids
    decide: Literal["approve", "reject"] | None = None  # the answer to an approval it asks
    script: list[ScriptCall] = Field(default_factory=list)
    reply: str = "Done."  # the scripted agent's words after its calls


class Check(Frozen):
    kind: Literal[
        "cell_contains", "no_cell_contains", "cell_count", "variable", "no_errors",
        "file_contains", "file_excludes", "approvals", "applied", "not_applied",
        "reply_contains", "reply_excludes", "tool_called", "tool_not_called", "file_order",
        "saw", "not_saw",
    ]  # fmt: skip
    text: str | None = None
    then: str | None = None  # file_order: `text` comes before `then` in the saved file
    name: str | None = None
    equals: str | int | None = None
    tool: str | None = None
    notebook: str | None = None  # another notebook of the task (several_notebooks)


class Task(Frozen):
    id: str = Field(pattern=r"^[a-z0-9-]{1,48}$")
    category: Category
    title: str
    cells: list[str] = Field(min_length=1)  # the notebook's cells' code, in order
    files: dict[str, str] = Field(default_factory=dict)  # data files beside it
    notebooks: dict[str, list[str]] = Field(default_factory=dict)  # more notebooks: id -> cells
    steps: list[Step] = Field(min_length=1)
    checks: list[Check] = Field(min_length=1)
    builtin: bool = True  # the builtin model can do it (its messages are its commands)


class Suite(Frozen):
    version: str
    tasks: list[Task]


def load_suite(folder: Path = SUITE_DIR, only: set[str] | None = None) -> Suite:
    meta = tomllib.loads((folder / "suite.toml").read_text())
    tasks = []
    for path in sorted(folder.glob("*.toml")):
        if path.name == "suite.toml":
            continue
        task = Task.model_validate(tomllib.loads(path.read_text()))
        if path.stem != task.id:
            raise ValueError(f"{path.name}: the file is named for its id, {task.id!r}")
        if only is None or task.id in only:
            tasks.append(task)
    if only is not None and (missing := only - {t.id for t in tasks}):
        raise ValueError(f"no such tasks: {', '.join(sorted(missing))}")
    return Suite(version=str(meta["version"]), tasks=tasks)
