#!/usr/bin/env bash
# Installs the system packages FlickrKillr's stages, tests and benchmarks
# use, if any is missing. Idempotent: a second run installs nothing.
#
#   nginx      stage-3/4's load balancer and memcached front (needs the
#              memcached, upstream hash and keepalive modules: Debian's build has them)
#   memcached  stage-4's cache
#   lighttpd   proves stage-1 is real CGI (tests run it with mod_cgi)
#   ab, wrk    the reference load tools compare.sh measures against
#   sqlite3    to look inside the database by hand (and the tests count rows with it)
#   curl       compare.sh and every lesson fetch pages with it
#   nc         lesson 5 asks memcached for its stats (netcat-openbsd)
#   cc         rusqlite builds SQLite from source (build-essential)
#   perf       compare.sh --profile's flame graphs (linux-perf)
#   python3, python3-venv   the CPython peer (peers/python): then its
#              virtual environment, peers/python/.venv, with the pinned
#              packages of peers/python/requirements.txt (CherryPy,
#              pymemcache), re-made when that file changes
#   podman, mmdebstrap, runc   under CI=true only: the container image's
#              test (scripts/container-test.sh) builds a Debian base and
#              the image with them
#
# Debian/Ubuntu only (apt-get). As root, or with sudo.
set -euo pipefail

declare -A need=(
  [nginx]=nginx
  [memcached]=memcached
  [lighttpd]=lighttpd
  [ab]=apache2-utils
  [wrk]=wrk
  [sqlite3]=sqlite3
  [curl]=curl
  [nc]=netcat-openbsd
  [cc]=build-essential
  [perf]=linux-perf
)
missing=()
for tool in "${!need[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ]; then
    missing+=("${need[$tool]}")
  fi
done
# The container test, in CI only (a developer's machine may use docker, or
# not run it: it says so and is skipped).
if [ "${CI:-}" = true ]; then
  for tool in podman mmdebstrap runc; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
  done
fi
# The peer needs an interpreter that can make virtual environments.
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi

cd "$(dirname "$0")/.."

# The CPython peer's virtual environment, from the pinned requirements;
# made again only when requirements.txt changes (its hash is kept beside).
peer_venv() {
  local venv=peers/python/.venv req=peers/python/requirements.txt
  local stamp=$venv/.requirements.sha256 want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "setup.sh: creating $venv from $req" >&2
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null \
    || ! "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$req" >&2; then
    echo "setup.sh: could not install $req into $venv (is PyPI reachable?); the CPython peer's rows and tests need it" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
}

if [ ${#missing[@]} -eq 0 ]; then
  peer_venv
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: missing ${missing[*]} (Debian package names) and no apt-get here; install them with your package manager, or use the container (scripts/container.sh)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup.sh: run as root (or install sudo) to install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi

echo "setup.sh: installing ${missing[*]}" >&2
# The packages would start system-wide nginx/lighttpd/memcached services on
# ports 80 and 11211; the stages start their own, on free ports. A
# policy-rc.d that says "no" keeps the installation from starting any.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# What apt-get could not provide fails here, with the command that fixes it.
still=()
for tool in "${!need[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ]; then
    still+=("$tool (sudo apt-get install -y ${need[$tool]})")
  fi
done
if [ ${#still[@]} -gt 0 ]; then
  printf 'setup.sh: still missing after apt-get: %s\n' "${still[*]}" >&2
  exit 1
fi
peer_venv
echo "setup.sh: done" >&2
