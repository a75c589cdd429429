"""The application factory: every long-lived object is created and closed by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hexa import __version__
from hexa.config import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the Hexa app for these settings; nothing starts until the lifespan runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        yield

    app = FastAPI(title="Hexa", version=__version__, lifespan=lifespan)
    app.state.settings = settings

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
