"""Building the agent service from settings (called by the app's lifespan)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.agent.docs_search import DocsSearch, register_docs_search
from hexa.agent.models import ModelChoice, choose_model, key_values
from hexa.agent.notebook_tools import register_notebook_tools
from hexa.agent.redaction import Redactor
from hexa.agent.registry import NotebookAccess, ToolRegistry
from hexa.agent.service import AgentService
from hexa.cluster.locks import SharedLocks
from hexa.config import Settings
from hexa.live import EventBus
from hexa.store import utcnow


def default_registry(docs: DocsSearch | None = None) -> ToolRegistry:
    """The notebook tools plus the shipped custom tool (offline marimo docs search)."""
    registry = ToolRegistry()
    register_notebook_tools(registry)
    register_docs_search(registry, docs)
    return registry


def build_agent_service(
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    notebooks: NotebookAccess,
    registry: ToolRegistry | None = None,
    model: ModelChoice | None = None,
    bus: EventBus | None = None,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = utcnow,
    shared_locks: SharedLocks | None = None,
) -> AgentService:
    """The agent service for these settings. The keyword-only extras are for tests and
    embedding: another registry, a fixed model, a shared bus, a fake clock."""
    return AgentService(
        sessions=sessions,
        notebooks=notebooks,
        registry=registry or default_registry(),
        model=model or choose_model(settings, env),
        bus=bus or EventBus(),
        redactor=Redactor(key_values(settings, env)),
        approval_ttl=settings.approval_ttl,
        run_wait=settings.run_wait,
        max_code_bytes=settings.max_code_bytes,
        model_timeout=settings.model_timeout,
        clock=clock,
        replica_id=settings.replica,
        shared_locks=shared_locks,
    )
