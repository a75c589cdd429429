"""A real `hexa serve` per test module (modules with other settings define their own)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tests.support.server import HexaServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HexaServer]:
    with running_server(tmp_path_factory.mktemp("hexa")) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: HexaServer) -> Iterator[httpx2.Client]:
    with server.client() as client:
        yield client
