#!/usr/bin/env bash
# `make suite`, the tests of `make test` before the browser suite, in two lanes, one per
# core: the container and integration tests (which spend much of their time waiting on
# image builds, downloads and marimo starting), and beside them the type check and the
# unit tests (CPU; fakes and temp dirs, cgroups and databases of their own). The second
# lane's output is printed when both end. Either lane failing fails the run; SIGTERM or
# SIGINT stops both lanes. Arguments (make's PYTEST_ARGS) go to both pytest runs.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
side=$(mktemp)
lane=""
main=""

stop() {
  [ -n "$main" ] && kill -TERM "$main" 2>/dev/null
  [ -n "$lane" ] && kill -TERM -- "-$lane" 2>/dev/null
  wait
  rm -f "$side"
  exit 143
}
trap stop TERM INT

# A session of its own, so that a stop reaches the lane's make, mypy and pytest at once.
setsid bash -c 'make --no-print-directory typecheck && exec "$0/pytest" -q -p no:cacheprovider tests/unit "$@"' \
  "$BIN" "$@" >"$side" 2>&1 &
lane=$!
"$BIN/pytest" -q -p no:cacheprovider tests/containers tests/integration "$@" &
main=$!

wait "$main"
main_rc=$?
main=""
wait "$lane"
lane_rc=$?
lane=""
echo "--- the other lane: type check and unit tests"
cat "$side"
rm -f "$side"
exit $((main_rc != 0 || lane_rc != 0))
