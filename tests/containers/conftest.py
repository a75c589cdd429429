"""One Docker daemon of the tests' own for tests/containers/ (package scope: it stops as
soon as these tests end), and the images they run, built in it once."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.containers import images
from tests.containers.daemon import Docker, docker_daemon


@pytest.fixture(scope="package")
def docker() -> Iterator[Docker]:
    if os.geteuid() != 0:
        pytest.fail("the container tests start dockerd and debootstrap: they need root")
    with docker_daemon() as daemon:
        yield daemon
        leftover = daemon.container_ids()
    assert leftover == [], f"containers left behind: {leftover}"


@pytest.fixture(scope="package")
def hexa_image(docker: Docker) -> str:
    images.build_hexa(docker)
    return images.HEXA_TAG


@pytest.fixture(scope="package")
def notebook_image(hexa_image: str) -> str:
    """Built with Hexa's image, from the same Dockerfile and wheelhouse."""
    return images.NOTEBOOK_TAG


@pytest.fixture(scope="package")
def postgres_image(docker: Docker) -> str:
    images.build_postgres(docker)
    return images.POSTGRES_TAG
