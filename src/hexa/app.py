"""The application factory: every long-lived object is created and closed by the lifespan.

`create_app` builds the app and its routes; its lifespan runs `_start`, whose steps below
follow in the order they run, each registering how to stop what it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx2
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from lightkube import AsyncClient, KubeConfig
from pydantic import TypeAdapter
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa import __version__
from hexa.agent.events import NotebookEvent
from hexa.agent.factory import build_agent_service
from hexa.agent.models import ModelChoice, choose_model, key_values
from hexa.agent.redaction import Redactor
from hexa.agent.text_model import text_model_for
from hexa.api import agent as agent_api
from hexa.api import new_notebooks as new_notebooks_api
from hexa.api import notebooks as notebooks_api
from hexa.api import pages, proxy
from hexa.api.deps import COOKIE, Services
from hexa.api.errors import install_error_handlers
from hexa.api.limits import BodyLimitMiddleware
from hexa.cluster.locks import PgAdvisoryLocks
from hexa.cluster.membership import Membership
from hexa.cluster.placements import Placements
from hexa.cluster.relay import LocalRelay, PgRelay, Relay
from hexa.config import Settings
from hexa.generate import SubprocessRunner
from hexa.kube.spawner import KubernetesSpawner
from hexa.live import EventBus
from hexa.marimo.client import make_http_client
from hexa.marimo.wire import Wire
from hexa.notebooks.cells import CellService
from hexa.notebooks.editor_saves import EditorSaves
from hexa.notebooks.files import NotebookFiles
from hexa.notebooks.new_notebooks import GenerationService
from hexa.notebooks.service import NotebookService
from hexa.notebooks.status import StatusRecorder
from hexa.proxy.assets import marimo_assets_dir
from hexa.proxy.http import HttpProxy
from hexa.runtime.connector import MarimoConnector
from hexa.runtime.pidfile import PidFile
from hexa.runtime.process import MarimoSpawner, Spawner
from hexa.runtime.shared import SharedServers
from hexa.runtime.spares import Spares
from hexa.runtime.supervisor import Limits, Supervisor
from hexa.sandbox import ResourceLimits, Sandbox, build_sandbox
from hexa.sandbox.docker import DockerSandbox
from hexa.store import create_engine, create_sessionmaker, upgrade_database
from hexa.users import UserService

logger = logging.getLogger(__name__)


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_processes=settings.max_processes,
        max_per_user=settings.max_notebooks_per_user,
        start_timeout=settings.start_timeout,
        max_restarts=settings.max_restarts,
        idle_timeout=settings.idle_timeout,
    )


def resource_limits(settings: Settings) -> ResourceLimits:
    return ResourceLimits(
        memory_bytes=settings.notebook_memory_mb * 1024**2,
        max_processes=settings.notebook_max_processes,
        cpus=settings.notebook_cpus,
    )


def create_app(settings: Settings, *, model: ModelChoice | None = None) -> FastAPI:
    """Build the Hexa app for these settings; nothing starts until the lifespan runs.
    `model` replaces the one `HEXA_MODEL` names (the eval suite's scripted agent)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each start step pushes its own stop onto this stack: a failed start undoes what
        # had started, and shutdown stops everything in the reverse order of starting.
        async with AsyncExitStack() as stack:
            await _start(app, settings, stack, model)
            yield

    app = FastAPI(
        title="Hexa",
        version=__version__,
        description="marimo notebooks with an AI agent beside them.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    _add_routes(app, settings)
    agent_api.document_events(app)
    return app


def _add_routes(app: FastAPI, settings: Settings) -> None:
    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(new_notebooks_api.router)
    app.include_router(agent_api.router)
    if (marimo_assets := marimo_assets_dir(settings.python)) is not None:
        app.include_router(proxy.assets_router(marimo_assets))
    app.include_router(notebooks_api.router)
    app.include_router(proxy.router)
    assets = pages.WEB_DIR / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")
    # Last: `/{notebook_name}` must not shadow any route above.
    app.include_router(pages.router)


# --- the lifespan's start steps, in order; each registers its stop on `stack` -------------


async def _start(
    app: FastAPI, settings: Settings, stack: AsyncExitStack, model: ModelChoice | None
) -> None:
    """Start everything long-lived and put the routers' services on `app.state`."""
    _make_data_dirs(settings)
    pid_file = _reap_leftovers(settings)
    sandbox = _start_sandbox(settings, stack)
    sessions = await _open_database(settings, stack)
    membership = await _join_replicas(settings, sessions, stack)
    bus = EventBus()
    saves = EditorSaves()
    relay = _relay_for(settings, bus, saves)
    saves.share(relay.send_edits)
    placements = Placements(
        sessions,
        membership,
        sandbox=settings.sandbox if settings.sandbox == "kubernetes" else sandbox.kind,
        relay=relay,
        # Use through other replicas reaches the idle cull well within its timeout.
        touch_every=min(10.0, settings.idle_timeout / 4),
    )
    http = _open_marimo_client(stack)
    # Hexa's own calls to marimo (every edit, run and read) go over the leaner Wire; the
    # proxy streams people's requests through httpx2.
    wire = Wire()
    stack.push_async_callback(wire.aclose)
    supervisor = await _start_supervisor(settings, pid_file, sandbox, wire, placements, stack)
    await placements.reset()
    await _start_relay(relay, bus, supervisor, stack)
    app.state.services = await _start_services(
        settings, sessions, supervisor, sandbox, wire, placements, bus, stack, model, saves
    )
    app.state.http_proxy = HttpProxy(http, hexa_cookie=COOKIE)


def _make_data_dirs(settings: Settings) -> None:
    data = settings.resolved_data_dir
    for folder in (data, settings.notebooks_dir, settings.run_dir, settings.logs_dir):
        folder.mkdir(parents=True, exist_ok=True)
    # Hexa's data (database, logs, pid files, every user's folder) is Hexa's alone:
    # behind the sandbox's mount namespace, the file mode is a second wall. A volume
    # mounted there (a Kubernetes emptyDir) belongs to root: its mode is the platform's.
    if data.stat().st_uid == os.geteuid():
        data.chmod(0o700)


def _reap_leftovers(settings: Settings) -> PidFile:
    pid_file = PidFile(settings.run_dir)
    reaped = pid_file.reap()
    if reaped:
        logger.warning("reaped %d marimo processes left by an earlier run", len(reaped))
    return pid_file


# marimo's editor treats a file under these as unnamed and never autosaves it.
_TEMP_PREFIXES = ("/tmp/", "/var/tmp/", "/var/folders/")


def _start_sandbox(settings: Settings, stack: AsyncExitStack) -> Sandbox:
    data = settings.resolved_data_dir
    # Under `kubernetes`, notebooks run in pods; this sandbox is for what Hexa still runs
    # itself (trial runs of generated notebooks).
    kind = "auto" if settings.sandbox == "kubernetes" else settings.sandbox
    sandbox, enforcer = build_sandbox(
        kind,
        data_dir=data,
        python=settings.python,
        limits=resource_limits(settings),
        uid_base=settings.sandbox_uid_base,
        image=settings.notebook_image,
        docker_data_dir=settings.docker_data_dir,
        replica=settings.replica,
    )
    enforcer.sweep()
    stack.callback(enforcer.close)
    if isinstance(sandbox, DockerSandbox):
        # Containers a crashed Hexa left, and at shutdown any a stop could not remove.
        sandbox.sweep()
        stack.callback(sandbox.sweep)
    if not sandbox.relocates and str(data).startswith(_TEMP_PREFIXES):
        logger.warning(
            "HEXA_DATA_DIR %s is a temporary folder and there is no sandbox to show "
            "notebooks elsewhere: marimo's editor never autosaves files under it, so "
            "what people type is saved only by the agent and the API. Choose a data "
            "dir outside /tmp.",
            data,
        )
    return sandbox


async def _open_database(
    settings: Settings, stack: AsyncExitStack
) -> async_sessionmaker[AsyncSession]:
    await upgrade_database(settings.db_url)
    engine = create_engine(settings.db_url)
    stack.push_async_callback(engine.dispose)
    return create_sessionmaker(engine)


async def _join_replicas(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], stack: AsyncExitStack
) -> Membership:
    """This replica's heartbeat among those sharing the database (one, on SQLite)."""
    membership = Membership(
        sessions,
        settings.replica,
        interval=settings.heartbeat_interval,
        timeout=settings.replica_timeout,
    )
    await membership.start()
    stack.push_async_callback(membership.stop)
    logger.info("replica %s", settings.replica)
    return membership


def _postgres_dsn(settings: Settings) -> str | None:
    """The database as asyncpg's DSN when it is PostgreSQL (what replicas share)."""
    url = make_url(settings.db_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _relay_for(settings: Settings, bus: EventBus, saves: EditorSaves) -> Relay:
    """Live events and stop requests across replicas: PostgreSQL's LISTEN/NOTIFY, or
    nothing on SQLite (one replica)."""
    dsn = _postgres_dsn(settings)
    if dsn is None:
        return LocalRelay()
    events: TypeAdapter[NotebookEvent] = TypeAdapter(NotebookEvent)

    def on_event(notebook_id: str, text: str) -> None:
        try:
            bus.deliver(notebook_id, events.validate_json(text))
        except ValueError:
            logger.warning("an event from another replica could not be read: %.200s", text)

    return PgRelay(
        dsn,
        settings.replica,
        on_event=on_event,
        on_lost=bus.lag_all,
        on_edits=saves.received,
    )


async def _start_relay(
    relay: Relay, bus: EventBus, supervisor: Supervisor, stack: AsyncExitStack
) -> None:
    async def stop(notebook_id: str) -> None:
        await supervisor.stop(notebook_id)

    await relay.start(stop)
    stack.push_async_callback(relay.close)
    bus.relay_to(lambda notebook_id, event: relay.send_event(notebook_id, event.model_dump_json()))


async def _start_kubernetes(settings: Settings, stack: AsyncExitStack) -> KubernetesSpawner:
    """The pod spawner, its API client (in-cluster, else KUBECONFIG), and what this
    replica's last run left deleted."""
    config = KubeConfig.from_env()
    client = AsyncClient(config=config, namespace=settings.kubernetes_namespace)
    stack.push_async_callback(client.close)
    spawner = KubernetesSpawner(
        client=client,
        image=settings.notebook_image,
        claim=settings.kubernetes_notebooks_claim,
        notebooks_dir=settings.notebooks_dir,
        uid_base=settings.sandbox_uid_base,
        group=settings.kubernetes_group,
        limits=resource_limits(settings),
        replica=settings.replica,
        schedule_timeout=settings.start_timeout,
    )
    await spawner.sweep()
    logger.info(
        "sandbox: kubernetes (image %s, namespace %s)", settings.notebook_image, client.namespace
    )
    return spawner


def _open_marimo_client(stack: AsyncExitStack) -> httpx2.AsyncClient:
    # One pooled client for everything the proxy sends to marimo; its jar refuses cookies,
    # so one user's marimo cookie can never ride on another's proxied request. No
    # read timeout: the proxy streams SSE; marimo calls set their own timeouts.
    http = make_http_client()
    http.timeout = httpx2.Timeout(connect=5.0, read=None, write=30.0, pool=10.0)
    stack.push_async_callback(http.aclose)
    return http


async def _start_supervisor(
    settings: Settings,
    pid_file: PidFile,
    sandbox: Sandbox,
    wire: Wire,
    placements: Placements,
    stack: AsyncExitStack,
) -> Supervisor:
    spawner: Spawner
    connector = MarimoConnector(wire)
    limits = limits_from(settings)
    spares: Spares | None = None
    if settings.sandbox == "kubernetes":
        spawner = await _start_kubernetes(settings, stack)
    else:
        spawner = local = MarimoSpawner(
            python=settings.python,
            home_root=settings.resolved_data_dir / "home",
            logs_dir=settings.logs_dir,
            pid_file=pid_file,
            sandbox=sandbox,
        )
        if settings.shares_servers:
            spawner = shared = SharedServers(
                local,
                connector.close_session,
                stop_timeout=limits.stop_timeout,
                notebooks_per_person=settings.max_notebooks_per_user,
            )
            # Runs after the supervisor's shutdown (pushed before it): a server left up by
            # an open cancelled half-way goes too.
            stack.push_async_callback(shared.close)
        elif settings.spare_notebooks:
            spares = Spares(
                local,
                connector,
                start_timeout=limits.start_timeout,
                stop_timeout=limits.stop_timeout,
            )
    supervisor = Supervisor(
        spawner=spawner,
        connector=connector,
        limits=limits,
        # Use through other replicas counts too: they record it in the database.
        idle_source=placements.idle_seconds,
        spares=spares,
    )
    supervisor.on_state_change(placements.record)
    stack.push_async_callback(placements.drain)
    await supervisor.start()
    stack.push_async_callback(supervisor.shutdown)
    return supervisor


async def _start_services(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    supervisor: Supervisor,
    sandbox: Sandbox,
    wire: Wire,
    placements: Placements,
    bus: EventBus,
    stack: AsyncExitStack,
    model: ModelChoice | None,
    saves: EditorSaves,
) -> Services:
    """The services the routers call: users, notebooks, new notebooks, the agent."""
    users = UserService(sessions, settings.notebooks_dir)
    default_user = await users.ensure_default(settings.ensure_token())
    shared_host = (
        sandbox.kind == "none"
        and settings.sandbox != "kubernetes"
        and not settings.allow_unsandboxed_users
    )
    notebooks = NotebookService(
        sessions=sessions,
        supervisor=supervisor,
        users=users,
        files=NotebookFiles(),
        http=wire,
        placements=placements,
        saves=saves,
        max_code_bytes=settings.max_code_bytes,
        start_timeout=settings.start_timeout,
        # With no sandbox, one user's code can reach everyone's: only one may run.
        sole_user_id=default_user.id if shared_host else None,
    )
    cells = CellService(sessions, notebooks, redact=Redactor(key_values(settings)).text)
    statuses = StatusRecorder(sessions, supervisor, bus)
    stack.push_async_callback(statuses.drain)

    model = model or choose_model(settings)
    # Model-written notebooks are tried in the same sandbox as the users' notebooks.
    runner = SubprocessRunner(
        python=str(settings.python),
        scratch_dir=settings.resolved_data_dir / "runs",
        sandbox=sandbox,
    )
    generation = GenerationService(notebooks, text_model_for(model), runner)
    dsn = _postgres_dsn(settings)
    agent = build_agent_service(
        settings=settings,
        sessions=sessions,
        notebooks=notebooks,
        model=model,
        bus=bus,
        # One turn at a time per notebook across replicas, not only in this one.
        shared_locks=PgAdvisoryLocks(dsn) if dsn is not None else None,
    )
    stack.push_async_callback(agent.close)
    warming = asyncio.create_task(agent.warm_up())
    stack.push_async_callback(lambda: warming)  # a stop waits for it (under a second)
    others = await placements.live_others()
    if interrupted := await agent.recover(spare=others):
        logger.warning("%d agent turn(s) were interrupted by a stop of Hexa", interrupted)
    return Services(
        settings=settings,
        users=users,
        notebooks=notebooks,
        cells=cells,
        generation=generation,
        agent=agent,
    )
