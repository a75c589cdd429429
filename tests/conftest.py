"""Fixtures shared by every suite: the run's PostgreSQL cluster, and the store a real
`hexa serve` runs on.

A test whose server takes its environment from `store_env` (one server per test) or
`module_store_env` (one per module) runs once per backend, ids `sqlite` and `postgres`:
the module's tests are grouped by backend, so each module-scoped server starts once per
backend. SQLite is the server's default (a file in its data dir); PostgreSQL is a fresh
database in the run's cluster, given as `HEXA_DATABASE_URL` and dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresCluster, postgres_cluster
from tests.support.stopping import stop_on_sigterm_like_ctrl_c

SERVER_BACKENDS = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    stop_on_sigterm_like_ctrl_c()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster per test run, started when a test first needs it
    and stopped and deleted at the end of the run, failing or not. Tests take a fresh
    database of their own in it (`create_database`) and drop it after."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module", params=SERVER_BACKENDS)
def server_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


def _store_env(backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if backend == "sqlite":
        yield {}
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = cluster.create_database()
    try:
        yield {"HEXA_DATABASE_URL": cluster.url(name)}
    finally:
        cluster.drop_database(name)


@pytest.fixture(scope="module")
def module_store_env(
    server_backend: str, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """`HEXA_*` settings of a module's server: its store, in a database of its own."""
    yield from _store_env(server_backend, request)


@pytest.fixture
def store_env(server_backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """`HEXA_*` settings of a test's own servers (all its runs share the database)."""
    yield from _store_env(server_backend, request)
