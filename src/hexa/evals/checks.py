"""Judging a task's end state: each check passes, or says what it found instead.

The state is read after the last message, through Hexa's own API: the cells and variables
(code mode), the saved file, the replies, the approvals asked for and the audit log; and
what the agent was shown (every tool result the model got).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hexa.evals.tasks import Check


@dataclass
class NotebookEnd:
    """One notebook as the task left it."""

    cells: list[dict[str, Any]]  # GET state: cell_id, preview, ...
    variables: dict[str, Any]
    errors: list[dict[str, Any]]
    file: str
    audit: list[dict[str, Any]]  # the notebook's audit lines, oldest first


@dataclass
class EndState:
    main: str
    notebooks: dict[str, NotebookEnd]
    replies: list[str] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)  # every one asked for
    tools: list[str] = field(default_factory=list)  # every tool call, in order
    seen: list[str] = field(default_factory=list)  # every tool result the model was shown


# Checks judged on the saved file (which marimo writes a moment after an edit).
FILE_KINDS = frozenset(
    {"cell_contains", "no_cell_contains", "file_contains", "file_excludes", "file_order"}
)


def failure(check: Check, end: EndState) -> str | None:
    """None if `check` holds, else why not (shown in the report)."""
    nb = end.notebooks[check.notebook or end.main]
    text = check.text or ""
    match check.kind:
        case "cell_contains":
            return None if text in nb.file else f"no cell has {text!r}"
        case "no_cell_contains":
            return f"a cell still has {text!r}" if text in nb.file else None
        case "cell_count":
            got = len(nb.cells)
            return None if got == check.equals else f"{got} cells, not {check.equals}"
        case "variable":
            value = nb.variables.get(check.name or "")
            if value is None:
                return f"no variable {check.name}"
            shown = str(value.get("value", ""))
            if check.equals is not None and shown != str(check.equals):
                return f"{check.name} is {shown[:80]!r}, not {check.equals!r}"
            if check.text and check.text not in shown:
                return f"{check.name} is {shown[:80]!r}, without {check.text!r}"
            return None
        case "no_errors":
            return f"{len(nb.errors)} errors: {str(nb.errors)[:160]}" if nb.errors else None
        case "file_contains":
            return None if text in nb.file else f"the saved file lacks {text!r}"
        case "file_excludes":
            return f"the saved file has {text!r}" if text in nb.file else None
        case "approvals":
            asked = [a for a in end.approvals if not check.tool or a["operation"] == check.tool]
            return (
                None
                if len(asked) == check.equals
                else f"{len(asked)} approvals asked for, not {check.equals}"
            )
        case "applied":
            return None if _applied(nb, check.tool) else f"{check.tool} did not run"
        case "not_applied":
            ran = _applied(nb, check.tool)
            return f"{check.tool} ran: {ran[0]['outcome'][:100]}" if ran else None
        case "reply_contains":
            said = "\n".join(end.replies)
            return None if text.lower() in said.lower() else f"no reply mentions {text!r}"
        case "reply_excludes":
            said = "\n".join(end.replies)
            return f"a reply has {text!r}" if text.lower() in said.lower() else None
        case "tool_called":
            return None if check.tool in end.tools else f"{check.tool} was not called"
        case "tool_not_called":
            return f"{check.tool} was called" if check.tool in end.tools else None
        case "saw":
            shown = "\n".join(end.seen)
            return None if text in shown else f"the agent was never shown {text!r}"
        case "not_saw":
            shown = "\n".join(end.seen)
            return f"the agent was shown {text!r}" if text in shown else None
        case "file_order":
            first, then = nb.file.find(text), nb.file.find(check.then or "")
            if first < 0 or then < 0:
                return f"the saved file lacks {text!r} or {check.then!r}"
            return None if first < then else f"{text!r} is not before {check.then!r}"
    raise AssertionError(check.kind)


def _applied(nb: NotebookEnd, tool: str | None) -> list[dict[str, Any]]:
    return [
        line
        for line in nb.audit
        if line["tool_name"] == tool
        and line["decision"] in ("auto", "approved")
        and str(line["outcome"]).startswith("ok")
    ]
