"""What a sandbox is asked for, and what it gives back: the seam every kind implements.

A `Jail` names one process tree (a notebook's marimo, a generation run), the only folders
it may write, and the user it runs for. A `Sandbox` turns a command into a `Launch`: the
command wrapped so that it runs confined, plus the `Confinement` that knows its limits.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hexa.sandbox.limits import Confinement, LimitEnforcer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """The OS user a sandboxed tree runs as (only where Hexa runs as root)."""

    uid: int
    gid: int
    name: str


@dataclass(frozen=True)
class Bind:
    """A host folder the tree may write, and where it sees it."""

    host: Path
    inside: Path


@dataclass(frozen=True)
class Jail:
    name: str  # unique among live trees: the cgroup leaf (a notebook id, run-<hex>)
    owner_id: int  # 0 for Hexa's own runs (generation)
    owner: str
    binds: tuple[Bind, ...]  # the only writable folders
    cwd: Path  # as seen inside
    # Notebooks the tree runs (a person's shared marimo): their limits hold together, and
    # each kernel gets one notebook's (`Confinement.part`).
    notebooks: int = 1

    def inside(self, host: Path) -> Path:
        """Where the tree sees `host` (a path in one of the binds)."""
        for bind in sorted(self.binds, key=lambda b: len(b.host.parts), reverse=True):
            if host.is_relative_to(bind.host):
                return bind.inside / host.relative_to(bind.host)
        raise ValueError(f"{host} is outside the jail's folders")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    confinement: Confinement
    identity: Identity | None


class Sandbox(Protocol):
    """One kind of sandbox (`HEXA_SANDBOX`): none, bwrap."""

    @property
    def kind(self) -> str: ...

    @property
    def relocates(self) -> bool:
        """True when a bind may be seen at another path than the host's."""
        ...

    def launch(self, argv: list[str], jail: Jail) -> Launch:
        """`argv` wrapped to run inside the jail; the writable folders made ready for it."""
        ...


class UserIds:
    """A uid per Hexa user, `base + user id` (gid the same), made on first use.

    Numeric ids need no entry in /etc/passwd: the sandbox sets USER and LOGNAME, and the
    user's folders are chowned to the id, so a file permission is a second wall behind
    the mount namespace.
    """

    def __init__(self, base: int) -> None:
        self._base = base

    @staticmethod
    def available() -> bool:
        return os.geteuid() == 0

    def of(self, jail: Jail) -> Identity:
        uid = self._base + jail.owner_id
        return Identity(uid, uid, f"hexa-{jail.owner}" if jail.owner_id else "hexa-runner")

    @staticmethod
    def hand_over(identity: Identity, folders: tuple[Path, ...]) -> None:
        """Each folder (created if needed) owned by the identity, mode 0700, recursively
        when its top is not theirs yet (first use, or files Hexa wrote as root)."""
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            st = folder.stat()
            if (st.st_uid, st.st_gid) != (identity.uid, identity.gid):
                for root, dirs, files in os.walk(folder):
                    for name in (*dirs, *files):
                        with contextlib.suppress(OSError):
                            os.lchown(os.path.join(root, name), identity.uid, identity.gid)
                os.chown(folder, identity.uid, identity.gid)
            os.chmod(folder, 0o700)


class PlainSandbox:
    """`HEXA_SANDBOX=none`: a plain process as Hexa's own user, with resource limits only."""

    kind = "none"
    relocates = False

    def __init__(self, enforcer: LimitEnforcer | None = None) -> None:
        self._enforcer = enforcer

    def launch(self, argv: list[str], jail: Jail) -> Launch:
        for bind in jail.binds:
            bind.host.mkdir(parents=True, exist_ok=True)
        if self._enforcer is None:
            return Launch(argv, Confinement(), None)
        confinement = self._enforcer.confine(jail.name, own_uid=False, notebooks=jail.notebooks)
        return Launch(confinement.wrap(argv), confinement, None)
