#!/usr/bin/env bash
# Soak test of one stage: the realistic mix (pages, photos, logins, comment
# writes) at high concurrency for a bounded time, loopback only. Asserts:
#   - no 5xx at all;
#   - every process of the stage grows its resident memory by at most
#     RSS_BOUND_MB (the first measurement is taken after a warm-up, so caches
#     and pools that fill once are not counted as growth);
#   - open file descriptors are back to their warm count after the run
#     (connections idle in nginx's upstream keep-alive pools close after their
#     idle timeouts, 5 s to the instances and 60 s to memcached: the check
#     waits up to FD_SETTLE_S for them before it fails);
#   - stage-1: no zombie and no leftover CGI process.
#
#   scripts/soak.sh STAGE [--seconds 60] [--concurrency 128] [--users 2000]
#   STAGE: stage-1 | stage-2 | stage-2-gil | stage-3 | stage-4
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

STAGE=${1:-}
[ -n "$STAGE" ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
shift
SECONDS_RUN=60
CONC=128
USERS=2000
# Why 64 MiB: a process whose memory grows with requests leaks; one that
# grows by a bounded amount (allocator arenas, SQLite's page cache, tokio's
# buffers) levels off well below this on a 2,000-user data set.
RSS_BOUND_MB=64
# Longest idle timeout of a pooled connection (nginx → memcached, 60 s) plus slack.
FD_SETTLE_S=75
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift ;;
    --concurrency) CONC=$2; shift ;;
    --users) USERS=$2; shift ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh
[ "${FK_NO_BUILD:-0}" = 1 ] || cargo build --release --workspace --bins >&2
BIN=$ROOT/target/release
DATA=$ROOT/data
DB=$DATA/flickrkillr-$USERS.db
[ -f "$DB" ] || "$BIN/seed" --users "$USERS" --out "$DB" --photos-dir "$DATA/photos" >&2
WORK=$(mktemp -d)
cp "$DB" "$WORK/soak.db"

case "$STAGE" in
  stage-1) CMD=("$BIN/stage-1") ;;
  stage-2) CMD=("$BIN/stage-2") ;;
  stage-2-gil) CMD=("$BIN/stage-2" --gil) ;;
  stage-3) CMD=("$BIN/stage-3" --instances 2) ;;
  stage-4) CMD=("$BIN/stage-4" --instances 2) ;;
  *) echo "soak.sh: unknown stage $STAGE" >&2; exit 2 ;;
esac

PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setsid "${CMD[@]}" --db "$WORK/soak.db" --photos "$DATA/photos" --listen 127.0.0.1:0 > "$WORK/stage.log" 2>&1 < /dev/null &
PID=$!
URL=""
for _ in $(seq 600); do
  URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p;T;q' "$WORK/stage.log")
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/stage.log" >&2; echo "soak.sh: $STAGE did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "soak.sh: $STAGE did not say it listens" >&2; exit 1; }

tree() { echo "$1"; local k; for k in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$k"; done; }
# The long-lived processes of the stage (stage-1's short-lived CGI children excluded).
procs() { for p in $(tree "$PID"); do
  c=$(cat "/proc/$p/comm" 2>/dev/null || true)
  [ "$c" = stage-1-cgi ] && continue
  [ -n "$c" ] && echo "$p"
done; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

echo "soak: $STAGE at $URL, realistic mix with writes, -c $CONC, ${SECONDS_RUN}s" >&2
# Warm-up: fills pools, caches and keep-alive connections once.
"$BIN/loadgen" --mix realistic --db "$WORK/soak.db" -c "$CONC" -d 5s -w 0 --quiet "$URL/" > /dev/null
sleep 2
declare -A RSS0 FD0 NAME
for p in $(procs); do RSS0[$p]=$(rss "$p"); FD0[$p]=$(fds "$p"); NAME[$p]=$(cat "/proc/$p/comm"); done

"$BIN/loadgen" --mix realistic --db "$WORK/soak.db" -c "$CONC" -d "${SECONDS_RUN}s" -w 0 \
  --json "$WORK/soak.json" "$URL/" | tee "$WORK/soak.txt"
sleep 3

# Wait for pooled idle connections to close (see FD_SETTLE_S).
settled=0
for ((i = 0; i < FD_SETTLE_S; i++)); do
  over=0
  for p in "${!RSS0[@]}"; do [ "$(fds "$p")" -le "${FD0[$p]}" ] || over=1; done
  [ "$over" = 0 ] && break
  sleep 1; settled=$((i + 1))
done
echo "file descriptors settled after ${settled}s"

fail=0
fivexx=$({ grep -o '"5[0-9][0-9]": *[0-9]*' "$WORK/soak.json" || true; } | awk -F: '{s += $2} END {print s + 0}')
requests=$(sed -n 's/^ *"requests": *\([0-9]*\).*/\1/p;T;q' "$WORK/soak.json")
printf '\n%-8s %-12s %10s %10s %8s %6s %6s\n' pid process rss_start rss_end growth fd0 fd1
for p in "${!RSS0[@]}"; do
  r1=$(rss "$p"); f1=$(fds "$p")
  growth=$(( (r1 - RSS0[$p]) / 1024 ))
  printf '%-8s %-12s %8s kB %8s kB %5s MB %6s %6s\n' "$p" "${NAME[$p]}" "${RSS0[$p]}" "$r1" "$growth" "${FD0[$p]}" "$f1"
  [ "$growth" -le "$RSS_BOUND_MB" ] || { echo "FAIL: ${NAME[$p]} ($p) grew by $growth MB (bound $RSS_BOUND_MB)"; fail=1; }
  [ "$f1" -le "${FD0[$p]}" ] || { echo "FAIL: ${NAME[$p]} ($p) holds $f1 fds, $((f1 - FD0[$p])) more than when warm"; fail=1; }
done
echo "requests: $requests, 5xx: $fivexx"
[ "$fivexx" = 0 ] || { echo "FAIL: $fivexx responses were 5xx"; fail=1; }
if [ "$STAGE" = stage-1 ]; then
  zombies=$(ps -o stat= --ppid "$PID" 2>/dev/null | grep -c '^Z' || true)
  cgi=$(pgrep -c -P "$PID" stage-1-cgi || true)
  echo "stage-1: zombies $zombies, CGI processes left $cgi"
  [ "$zombies" = 0 ] && [ "$cgi" = 0 ] || { echo "FAIL: leftover CGI processes"; fail=1; }
fi
[ "$fail" = 0 ] && echo "soak $STAGE: 1 passed, 0 failed" || echo "soak $STAGE: 0 passed, 1 failed"
exit "$fail"
