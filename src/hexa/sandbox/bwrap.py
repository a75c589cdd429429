"""`HEXA_SANDBOX=bwrap`: bubblewrap gives each process tree a private view of the machine.

Inside: the system read-only; a private `/tmp`, `/dev/shm` and `/run`; Hexa's data dir and
Hexa's own HOME replaced by empty folders, with only the jail's writable folders (the
user's notebooks, the user's HOME) bound back; a new PID namespace with its own `/proc`,
so no other process (Hexa's included) can be seen or signalled; the host's network, so
marimo listens on loopback where the proxy reaches it and `pip install` works.

Where Hexa runs as root, bwrap sets up the mounts as root (it must read the interpreter
even where it lives under root's 0700 HOME) and hands over to `setpriv`, which drops to
the user's own uid with no capabilities and no way to regain any. Otherwise bwrap runs
unprivileged in a user namespace, as Hexa's uid.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from hexa.sandbox.jail import Bind, Identity, Jail, Launch, UserIds
from hexa.sandbox.limits import LimitEnforcer

logger = logging.getLogger(__name__)


class BwrapUnavailableError(RuntimeError):
    """bubblewrap is missing or cannot make namespaces here."""


class BwrapSandbox:
    kind = "bwrap"
    relocates = True

    def __init__(
        self,
        *,
        hidden: Iterable[Path],
        needed: Iterable[Path],
        enforcer: LimitEnforcer,
        user_ids: UserIds | None,
        bwrap: str | None = None,
    ) -> None:
        """`hidden`: folders replaced by empty ones (Hexa's data dir, Hexa's HOME);
        `needed`: folders under a hidden one that must stay readable (the interpreter,
        the virtualenv, Hexa's own package); `user_ids`: a uid per user (root only)."""
        found = bwrap or shutil.which("bwrap")
        if found is None:
            raise BwrapUnavailableError("bubblewrap (bwrap) is not installed")
        self._bwrap = found
        self._setpriv = shutil.which("setpriv") if user_ids is not None else None
        if user_ids is not None and self._setpriv is None:
            raise BwrapUnavailableError("setpriv (util-linux) is needed to drop to a user's uid")
        needed = [_real(p) for p in needed]
        # The system's users' homes are not the notebook's business; a user's own HOME and
        # notebooks are bound under /home/<user> (see `home_root`).
        hidden = {_real(p) for p in hidden} | {home_root()}
        if user_ids is not None:
            # Another uid cannot walk into a folder such as root's 0700 HOME, where the
            # interpreter may live: such a folder is emptied and the needed part bound back.
            hidden |= {top for p in needed if (top := _closed_ancestor(p)) is not None}
        self._hidden = sorted(hidden, key=_depth)
        self._needed = sorted(
            {p for p in needed if any(p.is_relative_to(h) for h in self._hidden)}, key=_depth
        )
        self._enforcer = enforcer
        self._user_ids = user_ids

    def launch(self, argv: list[str], jail: Jail) -> Launch:
        identity = self._user_ids.of(jail) if self._user_ids is not None else None
        hosts = tuple(bind.host for bind in jail.binds)
        if identity is not None:
            UserIds.hand_over(identity, hosts)
        else:
            for folder in hosts:
                folder.mkdir(parents=True, exist_ok=True)
        binds = tuple(Bind(_real(b.host), b.inside) for b in jail.binds)
        inner = self._drop_privileges(identity) + argv
        command = [self._bwrap, *self.arguments(binds, jail.cwd, identity), "--", *inner]
        confinement = self._enforcer.confine(
            jail.name, own_uid=identity is not None, notebooks=jail.notebooks
        )
        return Launch(confinement.wrap(command), confinement, identity)

    def arguments(self, binds: tuple[Bind, ...], cwd: Path, identity: Identity | None) -> list[str]:
        args = [
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "notebook",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--tmpfs",
            "/dev/shm",
            "--proc",
            "/proc",
            "--perms",
            "1777",
            "--tmpfs",
            "/tmp",
            "--perms",
            "1777",
            "--tmpfs",
            "/var/tmp",
            "--perms",
            "0755",
            "--tmpfs",
            "/run",
        ]
        if identity is None:
            args.append("--unshare-user")
        made = {Path("/"), Path("/tmp"), Path("/var/tmp"), Path("/run")}
        for hidden in self._hidden:
            if hidden in made or not hidden.exists():
                continue
            args += self._ancestors(hidden, made)
            args += ["--perms", "0755", "--tmpfs", str(hidden)]
            made.add(hidden)
        for path in self._needed:
            args += self._ancestors(path, made)
            args += ["--ro-bind", str(path), str(path)]
            made.add(path)
        for bind in sorted(binds, key=lambda b: _depth(b.inside)):
            args += self._ancestors(bind.inside, made)
            args += ["--bind", str(bind.host), str(bind.inside)]
            made.add(bind.inside)
        args += ["--chdir", str(cwd)]
        if identity is not None:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        return args

    @staticmethod
    def _ancestors(path: Path, made: set[Path]) -> list[str]:
        """Folders between `path` and the mount it lies in (a tmpfs of ours): bwrap would
        make them 0700, and a user's uid must be able to walk down to its own folders."""
        inside = [m for m in made if m != Path("/") and m != path and path.is_relative_to(m)]
        if not inside:
            return []
        anchor = max(inside, key=_depth)
        args: list[str] = []
        for parent in reversed(path.parents):
            if parent.is_relative_to(anchor) and parent != anchor and parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        return args

    def _drop_privileges(self, identity: Identity | None) -> list[str]:
        if identity is None or self._setpriv is None:
            return []
        return [
            self._setpriv,
            f"--reuid={identity.uid}",
            f"--regid={identity.gid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]


def home_root() -> Path:
    """Where sandboxed users' HOMEs appear: /home, or /run/home on a system without /home
    (the root is read-only inside, so a mount point must lie in a folder of ours)."""
    return Path("/home") if Path("/home").is_dir() else Path("/run/home")


def bwrap_works(*, as_root: bool, bwrap: str | None = None) -> str | None:
    """None when bubblewrap can make the namespaces Hexa needs here; else why not."""
    found = bwrap or shutil.which("bwrap")
    if found is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [found, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid"]
    if not as_root:
        probe.append("--unshare-user")
    try:
        result = subprocess.run(
            [*probe, "--", "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    if result.returncode != 0:
        return "bwrap cannot make namespaces here: " + result.stderr.decode(errors="replace")
    return None


def _closed_ancestor(path: Path) -> Path | None:
    """The top-most folder on the way to `path` that others may not walk through."""
    for folder in reversed(path.parents):
        try:
            if not folder.stat().st_mode & 0o001:
                return folder
        except OSError:
            return None
    return None


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _depth(path: Path) -> tuple[int, str]:
    return (len(path.parts), str(path))
