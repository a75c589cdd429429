#!/bin/sh
# `make containers`: Debian's Docker engine (docker.io, with containerd, runc and tini),
# docker-compose (v1) and debootstrap, for tests/containers/, installed when missing.
#
# The tests start a dockerd of their own (host networking only, no bridge, no iptables).
# While apt-get runs, a policy-rc.d keeps the system's docker and containerd services from
# starting (where none exists already), so installing creates no docker0 bridge and leaves
# no daemon running. Start the service yourself if you want a system-wide Docker.
set -eu
missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing="$missing debootstrap"
[ -n "$missing" ] || exit 0

as_root=""
[ "$(id -u)" = 0 ] || as_root=sudo
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '%s\n' '#!/bin/sh' \
    '# Written by Hexa'"'"'s tests/containers/install-tools.sh while apt-get runs.' \
    'case "$1" in docker|docker.*|containerd|containerd.*) exit 101;; esac' \
    'exit 0' | $as_root tee "$policy" >/dev/null
  $as_root chmod 0755 "$policy"
  trap '$as_root rm -f "$policy"' EXIT
fi
echo "installing$missing (for tests/containers/)"
$as_root apt-get update -q
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
