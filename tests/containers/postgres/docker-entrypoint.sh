#!/bin/sh
# The official postgres image's entrypoint, reduced to what compose.yaml uses: as root, own
# the data dir and drop to `postgres`; on an empty data dir, initdb with POSTGRES_USER and
# POSTGRES_PASSWORD (password auth over TCP, trust on the container's own Unix socket, as
# the official image) and create POSTGRES_DB; then exec the command.
set -eu
if [ "${1:-}" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  pg_ctl --pgdata="$PGDATA" --wait --silent \
    -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start
  if [ "$db" != postgres ]; then
    psql --quiet -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres \
      --host=/var/run/postgresql -c "CREATE DATABASE \"$db\""
  fi
  pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
  echo "docker-entrypoint: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"
