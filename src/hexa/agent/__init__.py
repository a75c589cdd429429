"""The agent beside each notebook: tools with safety tiers, approvals, models, streaming,
audit and undo.

`build_agent_service(settings=..., sessions=..., notebooks=...)` makes the one
`AgentService` the API uses; `default_registry()` holds the tools it offers.
"""

from __future__ import annotations

from hexa.agent.factory import build_agent_service, default_registry
from hexa.agent.registry import Tier, ToolRegistry, ToolSpec
from hexa.agent.service import AgentService

__all__ = [
    "AgentService",
    "Tier",
    "ToolRegistry",
    "ToolSpec",
    "build_agent_service",
    "default_registry",
]
