"""Resource limits for one sandboxed process tree: cgroups where Hexa may write them,
`prlimit` otherwise.

A limit must hold for the whole tree (the marimo server, its kernel, anything a cell
forks), so the process joins its cgroups before it execs anything: the launch command
starts with a tiny `sh` that writes its own pid into each `cgroup.procs`, then execs the
rest. cgroup v1 (one hierarchy per controller) and v2 (one unified hierarchy, where Hexa's
own cgroup has the controllers delegated) are both handled; where neither is writable,
`prlimit` caps processes (only when the sandbox has a uid of its own: RLIMIT_NPROC counts
every process of the uid) and the data segment.

A tree that holds several notebooks (a person's shared marimo) gets their limits together,
and each notebook's kernel a cgroup of its own below it (`Confinement.part`) with one
notebook's limits: one kernel cannot starve the others, and a limit it hits is its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_CGROUP_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "pids", "cpu")
_CPU_PERIOD_US = 100_000
# Joins the cgroups named before `--`, then becomes the rest of the command.
_JOIN_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; exec "$@"'


@dataclass(frozen=True)
class ResourceLimits:
    """Per notebook: memory in bytes, processes and threads, CPUs (0 = no cap)."""

    memory_bytes: int = 2 * 1024**3
    max_processes: int = 512
    cpus: float = 1.0

    def describe_memory(self) -> str:
        return f"{self.memory_bytes / 1024**2:g} MiB"

    def times(self, notebooks: int) -> ResourceLimits:
        """The limits of `notebooks` notebooks together."""
        return ResourceLimits(
            self.memory_bytes * notebooks, self.max_processes * notebooks, self.cpus * notebooks
        )


class Confinement:
    """The limits of one process tree: how to enter them, whether one was hit, release."""

    def wrap(self, argv: list[str]) -> list[str]:
        return argv

    def breach(self) -> str | None:
        """Why the tree was stopped by a limit (out of memory, too many processes)."""
        return None

    def limit_events(self) -> int:
        """How many times a limit stopped something in the tree so far (kills for memory,
        refused forks), where it is counted; `breach` says which."""
        return 0

    def tree_root(self, launcher_pid: int) -> int:
        """The pid whose descendants are the tree (the launcher itself, unless the tree
        runs elsewhere, e.g. in a container)."""
        return launcher_pid

    def release(self) -> None:
        """Remove what was made for this tree (after every process in it is gone)."""

    def rename(self, tree: str) -> None:
        """The tree now goes by `tree` (a spare claimed by a notebook), where the name is
        seen outside Hexa (a container's)."""

    def part(self, name: str, pids: list[int]) -> Confinement | None:
        """One notebook's limits, within this tree's, for `pids` (its kernel) and what they
        start from now on (blocking); None where it gets none of its own (prlimit's are
        per process already) and the tree's alone hold."""
        return None


class PrlimitConfinement(Confinement):
    def __init__(self, limits: ResourceLimits, *, own_uid: bool) -> None:
        self._limits = limits
        self._own_uid = own_uid

    def wrap(self, argv: list[str]) -> list[str]:
        prlimit = shutil.which("prlimit")
        if prlimit is None:
            return argv
        flags = [f"--data={self._limits.memory_bytes}"]
        if self._own_uid:
            flags.append(f"--nproc={self._limits.max_processes}")
        return [prlimit, *flags, "--", *argv]


class CgroupConfinement(Confinement):
    """Leaf cgroups, one per controller directory (v1) or one (v2).

    `limits` are one notebook's; the tree holds `notebooks` times them (a person's shared
    marimo), and each `part` one notebook's.
    """

    def __init__(
        self, leaves: dict[str, Path], limits: ResourceLimits, *, v2: bool, notebooks: int = 1
    ) -> None:
        self._leaves = leaves
        self._limits = limits
        self._v2 = v2
        self._notebooks = notebooks

    def part(self, name: str, pids: list[int]) -> Confinement | None:
        children: dict[str, Path] = {}
        try:
            if self._v2:
                _keep_processes_out(self._leaves["memory"])
            for controller, leaf in self._leaves.items():
                child = leaf / name
                if child not in children.values():
                    _remake(child)
                    if not self._v2:  # v1 moves what the kernel used so far along with it
                        with contextlib.suppress(OSError):
                            (child / "memory.move_charge_at_immigrate").write_text("3")
                children[controller] = child
            apply_limits(children, self._limits, v2=self._v2)
            for child in dict.fromkeys(children.values()):
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        (child / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            logger.warning("no cgroup of its own for %s (%s): its server's limits hold", name, exc)
            # Back where they were before the children go: removing a child kills its
            # members, and the kernel must live on under the server's limits.
            for leaf in dict.fromkeys(self._leaves.values()):
                home = leaf / "main" if self._v2 and (leaf / "main").is_dir() else leaf
                for pid in pids:
                    with contextlib.suppress(OSError):
                        (home / "cgroup.procs").write_text(str(pid))
            CgroupConfinement(children, self._limits, v2=self._v2).release()
            return None
        return CgroupConfinement(children, self._limits, v2=self._v2)

    def wrap(self, argv: list[str]) -> list[str]:
        procs = [str(leaf / "cgroup.procs") for leaf in dict.fromkeys(self._leaves.values())]
        return ["/bin/sh", "-c", _JOIN_SCRIPT, "hexa-limits", *procs, "--", *argv]

    def breach(self) -> str | None:
        memory = self._leaves.get("memory")
        if memory is not None:
            events = memory / ("memory.events" if self._v2 else "memory.oom_control")
            if _counter(events, "oom_kill") > 0:
                return (
                    f"out of memory: {self._whose} used more than {self._their} "
                    f"{self._limits.times(self._notebooks).describe_memory()} limit "
                    f"({self._setting('HEXA_NOTEBOOK_MEMORY_MB')}) and "
                    f"{'its' if self._notebooks == 1 else 'a'} kernel was stopped"
                )
        pids = self._leaves.get("pids")
        if pids is not None and _counter(pids / "pids.events", "max") > 0:
            return (
                f"too many processes: {self._whose} reached {self._their} limit of "
                f"{self._limits.times(self._notebooks).max_processes} processes and threads "
                f"({self._setting('HEXA_NOTEBOOK_MAX_PROCESSES')})"
            )
        return None

    @property
    def _whose(self) -> str:
        return "the notebook" if self._notebooks == 1 else "the person's notebooks together"

    @property
    def _their(self) -> str:
        return "its" if self._notebooks == 1 else "their"

    def _setting(self, name: str) -> str:
        return name if self._notebooks == 1 else f"{self._notebooks} x {name}"

    def limit_events(self) -> int:
        count = 0
        memory = self._leaves.get("memory")
        if memory is not None:
            count += _counter(
                memory / ("memory.events" if self._v2 else "memory.oom_control"), "oom_kill"
            )
        pids = self._leaves.get("pids")
        if pids is not None:
            count += _counter(pids / "pids.events", "max")
        return count

    def release(self) -> None:
        for leaf in dict.fromkeys(self._leaves.values()):
            _remove(leaf)


def _counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _members(leaf: Path) -> list[int]:
    try:
        return [int(pid) for pid in (leaf / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _remove(leaf: Path, timeout: float = 2.0) -> None:
    """Kill what is left in a leaf (a process that escaped its group, one still dying
    with its PID namespace) and remove it once it is empty (bounded wait); its parts
    first."""
    with contextlib.suppress(OSError):
        for child in leaf.iterdir():
            if child.is_dir():
                _remove(child, timeout)
    deadline = time.monotonic() + timeout
    while members := _members(leaf):
        for pid in members:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            logger.warning("cgroup %s still holds %s; left in place", leaf, members)
            return
        time.sleep(0.01)
    with contextlib.suppress(OSError):
        leaf.rmdir()


class LimitEnforcer:
    """Makes a `Confinement` per process tree, with the best mechanism this host allows."""

    def __init__(
        self, limits: ResourceLimits, *, parents: dict[str, Path] | None, v2: bool
    ) -> None:
        self.limits = limits
        self._parents = parents  # controller -> Hexa's own `hexa` cgroup; None: prlimit
        self._v2 = v2

    @property
    def mechanism(self) -> str:
        if self._parents is None:
            return "prlimit"
        return "cgroup v2" if self._v2 else "cgroup v1"

    @classmethod
    def detect(cls, limits: ResourceLimits, *, name: str = "hexa") -> LimitEnforcer:
        """cgroups if Hexa can make its own child cgroups here, else prlimit."""
        parents, v2 = _v1_parents(name), False
        if parents is None:
            parents = _v2_parents(name)
            v2 = parents is not None
        if parents is None:
            logger.warning(
                "cgroups are not writable here: notebook limits fall back to prlimit "
                "(memory as data size, processes only with a uid per user, no CPU cap)"
            )
        return cls(limits, parents=parents, v2=v2)

    def confine(self, name: str, *, own_uid: bool, notebooks: int = 1) -> Confinement:
        """Limits for the tree `name`, which runs `notebooks` notebooks (a person's shared
        marimo: their limits together; each kernel is then given its own `part`)."""
        if self._parents is None:
            return PrlimitConfinement(self.limits, own_uid=own_uid)
        leaves: dict[str, Path] = {}
        try:
            for controller, parent in self._parents.items():
                leaf = parent / name
                if leaf not in leaves.values():
                    _remake(leaf)
                leaves[controller] = leaf
            apply_limits(leaves, self.limits.times(notebooks), v2=self._v2)
        except OSError as exc:
            logger.warning("could not make cgroups for %s (%s); using prlimit", name, exc)
            CgroupConfinement(leaves, self.limits, v2=self._v2).release()
            return PrlimitConfinement(self.limits, own_uid=own_uid)
        return CgroupConfinement(leaves, self.limits, v2=self._v2, notebooks=notebooks)

    def close(self) -> None:
        """Remove Hexa's own cgroups (at shutdown, once every notebook is stopped)."""
        self.sweep()
        for parent in dict.fromkeys((self._parents or {}).values()):
            with contextlib.suppress(OSError):
                parent.rmdir()

    def sweep(self) -> None:
        """Remove leaves left by an earlier run (their processes are reaped by pid file)."""
        for parent in dict.fromkeys((self._parents or {}).values()):
            with contextlib.suppress(OSError):
                for leaf in parent.iterdir():
                    if leaf.is_dir():
                        _remove(leaf)


def apply_limits(leaves: dict[str, Path], limits: ResourceLimits, *, v2: bool) -> None:
    mem, pids, cpu = leaves["memory"], leaves["pids"], leaves["cpu"]
    if v2:
        (mem / "memory.max").write_text(str(limits.memory_bytes))
        with contextlib.suppress(OSError):
            (mem / "memory.swap.max").write_text("0")
        (pids / "pids.max").write_text(str(limits.max_processes))
        if limits.cpus > 0:
            quota = int(limits.cpus * _CPU_PERIOD_US)
            (cpu / "cpu.max").write_text(f"{quota} {_CPU_PERIOD_US}")
        return
    (mem / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
    with contextlib.suppress(OSError):
        (mem / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
    (pids / "pids.max").write_text(str(limits.max_processes))
    if limits.cpus > 0:
        (cpu / "cpu.cfs_period_us").write_text(str(_CPU_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(limits.cpus * _CPU_PERIOD_US)))


def _keep_processes_out(leaf: Path, attempts: int = 5) -> None:
    """cgroup v2 keeps processes out of a cgroup whose children have controllers: the
    tree's processes move to a `main` child before its first part is made. A process
    forked meanwhile lands in the leaf and fails the switch (EBUSY): moved again, a few
    times."""
    with contextlib.suppress(OSError):
        if "memory" in (leaf / "cgroup.subtree_control").read_text().replace("+", " ").split():
            return  # done before (a failed earlier try left `main` and is done again)
    (leaf / "main").mkdir(exist_ok=True)
    for attempt in range(attempts):
        for pid in _members(leaf):
            with contextlib.suppress(ProcessLookupError):
                (leaf / "main" / "cgroup.procs").write_text(str(pid))
        try:
            (leaf / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            return
        except OSError:
            if attempt == attempts - 1:
                raise


def _remake(leaf: Path) -> None:
    if leaf.is_dir():
        _remove(leaf)
    leaf.mkdir(exist_ok=True)


def _own_cgroups() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    own: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
    return own


def _v1_parents(name: str) -> dict[str, Path] | None:
    own = _own_cgroups()
    parents: dict[str, Path] = {}
    for controller in _V1_CONTROLLERS:
        mount = _CGROUP_ROOT / controller
        if controller not in own or not (mount / "cgroup.procs").exists():
            return None
        parent = mount / own[controller].lstrip("/") / name
        try:
            parent.mkdir(exist_ok=True)
            probe = parent / "hexa-probe"
            probe.mkdir(exist_ok=True)
            probe.rmdir()
        except OSError:
            return None
        parents[controller] = parent
    return parents


def _v2_parents(name: str) -> dict[str, Path] | None:
    """A `hexa` child of our own cgroup with memory, pids and cpu delegated to it.

    cgroup v2 allows no processes in a cgroup whose children have controllers, so this
    works only where Hexa's cgroup was made for it (a container's root, a systemd unit
    with Delegate=yes and Hexa in a leaf of its own).
    """
    own = _own_cgroups().get("")
    if own is None or not (_CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    base = _CGROUP_ROOT / own.lstrip("/")
    parent = base / name
    try:
        available = (base / "cgroup.controllers").read_text().split()
        if not {"memory", "pids", "cpu"} <= set(available):
            return None
        parent.mkdir(exist_ok=True)
        (base / "cgroup.subtree_control").write_text("+memory +pids +cpu")
        (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    except OSError:
        return None
    return dict.fromkeys(("memory", "pids", "cpu"), parent)
