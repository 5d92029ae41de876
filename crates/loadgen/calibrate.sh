#!/usr/bin/env bash
# calibrate.sh — what does loadgen itself cost? Compare it with wrk on nginx.
#
# The talk's 4th iteration measured 616 req/s with a homegrown tool and
# 1750 req/s with ab: a load generator that costs CPU on the machine under
# test measures itself. This script serves a 2 KB static file from nginx on
# 127.0.0.1 and runs `wrk -t2 -c64` and `loadgen --mix single -c 64 -t 2`
# alternately, RUNS times each, and compares the medians. loadgen passes if
# it reaches >= 0.9x wrk's req/s (exit 0), else exit 1.
#
# Usage: crates/loadgen/calibrate.sh [--workers 1|auto] [--runs N] [--duration SECS] [--loadgen PATH]
#                                     [--loadgen-arg ARG]...
#
# --loadgen-arg adds ARG to loadgen's command line (repeatable): e.g.
# `--loadgen-arg --timeline` checks that the per-second timeline keeps
# loadgen within the bar too.
#
# nginx runs with `worker_processes auto` by default (2 workers on this
# 2-core machine): both tools then compete with the server for the same two
# cores, so every cycle the client spends shows up as lost server
# throughput — the stricter test. `--workers 1` leaves a core mostly to the
# client, which hides client cost (both tools then saturate the one worker).
#
# Only the nginx this script starts is stopped, by PID, from a trap.
set -euo pipefail

WORKERS=auto
RUNS=3
DURATION=10
LOADGEN=""
LG_EXTRA=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --workers) WORKERS="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --loadgen) LOADGEN="$2"; shift 2 ;;
        --loadgen-arg) LG_EXTRA+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "calibrate.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NGINX="${NGINX:-/usr/sbin/nginx}"
command -v wrk >/dev/null || { echo "calibrate.sh: wrk is not installed" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "calibrate.sh: /usr/bin/time (GNU time) is needed" >&2; exit 2; }
[[ -x "$NGINX" ]] || { echo "calibrate.sh: no nginx at $NGINX (set NGINX=...)" >&2; exit 2; }

if [[ -z "$LOADGEN" ]]; then
    # The workspace's one release profile, so the tool is measured as benchmarks run it.
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
    (cd "$ROOT" && cargo build --release -q -p loadgen)
    LOADGEN="$CARGO_TARGET_DIR/release/loadgen"
fi

DIR="$(mktemp -d -t loadgen-calibrate.XXXXXX)"
NGINX_PID=""
cleanup() {
    if [[ -n "$NGINX_PID" ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

# free_port, write_static_nginx_conf
. "$(dirname "$0")/../../scripts/lib/static-nginx.sh"
PORT="$(free_port)"

mkdir -p "$DIR/html" "$DIR/tmp"
# mktemp makes the directory private; nginx's workers (nobody, when the
# master runs as root) must be able to read the file.
chmod 755 "$DIR" "$DIR/html"
# 2048 bytes: the size of a small static asset.
head -c 2048 /dev/zero | tr '\0' 'x' > "$DIR/html/static.txt"

write_static_nginx_conf "$DIR" "$PORT" "$WORKERS" "$DIR/html" text/plain

"$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e stderr -g 'daemon off;' &
NGINX_PID=$!
URL="http://127.0.0.1:$PORT/static.txt"
for _ in $(seq 50); do
    curl -fs -o /dev/null "$URL" 2>/dev/null && break
    sleep 0.1
done
curl -fs -o /dev/null "$URL" || { echo "calibrate.sh: nginx did not come up on $PORT" >&2; exit 2; }

WRK_CMD=(wrk -t2 -c64 -d"${DURATION}s" "$URL")
LG_CMD=("$LOADGEN" --mix single -c 64 -t 2 -d "${DURATION}s" -w 0 --quiet ${LG_EXTRA[@]+"${LG_EXTRA[@]}"} "$URL")
echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*: //'), worker_processes $WORKERS, $(nproc) cores, 2048-byte file, $RUNS runs of ${DURATION}s each"
echo "wrk:     ${WRK_CMD[*]}"
echo "loadgen: ${LG_CMD[*]}"

wrk_rps=()
lg_rps=()
wrk_us=()
lg_us=()
TIMES="$DIR/times"
# Client CPU (user + sys) per request, in microseconds: the tool's own cost,
# steadier than req/s when something else shares the machine.
cpu_us() { awk -v r="$2" -v d="$DURATION" '{printf "%.2f", ($1 + $2) * 1e6 / (r * d)}' "$1"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
    # Alternate, so drift (thermal, other load) hits both tools alike.
    r=$(/usr/bin/time -f '%U %S' -o "$TIMES" "${WRK_CMD[@]}" | awk '/^Requests\/sec:/ {print $2}')
    wrk_rps+=("$r")
    wrk_us+=("$(cpu_us "$TIMES" "$r")")
    sleep 1
    l=$(/usr/bin/time -f '%U %S' -o "$TIMES" "${LG_CMD[@]}" | sed -n 's/.* = \([0-9,.]*\) req\/s.*/\1/p' | head -1 | tr -d ,)
    lg_rps+=("$l")
    lg_us+=("$(cpu_us "$TIMES" "$l")")
    printf 'run %d: wrk %10.1f req/s (%s us CPU/req)   loadgen %10.1f req/s (%s us CPU/req)\n' \
        "$i" "$r" "${wrk_us[-1]}" "$l" "${lg_us[-1]}"
    sleep 1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
WRK_MED=$(median "${wrk_rps[@]}")
LG_MED=$(median "${lg_rps[@]}")
RATIO=$(awk -v l="$LG_MED" -v w="$WRK_MED" 'BEGIN {printf "%.3f", l / w}')
printf 'median: wrk %.1f req/s (%s us CPU/req), loadgen %.1f req/s (%s us CPU/req), ratio %s (want >= 0.9)\n' \
    "$WRK_MED" "$(median "${wrk_us[@]}")" "$LG_MED" "$(median "${lg_us[@]}")" "$RATIO"
awk -v r="$RATIO" 'BEGIN {exit !(r >= 0.9)}'
