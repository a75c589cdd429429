"""The `hexa` command line."""

from __future__ import annotations

import click

from hexa.config import Settings


@click.group()
def main() -> None:
    """Hexa: marimo notebooks with an AI agent beside them."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: HEXA_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: HEXA_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Start the Hexa server."""
    import uvicorn

    from hexa.app import create_app

    settings = Settings()
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    token = settings.ensure_token()
    app = create_app(settings)
    click.echo(f"Hexa is running at http://{settings.host}:{settings.port}/?token={token}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
