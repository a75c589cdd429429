"""Build Hexa's image from the working tree, with no network inside `docker build`.

    .venv/bin/python docker/build_image.py [--base IMAGE] [--tag TAG] [--notebook-tag TAG]
                                           [--context-only]

(`make image` runs it.) On the host, into build/image/ (the only build context the
.dockerignore lets through):

1. `wheels/hexa-*.whl`: Hexa's wheel, built by `uv build` from this tree; it carries the web
   UI that `make web` built into src/hexa/web (checked);
2. `wheels/*`: every dependency as a binary wheel for the base image's own Python, glibc and
   architecture (asked of the base image itself, or given with --python), pinned to the
   versions installed in the virtualenv this script runs from, i.e. what the tests ran with;
3. `tini`: Debian's static tini (`/usr/bin/tini-static`, a dependency of Debian's docker.io;
   else fetched with `apt-get download tini`);
4. `docker`: the docker CLI this build runs (`--docker`), for HEXA_SANDBOX=docker.

Then `docker build --network host --build-arg BASE_IMAGE=... -t TAG .`, whose build stage
installs from the wheelhouse with `pip install --no-index`, and the same with `--target
notebook` for the notebook image of HEXA_SANDBOX=docker. The docker CLI, daemon and
builder are whatever `--docker` and the environment (DOCKER_HOST) name.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTEXT = REPO / "build" / "image"
PROBE = (
    "import os, platform, sys; "
    "print(f'{sys.version_info[0]}.{sys.version_info[1]}', platform.machine(), "
    "os.confstr('CS_GNU_LIBC_VERSION') or 'none')"
)


def log(message: str) -> None:
    print(f"build_image: {message}", file=sys.stderr, flush=True)


def run(
    argv: list[str], *, capture_output: bool = False, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, capture_output=capture_output, cwd=cwd)


def probe_base(docker: str, base: str) -> tuple[str, str, str]:
    """The base image's Python version, machine and glibc version, asked of the image."""
    out = run(
        [docker, "run", "--rm", "--network", "none", "--entrypoint", "python3", base, "-c", PROBE],
        capture_output=True,
    ).stdout.split()
    python, machine, libc = out[0], out[1], out[-1]
    if libc == "none" or not libc[0].isdigit():
        sys.exit(f"build_image: {base} has no glibc; only glibc (manylinux) bases are supported")
    return python, machine, libc


def platforms(machine: str, glibc: str) -> list[str]:
    """manylinux tags a wheel may carry to install on this glibc and architecture."""
    major, minor = (int(part) for part in glibc.split(".")[:2])
    tags = [f"manylinux_{major}_{n}_{machine}" for n in range(minor, 4, -1)]
    tags.append(f"manylinux2014_{machine}")
    if machine in ("x86_64", "i686"):
        tags += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    return tags


def build_wheel(wheels: Path) -> Path:
    if not (REPO / "src" / "hexa" / "web" / "index.html").is_file():
        sys.exit("build_image: the web UI is not built (src/hexa/web): run `make web` first")
    run([sys.executable, "-m", "uv", "build", "--wheel", "--out-dir", str(wheels), str(REPO)])
    (wheel,) = wheels.glob("hexa-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        if "hexa/web/index.html" not in archive.namelist():
            sys.exit(f"build_image: {wheel.name} has no web UI")
    return wheel


def download_dependencies(wheel: Path, wheels: Path, python: str, tags: list[str]) -> None:
    """Binary wheels of every dependency for the target, pinned to this virtualenv's."""
    frozen = run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True
    ).stdout
    constraints = CONTEXT / "constraints.txt"
    constraints.write_text(frozen)
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    argv += ["--dest", str(wheels), "--only-binary=:all:", "--implementation", "cp"]
    argv += ["--python-version", python, "--constraint", str(constraints), str(wheel)]
    for tag in tags:
        argv += ["--platform", tag]
    run(argv)


def copy_tini(target: Path) -> None:
    found = Path("/usr/bin/tini-static")
    if found.is_file():
        shutil.copy2(found, target)
        return
    log("no /usr/bin/tini-static here: fetching Debian's tini with apt-get download")
    with tempfile.TemporaryDirectory() as tmp:
        run(["apt-get", "download", "tini"], cwd=tmp)
        (deb,) = Path(tmp).glob("tini_*.deb")
        run(["dpkg-deb", "-x", str(deb), f"{tmp}/root"])
        shutil.copy2(Path(tmp) / "root" / "usr" / "bin" / "tini-static", target)


def copy_docker_cli(docker: str, target: Path) -> None:
    """The docker CLI this build uses: Hexa runs it for HEXA_SANDBOX=docker (a container per
    notebook, on the daemon whose socket Hexa's container is given)."""
    found = shutil.which(docker)
    if found is None:
        sys.exit(f"build_image: no docker CLI at {docker}")
    shutil.copy2(Path(found).resolve(), target)


def prepare(docker: str, base: str, python: str | None) -> None:
    if python is None:
        python, machine, glibc = probe_base(docker, base)
    else:
        machine, glibc = "x86_64", "2.36"
    log(f"target: Python {python}, {machine}, glibc {glibc} ({base})")
    if CONTEXT.exists():
        shutil.rmtree(CONTEXT)
    wheels = CONTEXT / "wheels"
    wheels.mkdir(parents=True)
    wheel = build_wheel(wheels)
    download_dependencies(wheel, wheels, python, platforms(machine, glibc))
    copy_tini(CONTEXT / "tini")
    copy_docker_cli(docker, CONTEXT / "docker")
    size = sum(f.stat().st_size for f in wheels.iterdir()) / 1024**2
    log(f"{len(list(wheels.iterdir()))} wheels, {size:.0f} MiB, in {wheels}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base", default="python:3.12-slim", help="the BASE_IMAGE build argument")
    parser.add_argument("--tag", default="hexa:latest", help="the image's name")
    parser.add_argument(
        "--notebook-tag",
        default="hexa-notebook:latest",
        help="the notebook image's name (HEXA_NOTEBOOK_IMAGE, for HEXA_SANDBOX=docker)",
    )
    parser.add_argument("--docker", default="docker", help="the docker CLI to use")
    parser.add_argument(
        "--python", help="the base's Python (X.Y; x86_64, glibc 2.36) instead of asking the base"
    )
    parser.add_argument(
        "--context-only", action="store_true", help="prepare build/image/ but do not build"
    )
    args = parser.parse_args()
    prepare(args.docker, args.base, args.python)
    if args.context_only:
        return
    build = [args.docker, "build", "--network", "host", "--build-arg", f"BASE_IMAGE={args.base}"]
    dockerfile = ["--file", str(REPO / "Dockerfile"), str(REPO)]
    run([*build, "--tag", args.tag, *dockerfile])
    log(f"built {args.tag}")
    # The same Dockerfile's notebook stage: shares the wheelhouse (and the cache) above.
    run([*build, "--target", "notebook", "--tag", args.notebook_tag, *dockerfile])
    log(f"built {args.notebook_tag}")


if __name__ == "__main__":
    main()
