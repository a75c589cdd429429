"""The `hexa` command line."""

from __future__ import annotations

import asyncio
import logging
from typing import IO

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


@main.command()
@click.option("--mermaid", "mermaid_file", type=click.File("r"), help="A Mermaid flowchart file.")
@click.option("--prompt", help="What the notebook should do.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write here.")
@click.option("--title", help="Title of the notebook.")
def generate(
    mermaid_file: IO[str] | None,
    prompt: str | None,
    out: str | None,
    title: str | None,
) -> None:
    """Make a marimo notebook from a Mermaid flowchart or a prompt (builtin model, offline).

    Prints the notebook, or writes it to --out (validated, atomically).
    """
    from hexa.generate import (
        GenerateError,
        MermaidCycleError,
        MermaidSyntaxError,
        NotebookInvalidError,
        generate_from_mermaid,
        generate_from_prompt,
        write_notebook,
    )

    if (mermaid_file is None) == (prompt is None):
        raise click.UsageError("give exactly one of --mermaid FILE or --prompt TEXT")
    try:
        if mermaid_file is not None:
            result = asyncio.run(generate_from_mermaid(mermaid_file.read(), title=title))
        else:
            assert prompt is not None
            result = asyncio.run(generate_from_prompt(prompt))
        if out is None:
            click.echo(result.text, nl=False)
        else:
            write_notebook(out, result.text)
            click.echo(f"Wrote {out}", err=True)
    except (MermaidSyntaxError, MermaidCycleError) as exc:
        raise click.ClickException(str(exc)) from exc
    except NotebookInvalidError as exc:
        detail = "\n".join(d.describe() for d in exc.diagnostics)
        raise click.ClickException(f"{exc}\n{detail}") from exc
    except GenerateError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
