# Hexa's image: `hexa serve` as a non-root user, the web UI built in, data on a volume.
#
# Build it with `make image` (docker/build_image.py): Hexa's wheel (with the built web UI)
# and a wheelhouse of every dependency, for the base image's own Python, are made on the
# host first, so this build needs no network and nothing from its base but `python3 -m venv`
# and /bin/sh. By hand, after `docker/build_image.py --context-only`:
#   docker build --network host --build-arg BASE_IMAGE=python:3.12-slim -t hexa .
# Run (README "Containers"):
#   docker run --network host -v hexa-data:/data -e HEXA_TOKEN=... hexa
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
COPY build/image/wheels/ /wheels/
# One virtualenv, from the wheelhouse only. The test suites of pandas and numpy (70 MiB)
# go; bytecode is compiled once, on both cores, checked by hash rather than by timestamp
# (the venv never changes), so `hexa serve` never compiles at start.
RUN python3 -m venv /opt/hexa \
 && /opt/hexa/bin/pip install --no-index --find-links /wheels --no-cache-dir --no-compile \
      --disable-pip-version-check /wheels/hexa-*.whl \
 && site="$(/opt/hexa/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
 && rm -rf "$site/pandas/tests" \
 && find "$site/numpy" -depth -type d -name tests -exec rm -rf {} + \
 && { /opt/hexa/bin/python -m compileall -qq -j 0 --invalidation-mode unchecked-hash \
        /opt/hexa/lib > /dev/null || true; } \
 && /opt/hexa/bin/python -c "import hexa.app, marimo, asyncpg; from hexa.api.pages import WEB_DIR; assert (WEB_DIR / 'index.html').is_file(), 'no web UI in the wheel'" \
 && /opt/hexa/bin/marimo --version

# The notebook image (`--target notebook`, HEXA_NOTEBOOK_IMAGE), for HEXA_SANDBOX=docker:
# marimo and the packages a notebook's kernel uses, from the same wheelhouse, and nothing of
# Hexa (no server, no settings, no secrets). Hexa runs it with the user's uid and folders,
# `--init`, a read-only root and its limits (src/hexa/sandbox/docker.py).
FROM ${BASE_IMAGE} AS notebook-build
COPY build/image/wheels/ /wheels/
RUN python3 -m venv /opt/notebook \
 && /opt/notebook/bin/pip install --no-index --find-links /wheels --no-cache-dir --no-compile \
      --disable-pip-version-check marimo ruff pandas duckdb sqlglot matplotlib \
 && site="$(/opt/notebook/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
 && rm -rf "$site/pandas/tests" \
 && find "$site/numpy" -depth -type d -name tests -exec rm -rf {} + \
 && { /opt/notebook/bin/python -m compileall -qq -j 0 --invalidation-mode unchecked-hash \
        /opt/notebook/lib > /dev/null || true; } \
 && /opt/notebook/bin/python -c "import marimo, pandas, duckdb, matplotlib" \
 && ! /opt/notebook/bin/python -c "import hexa" 2>/dev/null

FROM ${BASE_IMAGE} AS notebook
COPY --from=notebook-build /opt/notebook /opt/notebook
# No user of its own: Hexa gives each person's containers their uid (--user); run by hand,
# it is `nobody`, never root.
ENV PATH=/opt/notebook/bin:$PATH \
    PYTHONUNBUFFERED=1
USER 65534:65534
CMD ["python", "-m", "marimo", "--version"]

# Hexa's own image: the last stage, what a plain `docker build` makes.
FROM ${BASE_IMAGE}
# Debian's tini (static build), PID 1: forwards SIGTERM/SIGINT to `hexa serve`, which stops
# every marimo it started, and reaps whatever is orphaned.
COPY build/image/tini /usr/local/bin/tini
# The docker CLI, for HEXA_SANDBOX=docker: given the daemon's socket, Hexa runs each
# notebook in a sibling container of the notebook image (README "Containers").
COPY build/image/docker /usr/local/bin/docker
COPY --from=build /opt/hexa /opt/hexa
COPY docker/healthcheck.py /opt/hexa/healthcheck.py
# A fixed uid (10001) that owns nothing else; /data is 0700 like any Hexa data dir.
RUN echo 'hexa:x:10001:10001:Hexa:/home/hexa:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'hexa:x:10001:' >> /etc/group \
 && mkdir -p /home/hexa /data \
 && chown 10001:10001 /home/hexa /data \
 && chmod 0700 /home/hexa /data
# Settings are Hexa's own HEXA_* variables. HEXA_HOST stays loopback (host networking);
# HEXA_SANDBOX stays `auto`: the image has no bubblewrap (a container seldom may make the
# namespaces it needs), so Hexa says loudly at start that notebooks run unsandboxed, and
# only the default user may run notebooks (README "Containers").
ENV PATH=/opt/hexa/bin:$PATH \
    HOME=/home/hexa \
    HEXA_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/hexa
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/opt/hexa/bin/python", "/opt/hexa/healthcheck.py"]
ENTRYPOINT ["/usr/local/bin/tini", "--", "/opt/hexa/bin/hexa"]
CMD ["serve"]
