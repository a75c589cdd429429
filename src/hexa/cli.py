"""The `hexa` command line."""

from __future__ import annotations

import asyncio
import logging

import click

from hexa.config import Settings


@click.group()
def main() -> None:
    """Hexa: marimo notebooks with an AI agent beside them."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: HEXA_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: HEXA_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Start the Hexa server; prints the URL to sign in with."""
    import uvicorn

    from hexa.app import create_app

    settings = Settings()
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    token = settings.ensure_token()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    shown_host = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host
    click.echo(f"Hexa is running at http://{shown_host}:{settings.port}/?token={token}", err=True)
    # uvicorn turns SIGTERM and SIGINT into a lifespan shutdown, which stops every marimo.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


@main.group()
def user() -> None:
    """Manage users (works while the server runs)."""


@user.command("add")
@click.argument("name")
def user_add(name: str) -> None:
    """Create user NAME and print their token (the last word of the output)."""
    from hexa.notebooks.errors import HexaError
    from hexa.store import create_engine, create_sessionmaker, upgrade_database
    from hexa.users import UserService

    settings = Settings()

    async def add() -> str:
        await upgrade_database(settings.db_url)
        engine = create_engine(settings.db_url)
        try:
            users = UserService(create_sessionmaker(engine), settings.notebooks_dir)
            _, token = await users.add(name)
            return token
        finally:
            await engine.dispose()

    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    try:
        token = asyncio.run(add())
    except HexaError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created user {name}. Their token: {token}")
