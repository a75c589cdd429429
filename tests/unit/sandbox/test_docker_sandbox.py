"""The docker sandbox's `docker run` line (no daemon: only the command Hexa would run;
the real containers are tested in tests/containers/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hexa.sandbox.docker import DockerSandbox
from hexa.sandbox.jail import Bind, Jail, UserIds
from hexa.sandbox.limits import ResourceLimits


def sandbox(user_ids: UserIds | None, host: str | None = None) -> DockerSandbox:
    limits = ResourceLimits(memory_bytes=512 * 1024**2, max_processes=64, cpus=0.5)
    return DockerSandbox(
        image="nb:1",
        label="hexa-abc",
        limits=limits,
        user_ids=user_ids,
        docker="/bin/docker",
        host=host,
    )


def jail(tmp_path: Path) -> Jail:
    home, notebooks = tmp_path / "home" / "ann", tmp_path / "notebooks" / "ann"
    binds = (Bind(home, Path("/home/ann")), Bind(notebooks, Path("/home/ann/notebooks")))
    return Jail("nb1", 3, "ann", binds, Path("/home/ann/notebooks"))


def flag(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


def test_the_container_sees_only_the_users_folders_under_the_users_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    launch = sandbox(None).launch(["/host/venv/bin/python", "-m", "marimo", "edit"], jail(tmp_path))
    argv = launch.argv
    assert argv[:3] == ["/bin/docker", "run", "--rm"]
    assert flag(argv, "--network") == ["host"]
    assert flag(argv, "--name") == ["hexa-abc-nb1"]
    assert flag(argv, "--label") == ["hexa=hexa-abc", "hexa.started-as=nb1"]
    assert flag(argv, "--volume") == [
        f"{tmp_path}/home/ann:/home/ann",
        f"{tmp_path}/notebooks/ann:/home/ann/notebooks",
    ]
    assert flag(argv, "--memory") == ["512m"] == flag(argv, "--memory-swap")
    assert flag(argv, "--cpus") == ["0.5"]
    assert flag(argv, "--pids-limit") == ["64"]
    assert flag(argv, "--cap-drop") == ["ALL"]
    assert "--read-only" in argv
    # The environment is named, never given: values come from the client's allowlisted env.
    assert "PATH" not in flag(argv, "--env")
    assert "HOME" in flag(argv, "--env")
    # The host's interpreter is replaced by the image's.
    assert argv[-5:] == ["nb:1", "python", "-m", "marimo", "edit"]
    assert (tmp_path / "home" / "ann").is_dir()
    assert (tmp_path / "notebooks" / "ann").is_dir()
    assert launch.identity is None
    assert "--user" not in argv


def test_as_root_each_user_runs_as_their_own_uid(tmp_path: Path) -> None:
    if not UserIds.available():
        return  # the uid switch needs root; the line above covers the rest
    launch = sandbox(UserIds(200000)).launch(["python"], jail(tmp_path))
    assert flag(launch.argv, "--user") == ["200003:200003"]
    assert (tmp_path / "home" / "ann").stat().st_uid == 200003


def test_hexas_docker_host_goes_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client runs with the notebook's allowlisted environment, which has no DOCKER_HOST.
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/hexa/docker.sock")
    argv = sandbox(None).launch(["python"], jail(tmp_path)).argv
    assert argv[:4] == ["/bin/docker", "--host", "unix:///run/hexa/docker.sock", "run"]
    assert "DOCKER_HOST" not in flag(argv, "--env")


def test_hexa_in_a_container_mounts_the_folders_from_the_docker_hosts_paths(
    tmp_path: Path,
) -> None:
    limits = ResourceLimits(memory_bytes=512 * 1024**2, max_processes=64, cpus=0.5)
    boxed = DockerSandbox(
        image="nb:1",
        label="hexa-abc",
        limits=limits,
        user_ids=None,
        docker="/bin/docker",
        data_dirs=(tmp_path, Path("/srv/hexa")),
    )
    argv = boxed.launch(["python"], jail(tmp_path)).argv
    assert flag(argv, "--volume") == [
        "/srv/hexa/home/ann:/home/ann",
        "/srv/hexa/notebooks/ann:/home/ann/notebooks",
    ]
