#!/usr/bin/env bash
# scripts/instructions.sh — instructions per request, a figure that holds still.
#
# Wall-clock req/s on this shared 2-core machine moves 2× with the load of
# others; the number of instructions a request executes does not. This runs
# the release stage-2 binary under callgrind on a freshly seeded site, and for
# each request kind: a warm-up, `callgrind_control --zero`, N requests on one
# keep-alive connection (ab -k -c 1, outside valgrind), `callgrind_control
# --dump`, and prints the dump's total Ir / N. Everything the server process
# executes in user space is counted: hyper, tokio (its workers' wake-ups
# included), the handler, SQLite, malloc. The kernel is not (valgrind cannot
# see it). The bare-hyper ceiling (appserver's `hello` example answering the
# same 5,349 bytes) is measured the same way as the first row.
#
#   scripts/instructions.sh                 # N=300 requests per kind
#   N=1000 USERS=5000 scripts/instructions.sh
#   BIN=/path/to/target/release scripts/instructions.sh   # another build
#
# Output: a markdown table, kind | status | Ir/request.
set -euo pipefail

N=${N:-300}
WARM=${WARM:-30}
USERS=${USERS:-2000}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}

for tool in valgrind callgrind_control ab curl sqlite3; do
  command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is required" >&2; exit 1; }
done
if [[ -z ${NO_BUILD:-} ]]; then
  (cd "$ROOT" && cargo build --release -q -p stage-2 -p seed -p appserver --bins)
fi

TMP=$(mktemp -d)
PID=
cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN/seed" --users "$USERS" --out "$TMP/site.db" >/dev/null 2>&1
DB=$TMP/site.db
PHOTOS=$TMP/photos

# start NAME CMD...: runs CMD under callgrind, waits for `listening on`.
start() {
  local name=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.cg" \
    "$@" --listen 127.0.0.1:0 >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  for _ in $(seq 600); do
    ADDR=$(sed -n 's|^listening on http://||p' "$TMP/$name.out" | head -n1)
    [[ -n $ADDR ]] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "instructions.sh: $name did not start" >&2; cat "$TMP/$name.err" >&2; exit 1
}

stop() {
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

# measure KIND PATH [ab options...]: prints one table row.
DUMPS=0
measure() {
  local kind=$1 path=$2; shift 2
  local url="http://$ADDR$path" status
  status=$(curl -s -o /dev/null -w '%{http_code}' "${CURL_OPTS[@]}" "$url")
  ab -q -k -c 1 -n "$WARM" "$@" "$url" >/dev/null 2>&1
  callgrind_control -z "$PID" >/dev/null 2>&1
  ab -q -k -c 1 -n "$N" "$@" "$url" >"$TMP/ab.out" 2>&1
  grep -q "^Failed requests: *0" "$TMP/ab.out" || { echo "ab failed for $kind" >&2; cat "$TMP/ab.out" >&2; exit 1; }
  callgrind_control -d "$PID" >/dev/null 2>&1
  DUMPS=$((DUMPS + 1))
  local file
  file=$(ls -t "$TMP"/"$CURRENT".cg.* | head -n1)
  local ir
  ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$file" | head -n1)
  [[ -n $ir ]] || ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$file" | head -n1)
  printf '| %-20s | %3s | %12d |\n' "$kind" "$status" $((ir / N))
}

echo "instructions per request: N=$N per kind after $WARM warm-up, $USERS users, $THREADS threads"
echo
echo "| kind                 | st. |     Ir/req   |"
echo "|----------------------|-----|--------------|"

CURRENT=hello
CURL_OPTS=()
start hello "$BIN/hyper-hello" --bytes 5349
measure "ceiling-hyper-hello" /
stop

CURRENT=stage2
start stage2 "$BIN/stage-2" --db "$DB" --photos "$PHOTOS" --threads "$THREADS"
FILE=$(sqlite3 "$DB" "SELECT file FROM photos WHERE id = 1")
printf 'username=user42&password=pw-user42' >"$TMP/login.form"
printf 'body=Nice+light%%2C+great+shot.' >"$TMP/comment.form"
SID=$(curl -s -o /dev/null -D - --data-binary @"$TMP/login.form" "http://$ADDR/login" |
  sed -n 's/^[Ss]et-[Cc]ookie: sid=\([^;]*\).*/\1/p' | tr -d '\r')
[[ -n $SID ]] || { echo "instructions.sh: login failed" >&2; exit 1; }
FORM=(-T application/x-www-form-urlencoded)

measure "user page" /user/user42
measure "photo page" /photo/1
measure "home page" /
measure "photo file" "/static/photos/$FILE"
CURL_OPTS=(-H "Cookie: sid=$SID")
measure "user page, logged in" /user/user42 -C "sid=$SID"
CURL_OPTS=(--data-binary @"$TMP/login.form" -H "Content-Type: application/x-www-form-urlencoded")
measure "login" /login -p "$TMP/login.form" "${FORM[@]}"
CURL_OPTS=(--data-binary @"$TMP/comment.form" -H "Content-Type: application/x-www-form-urlencoded" -H "Cookie: sid=$SID")
measure "comment" /photo/2/comments -p "$TMP/comment.form" "${FORM[@]}" -C "sid=$SID"
stop
