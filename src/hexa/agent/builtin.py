"""The `builtin` model: offline, deterministic, and honest about how little it knows.

It is a pydantic-ai `FunctionModel`, so it drives the very same agent, tools, approvals,
audit and streaming as a real model. It understands a few commands (`COMMANDS`) and any
fenced python block, makes at most one tool call per message, and afterwards puts the
tool's result into words. Anything else gets a plain answer saying what it can do and how
to configure a real model.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    RetryPromptPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from hexa.agent.outputs import code_span

MODEL_NAME = "hexa-builtin"

# (what to type, what it does): shown by `help` and `GET /api/agent`.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("add a cell: ```python ...```", "add a cell with that code and run it"),
    ("```python ...```", "any fenced python block: add it as a cell and run it"),
    ("add a cell after <id>: ```python ...```", "add it after (or before) a cell"),
    ("edit cell <id>: ```python ...```", "replace a cell's code and run it"),
    ("run all", "run every cell"),
    ("run cell <id> [<id> ...]", "run cells"),
    ("run stale", "run the cells that are out of date"),
    ("move cell <id> after <id>", "move a cell (also: before)"),
    ("delete cell <id> [<id> ...]", "delete cells (asks for your approval first)"),
    ("list cells", "the notebook's cells with ids and first lines"),
    ("show cell <id>", "a cell's code, state and errors"),
    ("show outputs [of cell <id>]", "outputs as text"),
    ("show errors", "every error in the notebook"),
    ("why is my cell failing?", "explain the notebook's errors (also: explain the error)"),
    ("show variables", "variables and dataframes"),
    ("lint", "marimo's checker"),
    ("format", "format every cell with ruff"),
    ("interrupt", "stop the running cell"),
    ("restart kernel", "restart the kernel (asks for your approval first)"),
    ("docs <words>", "search marimo's API documentation"),
    ("show rules", "marimo's rules for writing cells"),
    ("help", "this list"),
)

_ID = r"`?([A-Za-z0-9_-]+)`?"
_IDS = r"((?:`?[A-Za-z0-9_-]+`?(?:\s*,\s*|\s+and\s+|\s+)?)+)"
_CODE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n?(.*?)```", re.S | re.I)
_SELECTED = re.compile(r"\b(selected|this|these|that)\b", re.I)


@dataclass(frozen=True)
class Call:
    tool_name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    text: str


def help_text() -> str:
    rows = "\n".join(f"- {code_span(typed)}: {does}" for typed, does in COMMANDS)
    return (
        "I'm Hexa's built-in assistant: I work offline and understand these commands "
        f"(cell ids are the ones `list cells` shows):\n{rows}\n\n{CONFIGURE}"
    )


CONFIGURE = (
    "Writing code from a description, answering questions about your data and fixing "
    "cells for you need a real model: set `HEXA_MODEL=openai:<model>` with "
    "`OPENAI_API_KEY`, `HEXA_MODEL=anthropic:<model>` with `ANTHROPIC_API_KEY`, or "
    "`HEXA_MODEL=openai-compatible:<model>` with `HEXA_OPENAI_BASE_URL` for Ollama or vLLM, "
    "and restart `hexa serve`."
)


def _ids(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z0-9_-]+", text)
    return [w for w in words if w.lower() not in {"and", "cell", "cells"}]


def parse_command(text: str, selected: Sequence[str] = ()) -> Call | Say:
    """What a chat message asks the builtin model to do."""
    message = text.strip()
    code = _CODE.search(message)
    if code is not None:
        return _code_command(message[: code.start()], code.group(1).strip("\n"))
    head = message.rstrip(":").strip()
    low = head.lower()
    if low in {"help", "?", "commands"} or "what can you do" in low:
        return Say(help_text())
    return _plain_command(head, low, selected) or Say(_UNKNOWN)


def _code_command(head: str, body: str) -> Call:
    """A fenced block: it replaces the code of the cell the words before it name for an
    edit, else it goes into a new cell (placed after or before a cell if they say so)."""
    edit = re.search(rf"\b(?:edit|change|update|replace)\s+(?:cell\s+)?{_ID}", head, re.I)
    if edit:
        return Call("edit_cell", {"cell_id": edit.group(1), "code": body})
    args: dict[str, Any] = {"code": body}
    place = re.search(rf"\b(after|before)\s+(?:cell\s+)?{_ID}", head, re.I)
    if place:
        args[f"{place.group(1).lower()}_cell_id"] = place.group(2)
    return Call("add_cell", args)


_UNKNOWN = (
    "I'm the built-in offline assistant, so I only understand a few commands (type "
    "`help` for the list), such as a fenced python block to add a cell, `run all`, "
    f"`delete cell <id>` or `show errors`.\n\n{CONFIGURE}"
)

# Whole-message phrases that ask for one fixed call, matched lower-cased: (pattern, tool,
# arguments). Tried before the commands on cells, which would read `run all` or
# `show errors` as naming cells `all` and `errors`.
_PHRASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        r"(?:please\s+)?run\s+(?:all|everything|all\s+cells|the\s+notebook)",
        "run_cells",
        {"cell_ids": []},
    ),
    (r"run\s+(?:the\s+)?stale(?:\s+cells)?", "run_stale_cells", {}),
    (r"(?:show|list|any)\s+(?:the\s+)?errors?", "get_notebook_errors", {}),
    (
        r"(?:why\s+(?:is|does|did)\s+(?:my|the|this|that|a)?\s*(?:cell|code|notebook)"
        r"(?:\s+\S+)?\s+(?:fail|failing|break|broken|crash|error)\w*"
        r"|what(?:'s|\s+is)\s+wrong(?:\s+with\s+.*)?"
        r"|explain\s+(?:the\s+|this\s+|my\s+)?errors?"
        r"|what\s+does\s+(?:the\s+|this\s+)?error\s+mean)"
        r"(?:\s*\?)?(?:\s+please)?",
        "get_notebook_errors",
        {},
    ),
    (r"(?:show\s+)?(?:the\s+)?(?:marimo(?:'s)?\s+)?rules", "get_marimo_rules", {}),
    (r"(?:list|show)\s+(?:the\s+)?(?:cells|notebook)|map", "get_notebook_map", {}),
    (r"(?:show|list)\s+(?:the\s+)?(?:variables|vars|dataframes|data)", "get_variables", {}),
    (r"restart(?:\s+the)?\s+kernel", "restart_kernel", {}),
    (r"lint(?:\s+(?:the\s+)?notebook)?|check(?:\s+the)?\s+notebook", "lint_notebook", {}),
    (r"format(?:\s+(?:the\s+)?(?:notebook|cells|code))?", "format_cells", {"cell_ids": []}),
    (r"interrupt|stop(?:\s+(?:the\s+)?(?:run|kernel))?", "interrupt_kernel", {}),
)
_CLEAR = re.compile(r"clear\s+(?:all\s+)?outputs?")
_DOCS = re.compile(r"(?:docs|search\s+(?:the\s+)?docs(?:\s+for)?)\s+(.+)", re.I)


def _plain_command(head: str, low: str, selected: Sequence[str]) -> Call | None:
    """A message without code: a fixed phrase, a command on cells, or a docs search."""
    for pattern, tool, args in _PHRASES:
        if re.fullmatch(pattern, low):
            return Call(tool, dict(args))  # a copy: the table's dict is shared
    if _CLEAR.fullmatch(low):
        return Call("clear_outputs", {"cell_ids": list(selected)})
    on_cells = _cells_command(head, selected)
    if on_cells is not None:
        return on_cells
    match = _DOCS.fullmatch(head)
    if match:
        return Call("search_marimo_docs", {"query": match.group(1)[:200]})
    return None


_MOVE = re.compile(
    rf"move\s+(?:cell\s+)?{_ID}\s+(after|before|below|above)\s+(?:cell\s+)?{_ID}", re.I
)
_OUTPUTS = re.compile(
    r"show\s+(?:the\s+)?outputs?(?:\s+of)?(?:\s+(?:cells?\s+)?" + _IDS + ")?", re.I
)
# Commands on a list of cells: (pattern, tool). `show <ids>` comes after `show outputs`,
# which it would also match.
_ON_CELLS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"run\s+(?:the\s+)?(?:cells?\s+)?" + _IDS, re.I), "run_cells"),
    (re.compile(r"(?:delete|remove)\s+(?:the\s+)?(?:cells?\s+)?" + _IDS, re.I), "delete_cells"),
    (re.compile(r"show\s+(?:cells?\s+)?" + _IDS, re.I), "get_cells"),
)


def _cells_command(head: str, selected: Sequence[str]) -> Call | None:
    """Move, show outputs, run, delete or show cells. A run, delete or show whose cells
    come to none (say `run this` with nothing selected) is no command."""
    match = _MOVE.fullmatch(head)
    if match:
        where = "after" if match.group(2).lower() in ("after", "below") else "before"
        return Call("move_cell", {"cell_id": match.group(1), f"{where}_cell_id": match.group(3)})
    match = _OUTPUTS.fullmatch(head)
    if match:
        return Call("get_cell_outputs", {"cell_ids": _targets(match.group(1), selected)})
    for pattern, tool in _ON_CELLS:
        match = pattern.fullmatch(head)
        ids = _targets(match.group(1), selected) if match else []
        if ids:
            return Call(tool, {"cell_ids": ids})
    return None


def _targets(found: str | None, selected: Sequence[str]) -> list[str]:
    """The cells a command names; `this`, `these`, `that` or `selected` (or none named)
    mean the person's selected cells."""
    if found and not _SELECTED.search(found):
        return _ids(found)
    return list(selected)


def _chunks(text: str, size: int = 80) -> list[str]:
    """Pieces of about `size` characters cut after whitespace, so the reply streams like
    a real model's (each streamed piece costs pydantic-ai an event: not word by word)."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = cut + 1 if cut > start else end
        pieces.append(text[start:end])
        start = end
    return pieces or [text]


def _answer(part: ToolReturnPart | RetryPromptPart) -> str:
    if isinstance(part, RetryPromptPart):
        return f"I could not do that: {part.model_response()}"
    content = (
        part.content if isinstance(part.content, str) else json.dumps(part.content, default=str)
    )
    if part.outcome == "denied":
        return f"OK, I did not run `{part.tool_name}`. {content}"
    if part.outcome in ("failed", "retried"):
        return f"I could not do that: {content}"
    if part.tool_name == "get_notebook_errors" and content[:1].isdigit():
        return f"{content}\n\n{FIXING}"
    return content


FIXING = (
    "Working offline, I explain errors but do not rewrite cells. To fix one yourself, send "
    "`edit cell <id>:` followed by a fenced python block with the new code; a real model "
    "(see `help`) can write the fix for you."
)


def reply_to(messages: Sequence[ModelMessage], selected: Sequence[str] = ()) -> Call | Say:
    """The builtin model's next step for this conversation."""
    request = messages[-1]
    if not isinstance(request, ModelRequest) or not request.parts:
        return Say("I have nothing to answer.")
    results = [p for p in request.parts if isinstance(p, ToolReturnPart | RetryPromptPart)]
    # Beside tool results, a user part that is not plain text carries what a tool returned
    # besides its text (images), not a new message (which carried denials may precede).
    prompt = next(
        (
            p
            for p in reversed(request.parts)
            if isinstance(p, UserPromptPart) and (isinstance(p.content, str) or not results)
        ),
        None,
    )
    if prompt is not None:
        content = (
            prompt.content
            if isinstance(prompt.content, str)
            else " ".join(c for c in prompt.content if isinstance(c, str))
        )
        return parse_command(content, selected)
    if results:
        return Say("\n\n".join(_answer(p) for p in results))
    return Say("I have nothing to answer.")


def builtin_model(selected: Sequence[str] = ()) -> FunctionModel:
    """A FunctionModel that follows `reply_to`; `selected` are the person's selected cells."""
    chosen = tuple(selected)

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        step = reply_to(messages, chosen)
        if isinstance(step, Call):
            call_id = f"builtin-{uuid.uuid4().hex[:12]}"
            yield {
                0: DeltaToolCall(
                    name=step.tool_name, json_args=json.dumps(step.args), tool_call_id=call_id
                )
            }
            return
        for chunk in _chunks(step.text):
            yield chunk

    return FunctionModel(stream_function=stream, model_name=MODEL_NAME)
