"""Which sandbox this Hexa uses (`HEXA_SANDBOX`), decided once at start."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

import hexa
from hexa.sandbox.bwrap import BwrapSandbox, bwrap_works
from hexa.sandbox.docker import DockerSandbox, docker_works
from hexa.sandbox.jail import PlainSandbox, Sandbox, UserIds
from hexa.sandbox.limits import LimitEnforcer, ResourceLimits

logger = logging.getLogger(__name__)


class SandboxUnavailableError(RuntimeError):
    """The sandbox asked for cannot run here."""


def build_sandbox(
    kind: str,
    *,
    data_dir: Path,
    python: Path,
    limits: ResourceLimits,
    uid_base: int,
    image: str = "hexa-notebook:latest",
    docker_data_dir: Path | None = None,
    replica: str = "",
) -> tuple[Sandbox, LimitEnforcer]:
    """`auto` is bwrap where it works, else `none` with a loud warning."""
    enforcer = LimitEnforcer.detect(limits, name=cgroup_name(data_dir, replica))
    as_root = UserIds.available()
    if kind == "docker":
        why = docker_works(None, image)
        if why is not None:
            raise SandboxUnavailableError(f"HEXA_SANDBOX=docker, but {why}")
        logger.info("sandbox: docker (image %s)", image)
        docker = DockerSandbox(
            image=image,
            label=cgroup_name(data_dir, replica),
            limits=limits,
            user_ids=UserIds(uid_base) if as_root else None,
            data_dirs=(data_dir, docker_data_dir) if docker_data_dir is not None else None,
        )
        return docker, enforcer
    if kind in ("auto", "bwrap"):
        why = bwrap_works(as_root=as_root)
        if why is None:
            sandbox = BwrapSandbox(
                hidden=hidden_paths(data_dir),
                needed=needed_paths(python),
                enforcer=enforcer,
                user_ids=UserIds(uid_base) if as_root else None,
            )
            logger.info(
                "sandbox: bwrap (%s, limits by %s)",
                "a uid per user" if as_root else "Hexa's uid",
                enforcer.mechanism,
            )
            return sandbox, enforcer
        if kind == "bwrap":
            raise SandboxUnavailableError(f"HEXA_SANDBOX=bwrap, but {why}")
        logger.warning(
            "\n!!! NO SANDBOX: %s.\n!!! Notebook code runs as Hexa's own user and can read "
            "Hexa's database, logs and every user's notebooks.\n!!! Only one user may run "
            "notebooks unless HEXA_ALLOW_UNSANDBOXED_USERS=true.",
            why,
        )
    return PlainSandbox(enforcer), enforcer


def cgroup_name(data_dir: Path, replica: str = "") -> str:
    """One cgroup parent (and container label) per data dir and replica, so two Hexas on
    one host never share leaves, nor sweep each other's containers."""
    key = str(data_dir.resolve()) + ("\0" + replica if replica else "")
    return f"hexa-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def hidden_paths(data_dir: Path) -> list[Path]:
    """Hexa's data (database, logs, pid files, every user's folder) and Hexa's HOME."""
    hidden = [data_dir]
    home = os.environ.get("HOME")
    if home and Path(home).resolve() != Path("/"):
        hidden.append(Path(home))
    return hidden


def needed_paths(python: Path) -> list[Path]:
    """What the sandboxed interpreter needs even when it lives under a hidden folder."""
    venv = Path(os.path.abspath(python)).parent.parent
    real = Path(os.path.realpath(python)).parent.parent
    package_root = Path(hexa.__file__).resolve().parent.parent
    return [venv, real, package_root, Path(sys.base_prefix), Path(sys.prefix)]
