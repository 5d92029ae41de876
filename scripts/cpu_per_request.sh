#!/usr/bin/env bash
# scripts/cpu_per_request.sh — server CPU per request under wrk, repeated.
#
# Starts a server (stage-2 by default, or the bare-hyper ceiling with
# SERVER=hello), then REPS times: wrk for DURATION on PATH (loopback,
# compare.sh's -t2 -c64), and the server's utime+stime from /proc/PID/stat
# before and after. Prints µs of server CPU per request for each run: the
# figure compare.sh's cpuwatch reports as the `app` role, without the rest.
# Wall-clock, so it moves with the machine's load; instructions.sh is the
# figure that holds still.
#
#   scripts/cpu_per_request.sh                      # stage-2, /user/user42, 5 × 5 s
#   SERVER=hello scripts/cpu_per_request.sh
#   REPS=3 DURATION=5s URL_PATH=/ scripts/cpu_per_request.sh
set -euo pipefail

REPS=${REPS:-5}
DURATION=${DURATION:-5s}
CONC=${CONC:-64}
URL_PATH=${URL_PATH:-/user/user42}
USERS=${USERS:-2000}
SERVER=${SERVER:-stage-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
HZ=$(getconf CLK_TCK)

TMP=$(mktemp -d)
PID=
cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

if [[ $SERVER == hello ]]; then
  "$BIN/hyper-hello" --listen 127.0.0.1:0 --bytes 5349 >"$TMP/out" 2>"$TMP/err" &
else
  "$BIN/seed" --users "$USERS" --out "$TMP/site.db" >/dev/null 2>&1
  "$BIN/stage-2" --db "$TMP/site.db" --photos "$TMP/photos" --listen 127.0.0.1:0 \
    ${THREADS:+--threads "$THREADS"} >"$TMP/out" 2>"$TMP/err" &
fi
PID=$!
ADDR=
for _ in $(seq 300); do
  ADDR=$(sed -n 's|^listening on http://||p' "$TMP/out" | head -n1)
  [[ -n $ADDR ]] && break
  sleep 0.1
done
[[ -n $ADDR ]] || { echo "server did not start" >&2; cat "$TMP/err" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# Context switches of all the server's threads (wake-ups: each voluntary one
# is a thread that went to sleep and had to be woken again).
switches() { cat /proc/"$PID"/task/*/status | awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ { n += $2 } END { print n }'; }
wrk -t2 -c "$CONC" -d 1s "http://$ADDR$URL_PATH" >/dev/null 2>&1 # warm-up
echo "$SERVER $URL_PATH: wrk -t2 -c $CONC -d $DURATION, $REPS runs (CLK_TCK $HZ)"
for i in $(seq "$REPS"); do
  before=$(ticks) sw_before=$(switches)
  wrk -t2 -c "$CONC" -d "$DURATION" "http://$ADDR$URL_PATH" >"$TMP/wrk" 2>&1
  after=$(ticks) sw_after=$(switches)
  reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$TMP/wrk")
  rps=$(sed -n 's/^Requests\/sec: *//p' "$TMP/wrk")
  awk -v t=$((after - before)) -v hz="$HZ" -v n="$reqs" -v rps="$rps" -v i="$i" \
    -v sw=$((sw_after - sw_before)) \
    'BEGIN { printf "run %d: %d requests, %s req/s, server CPU %.2f s, %.1f µs/request, %.3f context switches/request\n", i, n, rps, t / hz, 1e6 * t / hz / n, sw / n }'
done
