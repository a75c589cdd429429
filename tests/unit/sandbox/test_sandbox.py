"""The sandbox seam without starting anything: bwrap's command line, limits, environment.

No subprocess here (the real bubblewrap runs in tests/integration/sandbox/); cgroup files
are stand-ins in a temp dir.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from hexa.runtime.logpump import LogPump
from hexa.sandbox import Bind, BwrapSandbox, Jail, PlainSandbox, ResourceLimits, UserIds
from hexa.sandbox.bwrap import _closed_ancestor
from hexa.sandbox.environment import sandbox_environment
from hexa.sandbox.limits import CgroupConfinement, LimitEnforcer, PrlimitConfinement


def sandbox(tmp_path: Path, *, user_ids: UserIds | None = None) -> BwrapSandbox:
    return BwrapSandbox(
        hidden=[tmp_path / "data"],
        needed=[tmp_path / "data" / "venv"],
        enforcer=LimitEnforcer(ResourceLimits(), parents=None, v2=False),
        user_ids=user_ids,
        bwrap="/usr/bin/bwrap",
    )


def pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == flag]


def test_the_data_dir_is_emptied_and_only_the_jails_folders_come_back(tmp_path: Path) -> None:
    (tmp_path / "data" / "venv").mkdir(parents=True)
    folder, home = tmp_path / "data" / "notebooks" / "ann", tmp_path / "data" / "home" / "ann"
    args = sandbox(tmp_path).arguments(
        (Bind(folder, Path("/home/ann/notebooks")), Bind(home, Path("/home/ann"))),
        Path("/home/ann/notebooks"),
        None,
    )
    tmpfs = [args[i + 1] for i, a in enumerate(args) if a == "--tmpfs"]
    assert str(tmp_path / "data") in tmpfs
    assert {"/tmp", "/run", "/home", "/dev/shm"} <= set(tmpfs)
    assert pairs(args, "--bind") == [(str(home), "/home/ann"), (str(folder), "/home/ann/notebooks")]
    assert pairs(args, "--ro-bind")[-1] == (str(tmp_path / "data" / "venv"),) * 2
    assert "--unshare-pid" in args
    assert "--unshare-user" in args, "without root, bwrap runs in a user namespace"
    assert args[args.index("--chdir") + 1] == "/home/ann/notebooks"
    # A tmpfs is made before what is bound into it.
    assert args.index(str(tmp_path / "data")) < args.index(str(tmp_path / "data" / "venv"))


def test_as_root_bwrap_hands_over_to_setpriv_with_nothing_left(tmp_path: Path) -> None:
    box = sandbox(tmp_path, user_ids=UserIds(200000))
    identity = UserIds(200000).of(Jail("n", 7, "ann", (), Path("/")))
    assert (identity.uid, identity.name) == (200007, "hexa-ann")
    assert box._drop_privileges(identity)[1:] == [
        "--reuid=200007",
        "--regid=200007",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]
    args = box.arguments((), Path("/"), identity)
    assert "--unshare-user" not in args, "as root, bwrap sets up the mounts itself"
    caps = [args[i + 1] for i, a in enumerate(args) if a == "--cap-add"]
    assert caps == ["CAP_SETUID", "CAP_SETGID"], "only what setpriv needs to drop to the uid"


def test_a_closed_folder_on_the_way_to_the_interpreter_is_found(tmp_path: Path) -> None:
    inner = tmp_path / "closed" / "python"
    inner.mkdir(parents=True)
    (tmp_path / "closed").chmod(0o700)
    try:
        found = _closed_ancestor(inner)
        assert found is not None
        assert (tmp_path / "closed").is_relative_to(found)
        assert not found.stat().st_mode & 0o001
    finally:
        (tmp_path / "closed").chmod(0o755)


def test_a_jail_maps_host_paths_inside(tmp_path: Path) -> None:
    jail = Jail("n", 1, "ann", (Bind(tmp_path / "nb", Path("/home/ann/notebooks")),), Path("/"))
    assert jail.inside(tmp_path / "nb" / "a" / "b.py") == Path("/home/ann/notebooks/a/b.py")
    with pytest.raises(ValueError, match="outside"):
        jail.inside(tmp_path / "elsewhere.py")


def test_a_plain_sandbox_without_limits_runs_the_command_as_is(tmp_path: Path) -> None:
    launch = PlainSandbox().launch(["x"], Jail("n", 1, "a", (Bind(tmp_path, tmp_path),), tmp_path))
    assert launch.argv == ["x"]
    assert launch.identity is None


def test_cgroup_breaches_name_the_limit(tmp_path: Path) -> None:
    mem, pids = tmp_path / "memory", tmp_path / "pids"
    mem.mkdir()
    pids.mkdir()
    limits = ResourceLimits(memory_bytes=256 * 1024**2, max_processes=64)
    v1 = CgroupConfinement({"memory": mem, "pids": pids, "cpu": mem}, limits, v2=False)
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    (pids / "pids.events").write_text("max 0\n")
    assert v1.breach() is None
    (pids / "pids.events").write_text("max 3\n")
    assert "64 processes" in (v1.breach() or "")
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert "out of memory" in (v1.breach() or "")
    assert "256 MiB" in (v1.breach() or "")
    v2 = CgroupConfinement({"memory": mem, "pids": mem, "cpu": mem}, limits, v2=True)
    (mem / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert "out of memory" in (v2.breach() or "")
    wrapped = v1.wrap(["marimo"])
    assert wrapped[:2] == ["/bin/sh", "-c"]
    assert wrapped[-2:] == ["--", "marimo"]
    assert str(mem / "cgroup.procs") in wrapped


def test_a_kernels_part_has_one_notebooks_limits_in_v1_and_v2(tmp_path: Path) -> None:
    """On folders standing in for cgroupfs (the real kernel's in
    tests/integration/runtime/test_shared_real.py): what is written where."""
    limits = ResourceLimits(memory_bytes=256 * 1024**2, max_processes=64, cpus=1.0)
    leaves = {c: tmp_path / "v1" / c / "person1" for c in ("memory", "pids", "cpu")}
    for leaf in leaves.values():
        leaf.mkdir(parents=True)
    person = CgroupConfinement(leaves, limits, v2=False, notebooks=5)
    part = person.part("nb.a", [4242])
    assert isinstance(part, CgroupConfinement)
    kernel = {c: leaf / "nb.a" for c, leaf in leaves.items()}
    assert (kernel["memory"] / "memory.limit_in_bytes").read_text() == str(256 * 1024**2)
    assert (kernel["memory"] / "memory.move_charge_at_immigrate").read_text() == "3"
    assert (kernel["pids"] / "pids.max").read_text() == "64"
    assert (kernel["cpu"] / "cpu.cfs_quota_us").read_text() == "100000"
    assert all((k / "cgroup.procs").read_text() == "4242" for k in kernel.values())
    # v2: the server's processes leave the person's cgroup for `main` before it has parts.
    leaf = tmp_path / "v2" / "person1"
    leaf.mkdir(parents=True)
    (leaf / "cgroup.procs").write_text("11\n")
    person = CgroupConfinement(dict.fromkeys(("memory", "pids", "cpu"), leaf), limits, v2=True)
    assert isinstance(person.part("nb.b", [4343]), CgroupConfinement)
    assert (leaf / "main" / "cgroup.procs").read_text() == "11"
    assert (leaf / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (leaf / "nb.b" / "memory.max").read_text() == str(256 * 1024**2)
    assert (leaf / "nb.b" / "cgroup.procs").read_text() == "4343"
    # Where a part cannot be made, the kernel keeps the server's limits only.
    assert CgroupConfinement({"memory": tmp_path / "gone"}, limits, v2=False).part("x", [1]) is None
    assert PrlimitConfinement(limits, own_uid=True).part("x", [1]) is None


def test_a_persons_limits_are_their_notebooks_together(tmp_path: Path) -> None:
    mem = tmp_path / "memory"
    mem.mkdir()
    limits = ResourceLimits(memory_bytes=256 * 1024**2, max_processes=64)
    person = CgroupConfinement({"memory": mem}, limits, v2=False, notebooks=5)
    (mem / "memory.oom_control").write_text("oom_kill 1\n")
    assert person.breach() == (
        "out of memory: the person's notebooks together used more than their 1280 MiB "
        "limit (5 x HEXA_NOTEBOOK_MEMORY_MB) and a kernel was stopped"
    )


def test_prlimit_caps_processes_only_for_a_uid_of_its_own() -> None:
    limits = ResourceLimits(memory_bytes=1024, max_processes=10)
    own = PrlimitConfinement(limits, own_uid=True).wrap(["x"])
    shared = PrlimitConfinement(limits, own_uid=False).wrap(["x"])
    if own == ["x"]:
        pytest.skip("prlimit is not installed")
    assert "--nproc=10" in own
    assert "--data=1024" in own
    assert not any(a.startswith("--nproc") for a in shared)


def test_the_environment_is_chosen_not_inherited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "HEXA_TOKEN": "t",
        "OPENAI_API_KEY": "k",
        "HEXA_DATABASE_URL": "postgresql://u:p@h/db",
        "GITHUB_TOKEN": "g",
        "AWS_SECRET_ACCESS_KEY": "s",
        "HTTPS_PROXY": "http://proxy:3128",
        "LANG": "C.UTF-8",
        "PYTHONPATH": "/opt/extra",
    }.items():
        monkeypatch.setenv(key, value)
    env = sandbox_environment(Path("/home/ann"), user="hexa-ann", packages=Path("/home/ann/pkgs"))
    assert not {"HEXA_TOKEN", "OPENAI_API_KEY", "HEXA_DATABASE_URL", "GITHUB_TOKEN"} & set(env)
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert env["HOME"] == "/home/ann"
    assert env["PIP_TARGET"] == env["MARIMO_UV_TARGET"] == "/home/ann/pkgs"
    assert env["PYTHONPATH"] == os.pathsep.join(["/home/ann/pkgs", "/opt/extra"])


async def test_a_line_is_in_the_log_at_once_only_a_possible_secret_start_waits(
    tmp_path: Path,
) -> None:
    token = "s3cr3t-token-value-0123456789"
    stream = asyncio.StreamReader()
    pump = LogPump(stream, tmp_path / "n.log", secrets=(token,))
    stream.feed_data(f"URL: http://localhost:1/nb/x?access_token={token}\nready s3c".encode())
    log = tmp_path / "n.log"
    for _ in range(1000):  # the pump's task runs as soon as this one yields
        if log.read_text().endswith("ready "):
            break
        await asyncio.sleep(0)
    # Written with no further output and no end of the stream: the marimo server printed
    # its URL and is quiet now; "s3c" could begin the token and waits for the next read.
    assert log.read_text() == "URL: http://localhost:1/nb/x?access_token=[redacted]\nready "
    stream.feed_data(b"r3t-token-value-0123456789 and more\n")
    stream.feed_eof()
    await pump.close()
    assert log.read_text().endswith("ready [redacted] and more\n")


class Chunks(asyncio.StreamReader):
    """A pipe whose reads return exactly these pieces, in order."""

    def __init__(self, *pieces: bytes) -> None:
        super().__init__()
        self._pieces = list(pieces)

    async def read(self, n: int = -1) -> bytes:
        return self._pieces.pop(0) if self._pieces else b""


async def test_the_log_never_holds_the_token_even_split_across_reads(tmp_path: Path) -> None:
    token = "s3cr3t-token-value-0123456789"
    line = f"URL: http://localhost:1/nb/x?access_token={token}\n".encode()
    cut = line.index(b"s3cr3t") + 5
    stream = Chunks(line[:cut], line[cut:] + b"a" * 70_000 + b"\n")
    pump = LogPump(stream, tmp_path / "n.log", secrets=(token,))
    await pump.close()
    text = (tmp_path / "n.log").read_text()
    assert token not in text
    assert "access_token=[redacted]" in text
    assert text.endswith("a\n")
    assert (tmp_path / "n.log").stat().st_mode & 0o777 == 0o600
