"""The one tool registry: every tool the agent may call, with its schema and safety tier.

A tool is a name, a description written for an LLM, a pydantic model of its arguments
(the JSON schema the model sees), a tier, and an async implementation. Custom tools plug
in with `ToolRegistry.register`; the agent, the approvals and the audit log treat them
exactly like the built-in ones.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hexa.agent.views import CellChange
from hexa.marimo.models import BeforeHook, CellState
from hexa.marimo.protocol import NotebookClient
from hexa.users import Principal


class Tier(enum.StrEnum):
    """How much a call may change, and so whether it needs the person's yes first."""

    READ = "read"  # looks only
    WRITE = "write"  # applied at once (add, edit, move, run, ...)
    DESTRUCTIVE = "destructive"  # loses work or state: runs only after a stored approval


class ToolArgs(BaseModel):
    """Base of every tool's arguments: unknown keys are an error the model is told about."""

    model_config = ConfigDict(extra="forbid")


class NotebookArgs(ToolArgs):
    """Arguments of a tool that acts on a notebook: it is always named, never implied."""

    notebook_id: str | None = Field(
        None,
        max_length=64,
        description="The notebook to act on. Defaults to the notebook this chat belongs to.",
    )


class RunningNotebook(Protocol):
    """What the agent needs of a started notebook."""

    @property
    def client(self) -> NotebookClient: ...


class ListedNotebook(Protocol):
    """What the agent reads of a notebook in the list (the real one is NotebookSummary)."""

    @property
    def status(self) -> str: ...
    @property
    def name(self) -> str: ...


class NotebookAccess(Protocol):
    """The notebook service as the agent uses it (the real one is `NotebookService`).

    Every method checks that the notebook is the user's own: someone else's notebook is
    reported as not found.
    """

    async def get(self, user: Principal, notebook_id: str) -> ListedNotebook: ...

    async def running(self, user: Principal, notebook_id: str) -> RunningNotebook: ...

    async def restart(self, user: Principal, notebook_id: str) -> RunningNotebook: ...


class BackgroundRuns(Protocol):
    """Somewhere to keep a run that outlived its bounded wait (see `Toolbox.wait`)."""

    def keep(self, notebook_id: str, label: str, task: asyncio.Task[Any]) -> None: ...


@dataclass
class ToolContext:
    """What a tool implementation gets besides its arguments."""

    user: Principal
    notebook_id: str  # the chat's notebook: the default of every `notebook_id` argument
    notebooks: NotebookAccess
    run_wait: float  # seconds a run waits before reporting "still running"
    max_code_bytes: int
    background: BackgroundRuns
    # notebook id -> cell id -> the code the agent last read or wrote there (kept across
    # turns by the service): an edit of a cell that changed since is a conflict.
    seen: dict[str, dict[str, str]] = field(default_factory=dict)
    # notebook id -> its cells as the current call's last batch left them (the batch
    # reports them): the turn's end state without reading it again.
    left: dict[str, list[CellState]] = field(default_factory=dict)
    # The turn's undo snapshot, from its first batch on a notebook: the notebooks it is
    # still wanted of, and the cells a batch found there (reported before it applied).
    want_before: set[str] = field(default_factory=set)
    before: dict[str, list[CellState]] = field(default_factory=dict)
    _clients: dict[str, asyncio.Future[NotebookClient]] = field(default_factory=dict)

    def before_hook(self, notebook_id: str) -> BeforeHook | None:
        """What a batch on `notebook_id` reports the cells it found to, while the turn
        still wants them (only the first batch's count)."""
        if notebook_id not in self.want_before:
            return None

        def took(cells: Sequence[CellState]) -> None:
            if notebook_id in self.want_before:
                self.want_before.discard(notebook_id)
                self.before[notebook_id] = list(cells)

        return took

    def saw(self, notebook_id: str, cell_id: str, code: str) -> None:
        self.seen.setdefault(notebook_id, {})[cell_id] = code

    def target(self, args: ToolArgs) -> str:
        """The notebook a call acts on: its `notebook_id`, else the chat's."""
        named = getattr(args, "notebook_id", None)
        return named if isinstance(named, str) and named else self.notebook_id

    async def label(self, notebook_id: str) -> str:
        """How people know the notebook: its name (the id is a meaningless hex string)."""
        try:
            return f"'{(await self.notebooks.get(self.user, notebook_id)).name}'"
        except Exception:  # a label is never worth failing a call for
            return notebook_id

    async def client(self, notebook_id: str) -> NotebookClient:
        """The marimo client of one of the user's notebooks (started if needed)."""
        # One look-up per notebook and turn, shared by concurrent callers.
        pending = self._clients.get(notebook_id)
        if pending is None:
            pending = asyncio.ensure_future(self._running_client(notebook_id))
            self._clients[notebook_id] = pending
        try:
            return await asyncio.shield(pending)
        except BaseException:
            if pending.done() and self._clients.get(notebook_id) is pending:
                del self._clients[notebook_id]  # a failed look-up is not cached
            raise

    async def _running_client(self, notebook_id: str) -> NotebookClient:
        return (await self.notebooks.running(self.user, notebook_id)).client

    def forget_client(self, notebook_id: str) -> None:
        """Drop a cached client (its session changed, e.g. after a restart)."""
        self._clients.pop(notebook_id, None)


class ToolError(Exception):
    """A call that cannot be carried out as asked; the model is told why."""


@dataclass(frozen=True)
class ToolOutcome:
    """A finished call: `content` for the model, `summary` (one line) for people;
    `images` go to models that take images, besides the content that describes them."""

    content: str
    summary: str
    ok: bool = True
    code_before: str | None = None
    code_after: str | None = None
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class Image:
    media_type: str  # image/png, ...
    data: bytes


@dataclass(frozen=True)
class ApprovalPreview:
    """What the approval card shows: a sentence and the code that would change, as one
    text each (`code_before` is what the approval binds) and cell by cell (`changes`)."""

    description: str
    code_before: str | None = None
    code_after: str | None = None
    changes: tuple[CellChange, ...] = ()

    def stored(self) -> dict[str, Any]:
        """The preview as the approval row keeps it."""
        return {
            "code_before": self.code_before,
            "code_after": self.code_after,
            "changes": [c.model_dump() for c in self.changes],
        }


A = TypeVar("A", bound=ToolArgs)


@dataclass(frozen=True)
class ToolSpec(Generic[A]):
    name: str
    description: str
    args_model: type[A]
    tier: Tier
    run: Callable[[ToolContext, A], Awaitable[ToolOutcome]]
    # Whether a call may change cells' code or order: the turn's undo snapshot is taken
    # around the first such call, from what its batch reports it found (send batches
    # through `cell_access.apply_ops`, which asks for that report); a call whose batch
    # reports nothing gets a read as it ends.
    changes_cells: bool = False
    # For destructive tools: the approval card's text; `None` gives a generic sentence.
    preview: Callable[[ToolContext, A], Awaitable[ApprovalPreview]] | None = None

    def json_schema(self) -> dict[str, Any]:
        return self.args_model.model_json_schema()

    def parse(self, args: Any) -> A:
        """Validated arguments (a model instance passes through)."""
        if isinstance(args, self.args_model):
            return args
        return self.args_model.model_validate(args)


class ToolRegistry:
    """Tools by name. Anything not registered counts as destructive."""

    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec[Any]] = {}
        self.version = 0  # bumped by every registration (for caches of the schemas)

    def register(self, spec: ToolSpec[Any]) -> None:
        if spec.name in self._specs:
            raise ValueError(f"tool {spec.name!r} is already registered")
        if not spec.name.isidentifier():
            raise ValueError(f"tool names must be identifiers: {spec.name!r}")
        self._specs[spec.name] = spec
        self.version += 1

    def get(self, name: str) -> ToolSpec[Any] | None:
        return self._specs.get(name)

    def tier_of(self, name: str) -> Tier:
        spec = self._specs.get(name)
        return spec.tier if spec is not None else Tier.DESTRUCTIVE

    def __iter__(self) -> Iterator[ToolSpec[Any]]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def describe(self) -> list[dict[str, Any]]:
        """Every tool as JSON: name, tier, description and argument schema."""
        return [
            {
                "name": spec.name,
                "tier": spec.tier.value,
                "description": spec.description,
                "parameters": spec.json_schema(),
            }
            for spec in self._specs.values()
        ]
