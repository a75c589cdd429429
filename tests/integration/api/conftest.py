"""A real `hexa serve` per test module and store backend (modules with other settings
define their own): each module that uses it runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tests.support.server import HexaServer, running_server


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_store_env: dict[str, str]
) -> Iterator[HexaServer]:
    with running_server(tmp_path_factory.mktemp("hexa"), **module_store_env) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: HexaServer) -> Iterator[httpx2.Client]:
    with server.client() as client:
        yield client
