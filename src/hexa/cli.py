"""The `hexa` command line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING, TypeVar

import click

from hexa.config import Settings

if TYPE_CHECKING:
    from hexa.users import UserService

T = TypeVar("T")


def _settings() -> Settings:
    """The settings from the environment; a bad one is a one-line error, not a traceback."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"HEXA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        )
        raise click.ClickException(f"bad configuration: {problems}") from None
    except SettingsError as exc:  # a value the environment source cannot parse at all
        raise click.ClickException(f"bad configuration: {exc}") from None


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

    settings = _settings()
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


@main.command(name="eval")
@click.option(
    "--model",
    default="builtin",
    show_default=True,
    help="builtin, scripted (the suite's competent agent), or a HEXA_MODEL value such as "
    "openai:gpt-4.1, anthropic:claude-sonnet-4-5, openai-compatible:llama3.1.",
)
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False), help="Write the JSON report here."
)
@click.option("--task", "only", multiple=True, help="Run only this task (repeatable).")
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    help="Save the model's responses as a cassette here (replay it offline with --replay).",
)
@click.option(
    "--replay",
    type=click.Path(dir_okay=False, exists=True),
    help="Play a recorded cassette as the model, offline (--model is ignored).",
)
def eval_(
    model: str,
    report_path: str | None,
    only: tuple[str, ...],
    record: str | None,
    replay: str | None,
) -> None:
    """Run the agent eval suite against a model; print a table, optionally write JSON."""
    from pathlib import Path

    from hexa.evals.report import table
    from hexa.evals.runner import run_suite
    from hexa.evals.tasks import load_suite

    suite = load_suite(only=set(only) if only else None)
    result = asyncio.run(
        run_suite(
            suite,
            model,
            record=Path(record) if record else None,
            replay=Path(replay) if replay else None,
        )
    )
    click.echo(table(result))
    if report_path:
        Path(report_path).write_text(result.model_dump_json(indent=2))
        click.echo(f"report: {report_path}", err=True)


@main.group()
def user() -> None:
    """Manage users (works while the server runs)."""


def _with_users(work: Callable[[UserService], Awaitable[T]]) -> T:
    """Run `work` against the configured database (also while the server runs)."""
    from hexa.errors import HexaError
    from hexa.store import create_engine, create_sessionmaker, upgrade_database
    from hexa.users import UserService

    settings = _settings()

    async def run() -> T:
        await upgrade_database(settings.db_url)
        engine = create_engine(settings.db_url)
        try:
            return await work(UserService(create_sessionmaker(engine), settings.notebooks_dir))
        finally:
            await engine.dispose()

    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(run())
    except HexaError as exc:
        raise click.ClickException(exc.message) from exc


@user.command("add")
@click.argument("name")
def user_add(name: str) -> None:
    """Create user NAME and print their token (the last word of the output)."""

    async def add(users: UserService) -> str:
        return (await users.add(name))[1]

    click.echo(f"Created user {name}. Their token: {_with_users(add)}")


@user.command("list")
def user_list() -> None:
    """List users: name, id, whether default, created, signed-in browsers."""
    for row in _with_users(lambda users: users.listing()):
        default = " (default)" if row.is_default else ""
        click.echo(
            f"{row.name}{default}\tid {row.id}\tcreated {row.created_at:%Y-%m-%d}"
            f"\t{row.live_sessions} browser session(s)"
        )


@user.command("rotate")
@click.argument("name")
def user_rotate(name: str) -> None:
    """Give NAME a new token (printed last) and sign out all of their browsers."""
    token = _with_users(lambda users: users.rotate(name))
    click.echo(f"New token for {name} (every browser of theirs is signed out): {token}")


@user.command("remove")
@click.argument("name")
def user_remove(name: str) -> None:
    """Remove NAME, their sessions and their notebooks' records (files stay on disk)."""
    _with_users(lambda users: users.remove(name))
    click.echo(f"Removed user {name}.")


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
        HexaError,
        InvalidNotebookError,
        MermaidCycleError,
        MermaidSyntaxError,
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
    except InvalidNotebookError as exc:
        detail = "\n".join(d.describe() for d in exc.diagnostics)
        raise click.ClickException(f"{exc}\n{detail}") from exc
    except HexaError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


@main.command()
def openapi() -> None:
    """Print /openapi.json (every reply and every WebSocket event), for client generators."""
    import json

    from hexa.app import create_app

    schema = create_app(Settings()).openapi()
    click.echo(json.dumps(schema, indent=2, sort_keys=True))
