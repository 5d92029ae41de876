#!/usr/bin/env bash
# The main job: every stage of the talk, side by side, measured with our
# load generator, ab and wrk on the same machine, into results/.
#
#   scripts/compare.sh [--quick] [--users N] [--duration 10s] [--concurrency 64]
#                      [--warmup 2s] [--rows "stage-1 stage-2 ..."] [--out results] [--no-build]
#
# For each row: start it on a free port, wait for its `listening on` line,
# `loadgen verify` it (a row that fails is reported, not timed), measure with
# each tool, stop it, check that nothing it started is left running.
# Every stage row runs on a fresh copy of the seeded database, so the writes
# of one row (logins, comments) never change what the next one serves.
#
# Writes results/<date>-<host>/raw/ (every tool's raw output, the machine,
# the exact commands), then `report` (crates/report) regenerates results/latest.*
# (table, chart) from those raw files. --quick writes to
# target/compare-quick/ instead (ignored by git), unless --out is given.
# Exits non-zero if any row failed; the last lines say where it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# ---- options ---------------------------------------------------------------
QUICK=0
BUILD=1
USERS=100000
DURATION=10s
WARMUP=2s
CONC=64
OUT=""
ALL_ROWS="ceiling-nginx-static ceiling-hyper-hello stage-1 stage-2 stage-2-gil stage-3-gil stage-3 stage-4 stage-4-noindex stage-2-cpython stage-3-cpython stage-4-cpython calibration"
ROWS=""
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --users) USERS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --concurrency|-c) CONC=$2; shift ;;
    --rows) ROWS=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  # Small data set, short runs: the whole table in a few minutes (CI runs this).
  [ "$USERS" = 100000 ] && USERS=2000
  [ "$DURATION" = 10s ] && DURATION=3s
  [ "$WARMUP" = 2s ] && WARMUP=1s
  # A quick run never replaces the results of a full one (results/ holds
  # the committed run): it goes where git ignores it, unless --out says.
  OUT=${OUT:-target/compare-quick}
fi
OUT=${OUT:-results}
ROWS=${ROWS:-$ALL_ROWS}
secs() { case "$1" in *ms) echo 1 ;; *m) echo $(( ${1%m} * 60 )) ;; *s) echo "${1%s}" ;; *) echo "$1" ;; esac; }
DUR_S=$(secs "$DURATION")

OUT=$(realpath -m "$OUT")   # nginx resolves paths against its prefix: use absolute ones
HOST=$(hostname -s 2>/dev/null || hostname)
RUN="$OUT/$(date -u +%Y-%m-%dT%H%M%SZ)-$HOST"
RAW="$RUN/raw"
TMP="$RUN/tmp"
mkdir -p "$RAW" "$TMP"
: > "$RAW/commands.txt"
printf 'row\tstage\tdescription\ttalk_rps\tstatus\treason\n' > "$RAW/rows.tsv"
FAILED=0

log() { printf '[compare] %s\n' "$*" >&2; }
# Runs a command, recording it in commands.txt.
run() { printf '%s\n' "$*" >> "$RAW/commands.txt"; "$@"; }

# ---- cleanup: nothing we started outlives the script -------------------------
STARTED=()   # pids of process groups we started (each via setsid)
stop_group() {
  local pid=$1 grace=${2:-20} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do
    kill -0 "$pid" 2>/dev/null && { kill -TERM -- "-$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; } || true
  done
  sleep 0.5
  for pid in "${STARTED[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# All descendants of a pid (to check none is left after a stop).
descendants() {
  local kids k
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

# ---- 1. tools, build, data ----------------------------------------------------
log "system packages"
scripts/setup.sh
log "release build (one profile for every stage and tool)"
if [ "$BUILD" = 1 ]; then
  run cargo build --release --workspace --bins
  run cargo build --release -p appserver --example hello
fi
BIN=$ROOT/target/release
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

DATA=$ROOT/data
DB=$DATA/flickrkillr-$USERS.db
NOINDEX_DB=$DATA/flickrkillr-$USERS-noindex.db
seed_db() { # path, extra args; reuses a database built with the same parameters
  local db=$1; shift
  local want
  want="users=$USERS photos=10..20 comments=0.2 pool=64 rng_seed=2007 index=$([ "${1:-}" = --no-index ] && echo 0 || echo 1) iterations=64"
  if [ -f "$db" ] && [ "$(sqlite3 "$db" "SELECT value FROM meta WHERE key='params'" 2>/dev/null)" = "$want" ]; then
    log "reusing $db"
  else
    log "seeding $db"
    run "$BIN/seed" --users "$USERS" --out "$db" --photos-dir "$DATA/photos" --force "$@" | tee -a "$RAW/seed.txt"
  fi
}
mkdir -p "$DATA"
seed_db "$DB"
seed_db "$NOINDEX_DB" --no-index

# ---- 2. the record of what ran where -----------------------------------------
ver() { "$@" 2>&1 | head -n 1 || true; }
{
  echo "host: $HOST"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "kernel: $(uname -r)"
  echo "rustc: $(ver rustc --version)"
  echo "nginx: $(ver "$NGINX" -v)"
  echo "memcached: $(ver memcached -V)"
  echo "wrk: $(wrk -v 2>&1 | head -n 1 | cut -c1-60)"
  echo "ab: $(ab -V 2>&1 | head -n 1)"
  echo "lighttpd: $(ver lighttpd -v)"
  echo "loadgen: $(ver "$BIN/loadgen" --version)"
  echo "build profile: release ($(grep -A3 '^\[profile.release\]' Cargo.toml | tr '\n' ' '))"
} > "$RAW/machine.txt"
{
  echo "users: $USERS"
  echo "duration: $DURATION"
  echo "warmup: $WARMUP"
  echo "concurrency: $CONC"
  echo "quick: $([ "$QUICK" = 1 ] && echo yes || echo no)"
  echo "single URL: /user/user42"
  echo "database: $DB"
} > "$RAW/params.txt"
{
  echo "-- user page query, with the index ($DB)"
  sqlite3 "$DB" "EXPLAIN QUERY PLAN SELECT id, title, taken_at, file FROM photos WHERE user_id = 42 ORDER BY id DESC LIMIT 21 OFFSET 0"
  echo "-- the same, without the index ($NOINDEX_DB)"
  sqlite3 "$NOINDEX_DB" "EXPLAIN QUERY PLAN SELECT id, title, taken_at, file FROM photos WHERE user_id = 42 ORDER BY id DESC LIMIT 21 OFFSET 0"
} > "$RAW/explain.txt"

# ---- 3. starting and stopping a row ---------------------------------------------
PID=""; URL=""
start() { # row log cmd...
  local row=$1 logf=$2; shift 2
  printf '%s\n' "$*" >> "$RAW/commands.txt"
: > "$logf"
  setsid "$@" > "$logf" 2>&1 < /dev/null &
  PID=$!
  STARTED+=("$PID")
  local i
  for ((i = 0; i < 600; i++)); do
    URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$logf" | head -n 1)
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || { URL=""; return 1; }
    sleep 0.1
  done
  return 1
}
stop() { # stops PID and every process it started; returns 1 if any is left
  local left kids
  kids=$(descendants "$PID")
  stop_group "$PID" 20
  sleep 0.3
  left=""
  for k in $kids; do kill -0 "$k" 2>/dev/null && left="$left $k"; done
  if [ -n "$left" ]; then
    kill -KILL $left 2>/dev/null || true
    return 1
  fi
  return 0
}

# free_port, write_static_nginx_conf
. "$ROOT/scripts/lib/static-nginx.sh"
NGINX_DIR=$TMP/nginx-static

# ---- 4. the rows -----------------------------------------------------------------
USER_PATH=/user/user42
# The cpython rows' interpreter factor, from its one definition (app::CPYTHON_FACTOR).
PYF=$(sed -n 's/^pub const CPYTHON_FACTOR: u32 = \([0-9]*\);.*/\1/p' crates/app/src/gil.rs | head -n 1)
CPYTHON="--gil --python-factor ${PYF:?CPYTHON_FACTOR not found in crates/app/src/gil.rs} --threads 1"
# The user page as stage-2 renders it: the static ceilings serve the same bytes.
log "capturing the user page for the static ceilings"
cp "$DB" "$TMP/page.db"
if start page "$TMP/page.log" "$BIN/stage-2" --db "$TMP/page.db" --photos "$DATA/photos" --listen 127.0.0.1:0; then
  curl -s "$URL$USER_PATH" -o "$TMP/page.html"
  stop || true
fi
PAGE_BYTES=$(stat -c %s "$TMP/page.html" 2>/dev/null || echo 5000)
head -c 2048 /dev/urandom | base64 -w 0 | head -c 2048 > "$TMP/static2k.html"

row_line() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RAW/rows.tsv"; }

measure() { # row url db(or -) realistic(yes/no)
  local row=$1 url=$2 db=$3 realistic=$4
  if [ "$realistic" = yes ]; then
    log "$row: loadgen realistic"
    run "$BIN/loadgen" --mix realistic --db "$db" -c "$CONC" -d "$DURATION" -w "$WARMUP" --quiet \
      --json "$RAW/$row.loadgen-realistic.json" "$url/" > "$RAW/$row.loadgen-realistic.txt" 2>&1 || true
  fi
  log "$row: loadgen single"
  run "$BIN/loadgen" --mix single -c "$CONC" -d "$DURATION" -w "$WARMUP" --quiet \
    --json "$RAW/$row.loadgen-single.json" "$url$USER_PATH" > "$RAW/$row.loadgen-single.txt" 2>&1 || true
  log "$row: ab -k"
  run ab -k -q -r -s 30 -c "$CONC" -t "$DUR_S" -n 100000000 "$url$USER_PATH" > "$RAW/$row.ab-k.txt" 2>&1 || true
  log "$row: ab (a connection per request)"
  run ab -q -r -s 30 -c "$CONC" -t "$DUR_S" -n 100000000 "$url$USER_PATH" > "$RAW/$row.ab.txt" 2>&1 || true
  log "$row: wrk"
  run wrk -t2 -c "$CONC" -d "$DURATION" --latency "$url$USER_PATH" > "$RAW/$row.wrk.txt" 2>&1 || true
}

stage_row() { # row stage description talk db cmd...
  local row=$1 stage=$2 desc=$3 talk=$4 db=$5; shift 5
  local copy="$TMP/$row.db"
  cp "$db" "$copy"
  local cmd=() a
  for a in "$@"; do cmd+=("${a//@DB@/$copy}"); done
  log "== $row: $desc"
  if ! start "$row" "$RAW/$row.log" "${cmd[@]}" --photos "$DATA/photos" --listen 127.0.0.1:0; then
    row_line "$row" "$stage" "$desc" "$talk" failed "did not start: $(tail -n 2 "$RAW/$row.log" | tr '\t\n' '  ')"
    FAILED=1; stop || true; return
  fi
  # stage-4's documented exemption (crates/stage-4/src/nginx.rs, HALF_CLOSE):
  # nginx's memcached module abandons half-closed clients.
  local skip=()
  [ "$stage" = 4 ] && skip=(--skip half-close)
  if ! run "$BIN/loadgen" verify "${skip[@]}" --db "$copy" --photos-dir "$DATA/photos" "$URL" > "$RAW/$row.verify.txt" 2>&1; then
    row_line "$row" "$stage" "$desc" "$talk" failed "verification failed: $(grep -m1 -i 'fail' "$RAW/$row.verify.txt" | tr '\t' ' ')"
    FAILED=1; stop || true; return
  fi
  measure "$row" "$URL" "$copy" yes
  if stop; then
    row_line "$row" "$stage" "$desc" "$talk" ok ""
  else
    row_line "$row" "$stage" "$desc" "$talk" failed "processes left running after stop (killed)"
    FAILED=1
  fi
  rm -f "$copy" "$copy-wal" "$copy-shm"
}

static_nginx_url=""
ensure_static_nginx() {
  [ -n "$static_nginx_url" ] && return 0
  mkdir -p "$NGINX_DIR/www/user"
  cp "$TMP/page.html" "$NGINX_DIR/www/user/user42"
  cp "$TMP/static2k.html" "$NGINX_DIR/www/static2k.html"
  local port workers
  port=$(free_port)
  # The same worker count as stage-3/4's nginx (crates/cluster/src/nginx.rs).
  workers=$(sed -n 's/^pub const DEFAULT_WORKERS: [a-z]* = \([0-9]*\);.*/\1/p' crates/cluster/src/nginx.rs | head -n 1)
  # The static-file ceiling: nginx serving a copy of the user page (and a
  # 2 KB file for the load generator's calibration), nothing else.
  write_static_nginx_conf "$NGINX_DIR" "$port" "${workers:-1}" "$NGINX_DIR/www" "text/html; charset=utf-8"
  printf '%s\n' "$NGINX -p $NGINX_DIR -c $NGINX_DIR/nginx.conf -e stderr -g 'daemon off;'" >> "$RAW/commands.txt"
  setsid "$NGINX" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e stderr -g 'daemon off;' > "$RAW/nginx-static.log" 2>&1 < /dev/null &
  NGINX_PID=$!
  STARTED+=("$NGINX_PID")
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$port/static2k.html" && { static_nginx_url="http://127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  return 1
}

for row in $ROWS; do
  case "$row" in
    ceiling-nginx-static)
      if ensure_static_nginx; then
        log "== $row"
        measure "$row" "$static_nginx_url" - no
        row_line "$row" - "nginx serving a static copy of the user page ($PAGE_BYTES bytes)" - ok ""
      else
        row_line "$row" - "nginx serving a static copy of the user page" - failed "nginx did not start: $(tail -n 2 "$RAW/nginx-static.log" | tr '\t\n' '  ')"; FAILED=1
      fi ;;
    ceiling-hyper-hello)
      if start "$row" "$RAW/$row.log" "$BIN/examples/hello" --listen 127.0.0.1:0 --bytes "$PAGE_BYTES"; then
        log "== $row"
        measure "$row" "$URL" - no
        if stop; then row_line "$row" - "bare hyper answering $PAGE_BYTES bytes (2 threads)" - ok ""
        else row_line "$row" - "bare hyper" - failed "processes left running"; FAILED=1; fi
      else
        row_line "$row" - "bare hyper" - failed "did not start"; FAILED=1
      fi ;;
    stage-1) stage_row "$row" 1 "CGI: a process per request" 23 "$DB" "$BIN/stage-1" --db @DB@ ;;
    stage-2) stage_row "$row" 2 "app server, 2 threads, no GIL" 139 "$DB" "$BIN/stage-2" --db @DB@ ;;
    stage-2-gil) stage_row "$row" 2 "app server, 2 threads, --gil (CPython's limit)" 139 "$DB" "$BIN/stage-2" --db @DB@ --gil ;;
    stage-3-gil) stage_row "$row" 3 "nginx + 2 instances, --gil" 217 "$DB" "$BIN/stage-3" --instances 2 --db @DB@ --gil ;;
    stage-3) stage_row "$row" 3 "nginx + 2 instances, no GIL" 217 "$DB" "$BIN/stage-3" --instances 2 --db @DB@ ;;
    stage-4) stage_row "$row" 4 "nginx + memcached + 2 instances" "616 (homegrown) / 1750 (ab)" "$DB" "$BIN/stage-4" --instances 2 --db @DB@ ;;
    stage-4-noindex) stage_row "$row" 4 "stage-4 on the database without the index" "28" "$NOINDEX_DB" "$BIN/stage-4" --instances 2 --db @DB@ ;;
    # The cpython series: the same stages with the GIL *and* the interpreter's
    # weight (work under the lock costs CPYTHON_FACTOR times its Rust CPU
    # time, crates/app/src/gil.rs), one thread per process (threads do not
    # add CPU under a GIL). The talk's situation, where the Python work
    # dwarfs nginx, memcached and the load generator.
    stage-2-cpython) stage_row "$row" 2 "app server, --gil --python-factor $PYF, 1 thread" 139 "$DB" "$BIN/stage-2" --db @DB@ $CPYTHON ;;
    stage-3-cpython) stage_row "$row" 3 "nginx + 2 instances, --gil --python-factor $PYF, 1 thread each" 217 "$DB" "$BIN/stage-3" --instances 2 --db @DB@ $CPYTHON ;;
    stage-4-cpython) stage_row "$row" 4 "nginx + memcached + 2 instances, --gil --python-factor $PYF, 1 thread each" "616 (homegrown) / 1750 (ab)" "$DB" "$BIN/stage-4" --instances 2 --db @DB@ $CPYTHON ;;
    calibration)
      # loadgen's own cost: against nginx serving 2 KB, alternating with wrk;
      # the median pair is kept (quick: one pair).
      if ensure_static_nginx; then
        log "== calibration: loadgen vs wrk on nginx, 2 KB"
        pairs=3; [ "$QUICK" = 1 ] && pairs=1
        mkdir -p "$RAW/calibration-runs"
        for ((p = 1; p <= pairs; p++)); do
          run wrk -t2 -c "$CONC" -d "$DURATION" --latency "$static_nginx_url/static2k.html" > "$RAW/calibration-runs/$p.wrk.txt" 2>&1 || true
          run "$BIN/loadgen" --mix single -c "$CONC" -t 2 -d "$DURATION" -w 0 --quiet \
            --json "$RAW/calibration-runs/$p.loadgen-single.json" "$static_nginx_url/static2k.html" > /dev/null 2>&1 || true
        done
        # Median by wrk's req/s and by loadgen's req/s, each on its own.
        med_wrk=$(for ((p = 1; p <= pairs; p++)); do echo "$(sed -n 's/^Requests\/sec: *//p' "$RAW/calibration-runs/$p.wrk.txt") $p"; done | sort -n | sed -n "$(( (pairs + 1) / 2 ))p" | cut -d' ' -f2)
        med_lg=$(for ((p = 1; p <= pairs; p++)); do echo "$(sed -n 's/.*"rps": *\([0-9.]*\).*/\1/p' "$RAW/calibration-runs/$p.loadgen-single.json" | head -n 1) $p"; done | sort -n | sed -n "$(( (pairs + 1) / 2 ))p" | cut -d' ' -f2)
        cp "$RAW/calibration-runs/${med_wrk:-1}.wrk.txt" "$RAW/calibration.wrk.txt"
        cp "$RAW/calibration-runs/${med_lg:-1}.loadgen-single.json" "$RAW/calibration.loadgen-single.json"
        row_line calibration - "loadgen vs wrk, nginx serving 2 KB, -c $CONC (median of $pairs alternating runs)" - ok ""
      else
        row_line calibration - "loadgen vs wrk" - failed "nginx did not start"; FAILED=1
      fi ;;
    *) log "unknown row $row (known: $ALL_ROWS)"; FAILED=1 ;;
  esac
done
if [ -n "${NGINX_PID:-}" ]; then stop_group "$NGINX_PID" 10; fi

# ---- 5. the report -------------------------------------------------------------------
rm -rf "$TMP"
log "report"
run "$BIN/report" "$RAW" --out "$OUT"
log "done: $( [ "$FAILED" = 0 ] && echo 'every row ok' || echo 'SOME ROWS FAILED (see the verify column and the reasons in the table)')"
log "table:  $OUT/latest.md (also latest.csv, latest.svg, latest-phases.svg)"
log "raw:    $RAW (every tool's output, machine.txt, commands.txt)"
exit "$FAILED"
