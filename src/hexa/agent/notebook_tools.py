"""The notebook tools: what the agent can read, change and (with a yes) destroy.

Reads go through marimo's own tools (`invoke_tool`); every change goes through code mode
(one atomic batch per call), so it shows in the person's editor and is saved to the file.
Each tool names its notebook (`notebook_id`, defaulting to the chat's). The tools live in
`tools_read`, `tools_write` and `tools_destructive`; their arguments in `tools_args`.
"""

from __future__ import annotations

from hexa.agent.registry import ToolRegistry
from hexa.agent.tools_destructive import DESTRUCTIVE_TOOLS
from hexa.agent.tools_read import READ_TOOLS
from hexa.agent.tools_write import WRITE_TOOLS


def register_notebook_tools(registry: ToolRegistry) -> None:
    """The built-in notebook tools (DESIGN.md §5), reads first: the model sees them in
    this order."""
    for spec in (*READ_TOOLS, *WRITE_TOOLS, *DESTRUCTIVE_TOOLS):
        registry.register(spec)
