"""The images the container tests run, all made here (no registry is reachable).

- a Debian bookworm base, `debootstrap --variant=minbase` plus python3, python3-venv and
  ca-certificates, `docker import`ed: the BASE_IMAGE of Hexa's Dockerfile, which may rely on
  nothing more than `python3 -m venv`;
- Hexa's image and the notebook image (HEXA_SANDBOX=docker), built from the working tree by
  docker/build_image.py exactly as `make image` builds them (wheel and wheelhouse on the
  host, `docker build --network host`);
- PostgreSQL 15: the same debootstrap base with Debian's postgresql-15, and the small
  entrypoint of tests/containers/postgres/, standing in for the official `postgres:15`.

The two root file systems are cached as tarballs in ~/.cache/hexa-test (HEXA_TEST_CACHE):
debootstrap runs once per machine (about a minute each; HEXA_DEBIAN_MIRROR picks the
mirror), `docker import` and the builds run in every test run's fresh daemon.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.containers.daemon import Docker, tool

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
PYTHON_PACKAGES = ("python3", "python3-venv", "ca-certificates")
POSTGRES_PACKAGES = ("postgresql-15",)
# Not needed to run anything: apt's downloads and lists, documentation, translations.
DROPPED = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
# postgresql-15's postinst makes a cluster "main"; the test image initdb's its own volume.
POSTGRES_DROPPED = ("var/lib/postgresql/15/main", "etc/postgresql/15/main")

BASE_TAG = "hexa-test/bookworm-python:latest"
POSTGRES_BASE_TAG = "hexa-test/bookworm-postgresql:latest"
HEXA_TAG = "hexa-test/hexa:latest"
NOTEBOOK_TAG = "hexa-test/hexa-notebook:latest"
POSTGRES_TAG = "hexa-test/postgres:15"


def cache_dir() -> Path:
    folder = Path(os.environ.get("HEXA_TEST_CACHE", "~/.cache/hexa-test")).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rootfs_tarball(packages: tuple[str, ...], dropped: tuple[str, ...]) -> Path:
    """A minbase bookworm with `packages`, as a tarball, made once and cached."""
    key = hashlib.sha256(repr((SUITE, packages, dropped)).encode()).hexdigest()[:12]
    tarball = cache_dir() / f"{SUITE}-minbase-{key}.tar"
    if tarball.exists():
        return tarball
    mirror = os.environ.get("HEXA_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="debootstrap-") as tmp:
        root = Path(tmp) / "root"
        argv = [tool("debootstrap", "/usr/sbin/debootstrap"), "--variant=minbase"]
        argv += [f"--include={','.join(packages)}", SUITE, str(root), mirror]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{done.stdout[-3000:]}\n{done.stderr}")
        for part in dropped:
            shutil.rmtree(root / part, ignore_errors=True)
        partial = Path(tmp) / "rootfs.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
            check=True,
            timeout=300,
        )
        partial.rename(tarball)
    return tarball


def import_base(docker: Docker, tarball: Path, tag: str) -> None:
    docker.run("import", str(tarball), tag, timeout=300)


def build_hexa(docker: Docker, tag: str = HEXA_TAG, notebook_tag: str = NOTEBOOK_TAG) -> None:
    """Hexa's image and the notebook image from the working tree, by the same script as
    `make image`."""
    import_base(docker, rootfs_tarball(PYTHON_PACKAGES, DROPPED), BASE_TAG)
    argv = [sys.executable, str(REPO / "docker" / "build_image.py"), "--docker", docker.docker]
    argv += ["--base", BASE_TAG, "--tag", tag, "--notebook-tag", notebook_tag]
    done = subprocess.run(
        argv, env=docker.env, capture_output=True, text=True, timeout=1200, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"build_image.py failed:\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}")


def build_postgres(docker: Docker, tag: str = POSTGRES_TAG) -> None:
    tarball = rootfs_tarball(POSTGRES_PACKAGES, DROPPED + POSTGRES_DROPPED)
    import_base(docker, tarball, POSTGRES_BASE_TAG)
    context = REPO / "tests" / "containers" / "postgres"
    docker.run(
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={POSTGRES_BASE_TAG}",
        "--tag",
        tag,
        str(context),
        timeout=300,
    )
