#!/usr/bin/env bash
# Is stage-2's cost per request set when its process starts, or does it
# move from window to window? (Issue 19: stage-2's req/s spans ~50% within
# one main-job run, and "its cost per request looks bimodal".)
#
#   results/experiments/stage-2-restarts/run.sh [--windows 8]
#   results/experiments/stage-2-restarts/run.sh --summarize run-*.tsv
#
# The main job's window (loadgen, realistic mix, 64 connections, 3 s after
# 1 s of warm-up, inside cpuwatch), on the 100,000-user data set, two ways,
# alternating in blocks:
#   same    N windows on one stage-2 process, started once;
#   fresh   N windows, each on a stage-2 process started for it (a fresh
#           copy of the database each time, as compare.sh does).
# If the spread of `fresh` is much wider than that of `same`, the cost is
# decided at start (thread placement, memory layout, the pool's warm-up);
# if both spread alike, it moves within a running process.
# Prints one line per window (req/s, server µs of CPU per request) and
# writes nothing into the clone. Needs target/release and
# data/flickrkillr-100000.db (scripts/compare.sh makes both).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
# --summarize FILE.tsv...: per file and way, req/s and µs/request as
# median (min–max) (the README's table).
if [ "${1:-}" = --summarize ]; then
  shift
  printf '| file | way | windows | req/s | server µs/request |\n|---|---|--:|--:|--:|\n'
  for f in "$@"; do
    for way in same fresh; do
      awk -F'\t' -v w="$way" -v f="$(basename "$f" .tsv)" '$1 == w { r[++n] = $3; u[n] = $4 }
        function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
          return sprintf("%s (%s–%s)", a[int((n + 1) / 2)], a[1], a[n]) }
        END { printf "| %s | %s | %d | %s | %s |\n", f, w, n, med(r, n), med(u, n) }' "$f"
    done
  done
  exit 0
fi
case "${1:-}" in --windows) N=$2 ;; *) N=8 ;; esac
BIN=$ROOT/target/release DB=$ROOT/data/flickrkillr-100000.db
ls "$BIN/stage-2" "$BIN/loadgen" "$BIN/cpuwatch" "$DB" > /dev/null \
  || { echo "run.sh: build and seed first (scripts/compare.sh makes both)" >&2; exit 2; }
. "$ROOT/scripts/lib/wait-url.sh"
TMP=$(mktemp -d)
PID=""
stop() { [ -z "$PID" ] || { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; PID=""; }; }
trap 'stop; rm -rf "$TMP"' EXIT
start() {
  cp "$DB" "$TMP/db.db"; rm -f "$TMP/db.db-wal" "$TMP/db.db-shm"
  "$BIN/stage-2" --db "$TMP/db.db" --photos "$ROOT/data/photos" --listen 127.0.0.1:0 > "$TMP/log" 2>&1 &
  PID=$!
  wait_url "$TMP/log" || { echo "run.sh: stage-2 did not start: $(cat "$TMP/log")" >&2; exit 1; }
}
window() { # way k
  "$BIN/cpuwatch" --tree "$PID" --delay 1s --json "$TMP/cpu.json" -- \
    "$BIN/loadgen" --mix realistic --db "$TMP/db.db" -c 64 -d 3s -w 1s --quiet --json "$TMP/lg.json" "$URL/" > /dev/null 2>&1
  python3 - "$1" "$2" "$TMP/lg.json" "$TMP/cpu.json" <<'PY'
import json, sys
way, k, lg, cpu = sys.argv[1:]
l = json.load(open(lg)); c = json.load(open(cpu))
server = sum(v for r, v in c["roles"].items() if r != "load")
req = l["rps"] * c["window_s"]
print(f"{way}\t{k}\t{l['rps']:.0f}\t{server / req * 1e6:.1f}")
PY
}
printf 'way\twindow\treq/s\tserver µs/request\n'
start
for ((k = 1; k <= N; k++)); do window same "$k"; done
stop
for ((k = 1; k <= N; k++)); do start; window fresh "$k"; stop; done
