#!/usr/bin/env bash
# Why does stage-1 (a process per request) serve less in the workshop's
# container than natively? (scripts/container-test.sh: lesson 1's stage-1
# below the native range in every repetition, stage-2 and python-1 within.)
#
#   results/experiments/container-stage-1/run.sh [--reps 3]   (root, podman, mmdebstrap)
#   results/experiments/container-stage-1/run.sh --summarize FILE.tsv...
#                                    (each run's median (min–max) per way: README's table)
#
# The same stage-1 binary, database and photos, served three ways, the
# load (loadgen, the realistic mix, 64 connections, 3 s after 1 s) always
# from the host, the ways alternating within each repetition:
#   native       the binary on the host;
#   container    the binary (bind-mounted) in a Debian 12 minbase container,
#                podman's defaults as container.sh runs them (its seccomp
#                filter included), host network;
#   unconfined   the same container with --security-opt seccomp=unconfined:
#                if the filter (a BPF program run on every system call of
#                every process in the container) is the cost, this row
#                comes back to native;
#   overlay      the container, its binaries copied into the container's
#                own file system (overlayfs) first, as the workshop image
#                has them: every CGI request then execs a binary through
#                overlayfs.
# Prints one line per window and the medians; writes nothing into the
# clone (its state, podman store included, is a temporary directory it
# removes). Needs target/release (cargo build --release --workspace --bins)
# and data/flickrkillr-2000.db (scripts/lesson.sh 1 seeds it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
MODES="native container overlay unconfined"
# median (min–max) of each way's req/s in each file given.
summarize() {
  local f m v
  printf '| file | %s |\n|---|%s\n' "${MODES// / | }" "$(for m in $MODES; do printf -- '--:|'; done)"
  for f in "$@"; do
    printf '| %s |' "$(basename "$f" .tsv)"
    for m in $MODES; do
      v=$(awk -F'\t' -v m="$m" '$2 == m { print $3 }' "$f" | sort -n | awk '
        { v[NR] = $1 } END { if (NR == 0) { print "—"; exit }
          printf "%.0f (%.0f–%.0f)", v[int((NR + 1) / 2)], v[1], v[NR] }')
      printf ' %s |' "$v"
    done
    echo
  done
}
if [ "${1:-}" = --summarize ]; then shift; summarize "$@"; exit 0; fi
REPS=3
[ "${1:-}" = --reps ] && REPS=$2
BIN=$ROOT/target/release
DB=$ROOT/data/flickrkillr-2000.db
for f in "$BIN/stage-1" "$BIN/stage-1-cgi" "$BIN/loadgen" "$DB"; do
  [ -e "$f" ] || { echo "run.sh: $f is missing" >&2; exit 2; }
done
STATE=$(mktemp -d /var/tmp/fk-container-stage-1.XXXXXX)
mkdir -p "$STATE/w"
# The podman configuration scripts/container-test.sh uses on this kind of machine.
. "$ROOT/scripts/lib/podman-state.sh"
. "$ROOT/scripts/lib/wait-url.sh"
podman_state "$STATE"
SERVER=""
cleanup() {
  [ -z "$SERVER" ] || { kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; }
  podman_state_clear "$STATE"
  rm -rf "$STATE"
}
trap cleanup EXIT

echo "base: mmdebstrap --variant=minbase bookworm" >&2
mmdebstrap --quiet --variant=minbase bookworm "$STATE/base.tar" > /dev/null
"${P[@]}" import -q "$STATE/base.tar" localhost/fk-exp-base:test > /dev/null

start() { # mode: starts stage-1 on a fresh copy of the database, sets URL
  local mode=$1
  cp "$DB" "$STATE/w/db.db"
  rm -f "$STATE/w/db.db-wal" "$STATE/w/db.db-shm"
  local args=(--db /w/db.db --photos /photos --listen 127.0.0.1:0)
  case "$mode" in
    native) "$BIN/stage-1" --db "$STATE/w/db.db" --photos "$ROOT/data/photos" --listen 127.0.0.1:0 > "$STATE/server.log" 2>&1 & ;;
    container|unconfined|overlay)
      local extra=() cmd=(/fk/stage-1 "${args[@]}")
      [ "$mode" = unconfined ] && extra=(--security-opt seccomp=unconfined)
      [ "$mode" = overlay ] && cmd=(sh -c 'mkdir -p /opt/fk && cp /fk/stage-1 /fk/stage-1-cgi /opt/fk/ && exec /opt/fk/stage-1 "$@"' sh "${args[@]}")
      "${P[@]}" run --rm --network=host "${extra[@]}" -v "$BIN:/fk:ro" -v "$STATE/w:/w" \
        -v "$ROOT/data/photos:/photos:ro" localhost/fk-exp-base:test "${cmd[@]}" > "$STATE/server.log" 2>&1 & ;;
  esac
  SERVER=$!
  wait_url "$STATE/server.log" || { echo "run.sh: $mode did not start: $(cat "$STATE/server.log")" >&2; exit 1; }
}

printf 'repetition\tmode\treq/s\n'
for ((rep = 1; rep <= REPS; rep++)); do
  for mode in $MODES; do
    start "$mode"
    "$BIN/loadgen" --mix realistic --db "$STATE/w/db.db" -c 64 -d 3s -w 1s --quiet \
      --json "$STATE/lg.json" "$URL/" > /dev/null 2>&1
    kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    printf '%s\t%s\t%s\n' "$rep" "$mode" "$(sed -n 's/.*"rps": *\([0-9.]*\).*/\1/p;T;q' "$STATE/lg.json")"
  done
done | tee "$STATE/windows.tsv"
echo
echo "median req/s per mode:"
for mode in $MODES; do
  printf '  %-11s %s\n' "$mode" "$(awk -F'\t' -v m="$mode" '$2 == m { print $3 }' "$STATE/windows.tsv" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
done
