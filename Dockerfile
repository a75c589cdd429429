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

FROM ${BASE_IMAGE}
# Debian's tini (static build), PID 1: forwards SIGTERM/SIGINT to `hexa serve`, which stops
# every marimo it started, and reaps whatever is orphaned.
COPY build/image/tini /usr/local/bin/tini
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
