#!/usr/bin/env bash
# The main job: every stage of the talk, in Rust and in the talk's own
# CPython, side by side, measured with our load generator, ab and wrk on the
# same machine, into results/.
#
#   scripts/compare.sh [--quick] [--full] [--users N] [--duration 3s] [--warmup 1s]
#                      [--concurrency 64] [--rows "stage-1 stage-2 ..."]
#                      [--tools "loadgen-realistic wrk ..."] [--no-rates]
#                      [--out results] [--no-build] [--list] [--repeat N]
#                      [--server-cpus LIST --load-cpus LIST | --shared-cpus]
#                      [--load-netns] [--profile | --no-profile] [--profile-reps]
#                      [--made-by TEXT]
#
# For each row: start it on a free port, wait for its `listening on` line,
# `loadgen verify` it (a row that fails is reported, not timed), measure it
# with each tool — every tool run inside `cpuwatch`, which records the CPU
# every process of the row spent in exactly the measured window — then,
# for the stage-N and python-N rows, latency at fixed offered rates (`loadgen --rate`,
# stopping at the first rate the row cannot sustain), stop it, and check
# that nothing it started is left running. Every row runs on a fresh copy of
# the seeded database, so the writes of one row never change what the next
# one serves.
#
# Writes results/<date>-<host>/raw/ (every tool's raw output, the CPU of
# every process, the machine, the exact commands, what each part took),
# then `report` (crates/report) regenerates results/latest.* from those raw
# files. --quick (a small data set, short runs: CI runs it) writes to
# target/compare-quick/ instead (ignored by git), unless --out is given.
#
# --repeat N (default 3; --quick: 1) measures the rows N times, interleaved:
# every row once (the whole run above), then every row again, and again, so
# a slow drift of the machine hits every row alike; never one row N times
# in a row. Repetitions
# 2..N measure the figures the report compares across repetitions (the
# realistic mix and wrk's hot page, no rate sweeps, no faults, no
# calibration) into raw/rep-K/; the report gives each figure's median and
# range, each ratio per repetition, and marks the noisy repetitions.
#
# What the main job measures where (the row table's last column): the
# realistic mix on every row in every repetition; the tool comparison (ab,
# ab -k, loadgen single, wrk) on the rows tagged `tools`, wrk's hot page in
# every repetition on the rows tagged `hot`, the rate sweep on the rows
# tagged `rates`. That keeps the README's first command within 15 minutes
# on a fresh clone (build included) with three repetitions. --full (and
# any run given --rows, as the lessons are) measures every asked tool on
# every row and sweeps every stage-N and python-N row (the main job before
# the budget: 24 min here with 5 s windows, without the build).
#
# The cores layout: on a machine with 4 or more CPUs the server (every
# process of a row) runs on two of them, the talk's dual-core machine, and
# the load tools on the others; on 2 or 3 CPUs both share every CPU (the
# "shared" layout, which the tables then name). --server-cpus/--load-cpus
# choose the lists (`0,1`, `2-3`), --shared-cpus forces the shared layout.
# Processes are pinned with taskset (the mask is inherited by every child:
# nginx's workers, memcached, the instances, CGI programs, CPython).
#
# --load-netns (root): the load tools on a "load host" of their own, a
# network namespace joined to the server's namespace by a veth pair
# (server 10.200.0.1, load 10.200.0.2; both namespaces made by this run and
# removed at its end, never another address), so no load tool shares the
# server's loopback; with --server-cpus/--load-cpus on a machine with
# enough cores, this is the measured "load tool elsewhere".
# --profile (on in the main job, off with --quick; --no-profile turns it
# off): where the time goes, down to the function. Every row measured
# with the realistic mix gets, in the first repetition, one more realistic
# window of the same length under `perf record` (every process of the row):
# raw/<row>.folded (stacks by role), <row>-flame.svg next to latest.md,
# the top frames per role and the profiler's cost on req/s in latest.md
# (see profile_window). Needs perf (linux-perf); where the kernel forbids
# perf_event, the run says so and goes on without flame graphs.
# --profile-reps: the profiled window in every repetition, not only the
# first, so that the profiler's cost on req/s is measured as often as
# there are repetitions (latest.md gives its median and range).
# Exits non-zero if any row failed; the last lines say where it wrote.
# FK_PREBUILT=1 in the environment means --no-build (the container image
# sets it: it has the release binaries and no cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T0=$(date +%s)

# ---- the rows, in the order of the table ------------------------------------
# id | stage | what it is | the talk's req/s (for the python rows too:
# the talk measured Python) | in the default run | what the main job
# measures on it beyond the realistic mix (see "What the main job
# measures where" below):
#   tools  repetition 1: every tool (loadgen single, ab -k, ab, wrk), the
#          talk's tool comparison (616 homegrown against 1750 with ab);
#   hot    every repetition: wrk's hot page (a ratio the lessons read);
#   rates  repetition 1: latency at fixed offered rates ("how fast is
#          fast enough": the rows of that lesson).
#
# The stage-N-slow50 rows run the Rust stages with the emulated interpreter
# (`--gil --python-factor 50`, app::CPYTHON_FACTOR): an emulation of
# CPython's weight, kept out of the default run since the real CPython rows
# exist (the README says how far apart they are); `--rows` runs them.
ROW_TABLE=$(cat <<'ROWS'
ceiling-nginx-static|-|nginx serving a static copy of the user page||yes|tools hot
ceiling-hyper-hello|-|bare hyper answering as many bytes (2 threads)||yes|tools hot
stage-1|1|CGI: a process per request|23|yes|rates
stage-2|2|app server, 2 threads, no GIL|139|yes|
stage-2-gil|2|app server, 2 threads, --gil (CPython's limit)|139|yes|
stage-3-gil|3|nginx + 2 instances, --gil|217|yes|
stage-3|3|nginx + 2 instances, no GIL|217|yes|
stage-4|4|nginx + memcached + 2 instances|616 (homegrown) / 1750 (ab)|yes|tools hot rates
stage-4-warm|4|stage-4 after a warm-up long enough for its hit ratio to settle (realistic mix only)|616 (homegrown) / 1750 (ab)|yes|
stage-4-noindex|4|stage-4 on the database without the index|28|yes|
stage-4-miss|4|stage-4 with every nginx lookup missing (--lookup-prefix: the app writes as usual), what a miss costs (realistic mix only)||yes|
python-1|1|CPython: fk_cgi.py, a fresh interpreter per request, under stage-1's CGI host|23|yes|
python-2|2|CPython: one CherryPy process, 2 threads (fk_serve.py)|139|yes|rates
python-3|3|CPython: nginx + 2 CherryPy instances (stage-3 --app python)|217|yes|
python-4|4|CPython: nginx + memcached + 2 CherryPy instances (stage-4 --app python)|616 (homegrown) / 1750 (ab)|yes|tools hot
python-4-noindex|4|CPython: python-4 on the database without the index|28|yes|
python-4-miss|4|CPython: python-4 with every nginx lookup missing, what a miss costs (realistic mix only)||yes|
stage-2-slow50|2|app server, --gil --python-factor 50, 1 thread (the emulated interpreter)|139|no|
stage-3-slow50|3|nginx + 2 instances, --gil --python-factor 50, 1 thread each|217|no|
stage-4-slow50|4|nginx + memcached + 2 instances, --gil --python-factor 50, 1 thread each|616 (homegrown) / 1750 (ab)|no|
stage-4-threads4|4|stage-4 with 4 worker threads per instance instead of 2 (do memcached round trips stall the workers?)|616 (homegrown) / 1750 (ab)|no|
fault-stage-3-kill|-|timeline: stage-3 under load, an instance killed at t = 5 s||yes|
fault-stage-4-memcached|-|timeline: stage-4 under load, memcached killed at t = 5 s||yes|
calibration|-|loadgen vs wrk, nginx serving 2 KB||yes|
ROWS
)
ALL_ROWS=$(echo "$ROW_TABLE" | awk -F'|' '$5 == "yes" { print $1 }' | tr '\n' ' ')
# A row's column N of the table (spec ROW N).
spec() { echo "$ROW_TABLE" | awk -F'|' -v r="$1" '$1 == r { print $'"$2"' }'; }
# Whether ROW is tagged TAG (the last column); the rows of this run tagged
# TAG, for the record.
has_tag() { case " $(spec "$1" 6) " in *" $2 "*) return 0 ;; *) return 1 ;; esac; }
tagged() { local r out=""; for r in $ROWS; do has_tag "$r" "$1" && out="$out${out:+, }$r"; done; echo "${out:-none}"; }

# ---- options ---------------------------------------------------------------
QUICK=0
BUILD=1
# Which rows get the tools, the hot page and the sweeps: `main` (the row
# table's tags; the default rows) or `all` (--full, or rows given with --rows).
EXTRAS=""
[ "${FK_PREBUILT:-}" = 1 ] && BUILD=0
RATES=1
USERS=100000
# The main job's budget (what each part costs is in raw/timing.tsv): a
# newcomer waits for it (at most 15 minutes, build included), and three
# repetitions of 3 s windows say more than one of 10 s, since the spread
# between passes (minutes apart) is what moves a verdict, not the noise
# inside a window. 3 s is the lessons' window too (their answer keys and
# the main run measure alike): 2,000+ requests for every row but the CGI
# ones (stage-1: about 2,200; python-1: about 150) and the unindexed ones.
DURATION=3s
WARMUP=1s
CONC=64
OUT=""
ROWS=""
ALL_TOOLS="loadgen-realistic loadgen-single ab-k ab wrk"
TOOLS=$ALL_TOOLS
REPEAT=3
REPEAT_SET=0
# What repetitions 2..N measure: the figures every lesson's ratio is built
# on (report::repeats reads the same two).
REPEAT_TOOLS="loadgen-realistic wrk"
SERVER_CPUS=""
LOAD_CPUS=""
SHARED_CPUS=0
LOAD_NETNS=0
# Who ran this, for the answers' first line (lesson.sh passes its own
# command line; report::lessons reads it back from params.txt).
MADE_BY=""
# Flame graphs: on in the main job, off with --quick (either way unless
# --profile / --no-profile says).
PROFILE=""
PROFILE_REPS=0
usage() { sed -n '2,76p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --users|--duration|--warmup|--concurrency|-c|--rows|--tools|--out|--repeat|--server-cpus|--load-cpus|--made-by)
      [ $# -ge 2 ] || { echo "compare.sh: $1 needs a value (see --help)" >&2; exit 2; } ;;
  esac
  case "$1" in
    --quick) QUICK=1 ;;
    --full) EXTRAS=all ;;
    --no-build) BUILD=0 ;;
    --no-rates) RATES=0 ;;
    --users) USERS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --concurrency|-c) CONC=$2; shift ;;
    --rows) ROWS=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --made-by) MADE_BY=$2; shift ;;
    --server-cpus) SERVER_CPUS=$2; shift ;;
    --load-cpus) LOAD_CPUS=$2; shift ;;
    --shared-cpus) SHARED_CPUS=1 ;;
    --load-netns) LOAD_NETNS=1 ;;
    --profile) PROFILE=1 ;;
    --no-profile) PROFILE=0 ;;
    --profile-reps) PROFILE=1; PROFILE_REPS=1 ;;
    --repeat) REPEAT=$2; REPEAT_SET=1; shift
      case "$REPEAT" in ''|*[!0-9]*|0) echo "compare.sh: --repeat needs a whole number of at least 1, not '$REPEAT'" >&2; exit 2 ;; esac ;;
    --list) echo "$ROW_TABLE" | awk -F'|' '{ printf "%-24s %s%s\n", $1, $3, ($5 == "yes" ? "" : " [not in the default run]") }'; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# Durations of the parts that are not a --duration run (each a knob here,
# with the reason):
# - the warm row's warm-up: the realistic mix spreads over 1.6 M pages
#   (Zipf), so the hit ratio keeps rising for a while; 60 s is where it
#   changed by less than 2 points over the next 10 s on this machine
#   (the report checks it on every run, from the timeline).
WARM_WARMUP=60s
# - the rate sweep: 3 s per rate after 1 s of warm-up (an open loop's p99
#   over 300+ requests at the lowest rate); stops at the first rate the row
#   cannot sustain (report::latency's rule). It runs in the first
#   repetition only.
RATE_LIST="100 300 1000 3000 10000 30000"
RATE_DUR=3s
RATE_WARMUP=1s
# - the fault demos: 12 s of load, the fault at 5 s.
FAULT_SECS=12
FAULT_AT=5
CAL_PAIRS=3
if [ "$QUICK" = 1 ]; then
  # Small data set, short runs: the whole table in a few minutes (CI runs this).
  [ "$USERS" = 100000 ] && USERS=2000
  [ "$DURATION" = 3s ] && DURATION=2s
  [ "$WARMUP" = 1s ] && WARMUP=500ms
  [ "$REPEAT_SET" = 1 ] || REPEAT=1
  WARM_WARMUP=3s
  RATE_LIST="100 300"
  RATE_DUR=1s
  RATE_WARMUP=0s
  FAULT_SECS=6
  FAULT_AT=2
  CAL_PAIRS=1
  # A quick run never replaces the results of a full one (results/ holds
  # the committed run): it goes where git ignores it, unless --out says.
  OUT=${OUT:-target/compare-quick}
fi
OUT=${OUT:-results}
[ -n "$PROFILE" ] || { [ "$QUICK" = 1 ] && PROFILE=0 || PROFILE=1; }
[ -n "$EXTRAS" ] || { [ -n "$ROWS" ] && EXTRAS=all || EXTRAS=main; }
ROWS=${ROWS:-$ALL_ROWS}
ROW_IDS=" $(echo "$ROW_TABLE" | cut -d'|' -f1 | tr '\n' ' ') "
for row in $ROWS; do
  case "$ROW_IDS" in *" $row "*) ;; *) echo "compare.sh: unknown row $row (--list shows the rows)" >&2; exit 2 ;; esac
done
for tool in $TOOLS; do
  case " $ALL_TOOLS " in *" $tool "*) ;; *) echo "compare.sh: unknown tool $tool (the tools: $ALL_TOOLS)" >&2; exit 2 ;; esac
done
# ---- the cores layout -----------------------------------------------------------
# Every CPU this script may use, one number per line (taskset prints ranges).
allowed_cpus() {
  local list part
  list=$(taskset -pc $$ | sed 's/.*: //')
  for part in ${list//,/ }; do
    case "$part" in *-*) seq "${part%-*}" "${part#*-}" ;; *) echo "$part" ;; esac
  done
}
if [ -n "$SERVER_CPUS$LOAD_CPUS" ] && [ "$SHARED_CPUS" = 1 ]; then
  echo "compare.sh: --shared-cpus and --server-cpus/--load-cpus exclude each other" >&2; exit 2
fi
if [ -z "$SERVER_CPUS$LOAD_CPUS" ] && [ "$SHARED_CPUS" = 0 ]; then
  mapfile -t CPUS_ALLOWED < <(allowed_cpus)
  if [ "${#CPUS_ALLOWED[@]}" -ge 4 ]; then
    SERVER_CPUS="${CPUS_ALLOWED[0]},${CPUS_ALLOWED[1]}"
    LOAD_CPUS=$(IFS=,; echo "${CPUS_ALLOWED[*]:2}")
  fi
fi
SERVER=() LOAD=()
for list in "$SERVER_CPUS" "$LOAD_CPUS"; do
  [ -z "$list" ] || taskset -c "$list" true 2>/dev/null || {
    echo "compare.sh: cannot run on CPUs '$list' (this machine allows: $(taskset -pc $$ | sed 's/.*: //'))" >&2; exit 2; }
done
[ -z "$SERVER_CPUS" ] || SERVER=(taskset -c "$SERVER_CPUS")
[ -z "$LOAD_CPUS" ] || LOAD=(taskset -c "$LOAD_CPUS")
if [ -z "$SERVER_CPUS$LOAD_CPUS" ]; then
  LAYOUT="shared: server and load tools on the same CPUs ($(taskset -pc $$ | sed 's/.*: //'))"
else
  LAYOUT="server on CPUs ${SERVER_CPUS:-any}, load tools on CPUs ${LOAD_CPUS:-any}"
fi


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
printf 'part\tseconds\n' > "$RAW/timing.tsv"
FAILED=0

NROWS=$(echo $ROWS | wc -w)
ROWNO=0
log() { local t=$(( $(date +%s) - T0 )); printf '[compare %02d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*" >&2; }
# Runs a command, recording it in commands.txt.
run() { printf '%s\n' "$*" >> "$RAW/commands.txt"; "$@"; }
# What each part took, always into the first repetition's timing.tsv.
TIMING="$RAW/timing.tsv"
part_done() { printf '%s\t%s\n' "$1" "$(( $(date +%s) - $2 ))" >> "$TIMING"; }

# ---- cleanup: nothing we started outlives the script -------------------------
STARTED=()   # pids of process groups we started (each via setsid)
NETNS=()     # network namespaces this run made (--load-netns)
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
  # The namespaces this run made (--load-netns); the veth pair goes with them.
  for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---- the load host (--load-netns) ------------------------------------------------
# Two namespaces of this run's own, joined by a veth pair: the servers
# listen on SERVER_ADDR inside one, the load tools run inside the other.
LISTEN_HOST=127.0.0.1
IN_SRV=()        # runs a command in the server's namespace (empty: this one)
LOADGEN_NET=()   # loadgen refuses a non-loopback URL unless told
if [ "$LOAD_NETNS" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "compare.sh: --load-netns needs root (it creates network namespaces); run it as root, or without --load-netns" >&2; exit 2; }
  command -v ip > /dev/null || { echo "compare.sh: --load-netns needs ip (sudo apt-get install -y iproute2)" >&2; exit 2; }
  SRV_NS=fk-srv-$$ LOAD_NS=fk-load-$$ SERVER_ADDR=10.200.0.1 LOAD_ADDR=10.200.0.2
  netns_err=$(mktemp)
  if ! { ip netns add "$SRV_NS" && NETNS+=("$SRV_NS") && ip netns add "$LOAD_NS" && NETNS+=("$LOAD_NS") \
      && ip link add "fk$$s" type veth peer name "fk$$l" \
      && ip link set "fk$$s" netns "$SRV_NS" && ip link set "fk$$l" netns "$LOAD_NS" \
      && ip -n "$SRV_NS" addr add "$SERVER_ADDR/30" dev "fk$$s" && ip -n "$LOAD_NS" addr add "$LOAD_ADDR/30" dev "fk$$l" \
      && ip -n "$SRV_NS" link set "fk$$s" up && ip -n "$LOAD_NS" link set "fk$$l" up \
      && ip -n "$SRV_NS" link set lo up && ip -n "$LOAD_NS" link set lo up; } 2> "$netns_err"; then
    echo "compare.sh: --load-netns: this machine does not let us make network namespaces: $(cat "$netns_err")" >&2
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -f "$netns_err"; exit 2
  fi
  rm -f "$netns_err"
  LISTEN_HOST=$SERVER_ADDR
  IN_SRV=(ip netns exec "$SRV_NS")
  SERVER=("${IN_SRV[@]}" "${SERVER[@]}")
  LOAD=(ip netns exec "$LOAD_NS" "${LOAD[@]}")
  LOADGEN_NET=(--allow-remote)
  LAYOUT="$LAYOUT; load tools on a load host of their own (network namespace $LOAD_NS, $LOAD_ADDR, veth to the server's namespace, $SERVER_ADDR)"
fi

# All descendants of a pid (to check none is left after a stop).
descendants() {
  local kids k
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

# The descendants of $1 whose command line contains $2, one pid per line.
matching_descendants() {
  local k cmdline
  for k in $(descendants "$1"); do
    # (braces: a process that exited meanwhile makes the redirection fail,
    # and that message must go to /dev/null too)
    cmdline=$({ tr '\0' ' ' < "/proc/$k/cmdline"; } 2>/dev/null) || continue
    case "$cmdline" in *"$2"*) echo "$k" ;; esac
  done
}

# ---- 1. tools, build, data ----------------------------------------------------
t=$(date +%s)
log "system packages (and the CPython peer's virtual environment)"
scripts/setup.sh
log "release build (one profile for every stage and tool)"
if [ "$BUILD" = 1 ]; then
  # One cargo invocation (a second one, for one package, would resolve
  # other features and rebuild half the tree: a minute here).
  run cargo build --release --workspace --bins
fi
BIN=$ROOT/target/release
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
PEER=$ROOT/peers/python
PYTHON=$PEER/.venv/bin/python

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
part_done "build and seed" "$t"

# ---- 2. the record of what ran where -----------------------------------------
ver() { "$@" 2>&1 | head -n 1 || true; }
{
  echo "host: $HOST"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- crates scripts peers Cargo.toml Cargo.lock 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "layout: $LAYOUT"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "kernel: $(uname -r)"
  echo "rustc: $(ver rustc --version)"
  echo "python: $(ver "$PYTHON" --version) ($("$PYTHON" -c 'import cherrypy, pymemcache; print("CherryPy", cherrypy.__version__, "pymemcache", pymemcache.__version__)' 2>&1))"
  echo "nginx: $(ver "$NGINX" -v)"
  echo "memcached: $(ver memcached -V)"
  echo "wrk: $(wrk -v 2>&1 | head -n 1 | cut -c1-60)"
  echo "ab: $(ab -V 2>&1 | head -n 1)"
  echo "lighttpd: $(ver lighttpd -v)"
  echo "loadgen: $(ver "$BIN/loadgen" --version)"
  echo "build profile: release ($(grep -A3 '^\[profile.release\]' Cargo.toml | tr '\n' ' '))"
} > "$RAW/machine.txt"
{
  [ -z "$MADE_BY" ] || echo "made by: $MADE_BY"
  echo "users: $USERS"
  echo "duration: $DURATION"
  echo "warmup: $WARMUP"
  echo "warm row warm-up: $WARM_WARMUP"
  echo "concurrency: $CONC"
  echo "rates: $([ "$RATES" = 1 ] && echo "$RATE_LIST ($RATE_DUR each after $RATE_WARMUP)" || echo no)"
  echo "quick: $([ "$QUICK" = 1 ] && echo yes || echo no)"
  echo "profile: $([ "$PROFILE" = 1 ] && echo "yes (one more realistic window per row under perf, $([ "$PROFILE_REPS" = 1 ] && echo "every repetition" || echo "first repetition"))" || echo no)"
  echo "rows: $(echo $ROWS)"
  echo "tools: $TOOLS"
  if [ "$EXTRAS" = main ]; then
    echo "measured where: the realistic mix on every row; every tool on $(tagged tools); wrk's hot page in every repetition on $(tagged hot); the rate sweep on $(tagged rates) (the row table's tags; --full measures every tool and sweep on every row)"
  else
    echo "measured where: every tool on every row$([ "$RATES" = 1 ] && echo ", the rate sweep on every stage-N and python-N row")"
  fi
  echo "repetitions: $REPEAT$([ "$REPEAT" -gt 1 ] && echo " (interleaved; repetitions 2..$REPEAT: $REPEAT_TOOLS, no rate sweeps, faults or calibration, in raw/rep-K/)")"
  echo "single URL: /user/user42"
  echo "database: $DB"
} > "$RAW/params.txt"
{
  echo "-- user page query, with the index ($DB)"
  sqlite3 "$DB" "EXPLAIN QUERY PLAN SELECT id, title, taken_at, file FROM photos WHERE user_id = 42 ORDER BY id DESC LIMIT 21 OFFSET 0"
  echo "-- the same, without the index ($NOINDEX_DB)"
  sqlite3 "$NOINDEX_DB" "EXPLAIN QUERY PLAN SELECT id, title, taken_at, file FROM photos WHERE user_id = 42 ORDER BY id DESC LIMIT 21 OFFSET 0"
} > "$RAW/explain.txt"
"$BIN/stage-4" cache-size --db "$DB" > "$RAW/cache-size.txt" 2>&1 || true

# ---- 3. starting and stopping a row ---------------------------------------------
PID=""; URL=""
start() { # row log cmd...
  local row=$1 logf=$2; shift 2
  printf '%s\n' "${SERVER[*]:+${SERVER[*]} }$*" >> "$RAW/commands.txt"
  : > "$logf"
  setsid "${SERVER[@]}" "$@" > "$logf" 2>&1 < /dev/null &
  PID=$!
  STARTED+=("$PID")
  local i
  for ((i = 0; i < 600; i++)); do
    # `s/…/p;T;q`: print the first substituted line and quit (no `| head`,
    # which under pipefail can fail the script with SIGPIPE).
    URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p;T;q' "$logf")
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || { URL=""; return 1; }
    sleep 0.1
  done
  return 1
}
stop() { # stops PID and every process it started; returns 1 if any is left
  local left kids k
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

# ---- 4. measuring -----------------------------------------------------------------
USER_PATH=/user/user42
# The emulated interpreter's factor, from its one definition (app::CPYTHON_FACTOR).
PYF=$(sed -n 's/^pub const CPYTHON_FACTOR: u32 = \([0-9]*\);.*/\1/p;T;q' crates/app/src/gil.rs)
# The user page as stage-2 renders it: the static ceilings serve the same bytes.
log "capturing the user page for the static ceilings"
cp "$DB" "$TMP/page.db"
if start page "$TMP/page.log" "$BIN/stage-2" --db "$TMP/page.db" --photos "$DATA/photos" --listen "$LISTEN_HOST:0"; then
  "${IN_SRV[@]}" curl -s "$URL$USER_PATH" -o "$TMP/page.html"
  stop || true
fi
PAGE_BYTES=$(stat -c %s "$TMP/page.html" 2>/dev/null || echo 5000)
head -c 1536 /dev/urandom | base64 -w 0 > "$TMP/static2k.html"

row_line() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RAW/rows.tsv"; }

# cpu ROW TOOL DELAY CMD...: CMD inside cpuwatch, which writes the CPU of
# every process under $PID (and of CMD itself) over the measured window.
cpu() {
  local row=$1 tool=$2 delay=$3; shift 3
  run "${LOAD[@]}" "$BIN/cpuwatch" --tree "$PID" --delay "$delay" --json "$RAW/$row.$tool.cpu.json" -- "$@"
}
# A load tool outside cpuwatch, on the load tools' CPUs.
load() { run "${LOAD[@]}" "$@"; }

# Whether this run measures TOOL (on ROW): --tools asked for it (a lesson
# measures only what it reads) and, in the main job, the row is tagged for
# it (`tools`: every tool; `hot`: wrk). The realistic mix is every row's.
wanted() { # tool [row]
  case " $TOOLS " in *" $1 "*) ;; *) return 1 ;; esac
  [ "$EXTRAS" = all ] || [ -z "${2:-}" ] || [ "$1" = loadgen-realistic ] && return 0
  has_tag "$2" tools || { [ "$1" = wrk ] && has_tag "$2" hot; }
}

# ---- profiling (--profile) ------------------------------------------------------------
# One more realistic window per row, first repetition only, right after the
# row's realistic window and as long, under `perf record -a` (every CPU, so
# that the CGI programs stage-1 and python-1 start and end inside the window
# are caught; `-p` attaches to processes that exist when perf starts). The
# samples are then kept only for the row's processes: the pid → role map is
# cpuwatch's file of the same window (raw/<row>.profiled.cpu.json), and a
# process it does not list is reached through perf's FORK events (`flame
# collapse`). raw/<row>.folded is what is kept: perf.data is deleted at once.
# Call graphs: DWARF unwinding of 16 KB of stack per sample, not frame
# pointers. Measured on this 2-core machine (2026-12-03), stage-2 under wrk
# (user page, -c 64, 3 s runs, the configurations alternating, perf -a at
# 99 Hz), median req/s of 9 runs each: release build without perf 20,278,
# with --call-graph dwarf,16384 21,468; built with -C force-frame-pointers
# without perf 25,530, with --call-graph fp 21,190. Runs of one
# configuration spread from 12,500 to 35,000 (another job shared the
# cores), so req/s cannot tell the two apart; perf's own CPU in a 3 s
# window was the same for both (0.24 s, dwarf and fp). What decides:
# - whole stacks: of stage-2's app samples, 3–11 % reached the thread's
#   start with dwarf's default 8 KB, 97–99 % with 16 KB, ~100 % with 32 KB,
#   95–97 % with frame pointers;
# - every role: Debian's nginx and memcached, libc and the SQLite that
#   rusqlite builds with cc keep no frame pointers; DWARF unwinds them too
#   (nginx's stacks come whole, from main to ngx_writev);
# - the benchmark's binaries stay as measured: frame pointers would mean a
#   rebuild of every stage with other code (Cargo.toml's one release profile).
# The cost of DWARF is after the window: perf.data of ~3 MB/s and `perf
# script`'s unwinding (1.4 s for 199 samples here, with --no-inline).
PERF_CALL_GRAPH=(--call-graph dwarf,16384)
profile_check() { # --profile: is perf here, and may it sample? (once)
  [ "$PROFILE" = 1 ] || return 0
  if ! perf --version > /dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
      echo "compare.sh: --profile needs perf, which is missing (Debian: apt-get install linux-perf; scripts/setup.sh installs it)" >&2; exit 2
    fi
    log "--profile: perf is missing (Debian: apt-get install linux-perf): no flame graphs in this run"
    PROFILE=0; return 0
  fi
  if ! perf record -e cpu-clock -a -o "$TMP/perf-probe.data" -- true > "$TMP/perf-probe.txt" 2>&1; then
    log "--profile: the kernel forbids perf_event here (kernel.perf_event_paranoid = $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?'); perf record -a needs root, CAP_PERFMON or a value of -1): no flame graphs in this run ($(grep -m1 -i 'error\|denied\|not' "$TMP/perf-probe.txt" || true))"
    PROFILE=0
  fi
  rm -f "$TMP/perf-probe.data" "$TMP/perf-probe.txt"
}
profile_window() { # row url db: the realistic mix again, under perf (first repetition)
  local row=$1 url=$2 db=$3 data="$TMP/$1.perf.data" perf_pid
  [ "$PROFILE" = 1 ] && { [ "$RAW" = "$RUN/raw" ] || [ "$PROFILE_REPS" = 1 ]; } || return 0
  # A CGI row still runs the programs of the window before (up to -c of
  # them, seconds of CPU for python-1): they would eat the profiled window
  # and pass for the profiler's cost. Wait (up to 30 s) until none is left.
  local i
  if [ "$(spec "$row" 2)" = 1 ]; then
    for ((i = 0; i < 300; i++)); do [ -z "$(descendants "$PID")" ] && break; sleep 0.1; done
  fi
  log "$row: loadgen realistic under perf record (--profile)"
  printf '%s\n' "perf record -e cpu-clock -F 99 -a ${PERF_CALL_GRAPH[*]} -o $data" >> "$RAW/commands.txt"
  setsid perf record -e cpu-clock -F 99 -a "${PERF_CALL_GRAPH[@]}" -o "$data" > "$RAW/$row.perf-record.txt" 2>&1 < /dev/null &
  perf_pid=$!
  STARTED+=("$perf_pid")
  sleep 0.5   # perf has opened its events on every CPU
  cpu "$row" profiled "$WARMUP" "$BIN/loadgen" "${LOADGEN_NET[@]}" --mix realistic --db "$db" -c "$CONC" -d "$DURATION" -w "$WARMUP" --quiet \
    --json "$RAW/$row.profiled.json" "$url/" > "$RAW/$row.profiled.txt" 2>&1 || true
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  # --no-inline: perf 6.1 names inlined frames through addr2line, about a
  # second per sample of our binaries here (3.5 min for 199 samples, 1.4 s
  # without); the functions that are not inlined are named either way.
  if ! perf script -i "$data" --no-inline --show-task-events -F comm,pid,tid,time,event,ip,sym,dso 2> /dev/null \
      | "$BIN/flame" collapse --cpu-json "$RAW/$row.profiled.cpu.json" > "$RAW/$row.folded" 2>> "$RAW/$row.perf-record.txt"; then
    log "$row: the profile could not be collapsed (see $row.perf-record.txt)"
  fi
  rm -f "$data"
}
profile_finish() { # each profiled row's flame graph (into the run directory, where the report's charts go) and top frames; stage-4 against stage-3
  local f row
  [ "$PROFILE" = 1 ] || return 0
  for f in "$RAW"/*.folded; do
    [ -s "$f" ] || continue
    row=$(basename "$f" .folded)
    "$BIN/flame" svg "$f" --title "$row: where the CPU goes (realistic mix; root frames: roles)" --out "$RUN/$row-flame.svg" || log "$row: no flame graph"
    "$BIN/flame" top "$f" -n 10 > "$RAW/$row.flame-top.tsv" || rm -f "$RAW/$row.flame-top.tsv"
  done
  if [ -s "$RAW/stage-3.folded" ] && [ -s "$RAW/stage-4.folded" ]; then
    "$BIN/flame" diff --role app "$RAW/stage-3.folded" "$RAW/stage-4.folded" \
      --title "stage-4's app instances against stage-3's (realistic mix): red grew, blue shrank" \
      --out "$RUN/stage-4-vs-stage-3-flame.svg" || log "no stage-4/stage-3 differential flame graph"
  fi
}
profile_check

measure() { # row url db(or -) realistic(yes/no)
  local row=$1 url=$2 db=$3 realistic=$4
  if [ "$realistic" = yes ] && wanted loadgen-realistic; then
    log "$row: loadgen realistic"
    cpu "$row" loadgen-realistic "$WARMUP" "$BIN/loadgen" "${LOADGEN_NET[@]}" --mix realistic --db "$db" -c "$CONC" -d "$DURATION" -w "$WARMUP" --quiet \
      --json "$RAW/$row.loadgen-realistic.json" "$url/" > "$RAW/$row.loadgen-realistic.txt" 2>&1 || true
    profile_window "$row" "$url" "$db"
  fi
  if wanted loadgen-single "$row"; then
    log "$row: loadgen single"
    cpu "$row" loadgen-single "$WARMUP" "$BIN/loadgen" "${LOADGEN_NET[@]}" --mix single -c "$CONC" -d "$DURATION" -w "$WARMUP" --quiet \
      --json "$RAW/$row.loadgen-single.json" "$url$USER_PATH" > "$RAW/$row.loadgen-single.txt" 2>&1 || true
  fi
  if wanted ab-k "$row"; then
    log "$row: ab -k"
    cpu "$row" ab-k 0s ab -k -q -r -s 30 -c "$CONC" -t "$DUR_S" -n 100000000 "$url$USER_PATH" > "$RAW/$row.ab-k.txt" 2>&1 || true
  fi
  if wanted ab "$row"; then
    log "$row: ab (a connection per request)"
    cpu "$row" ab 0s ab -q -r -s 30 -c "$CONC" -t "$DUR_S" -n 100000000 "$url$USER_PATH" > "$RAW/$row.ab.txt" 2>&1 || true
  fi
  if wanted wrk "$row"; then
    log "$row: wrk"
    cpu "$row" wrk 0s wrk -t2 -c "$CONC" -d "$DURATION" --latency "$url$USER_PATH" > "$RAW/$row.wrk.txt" 2>&1 || true
  fi
}

# measure, the realistic mix alone (if this run measures it at all): the
# rows whose figure is that mix only (the -miss rows, the warm row).
measure_realistic_only() { # row url db
  local asked=$TOOLS
  if wanted loadgen-realistic; then TOOLS=loadgen-realistic; else TOOLS=""; fi
  measure "$1" "$2" "$3" yes
  TOOLS=$asked
}

# Latency at fixed offered rates: open loop, the realistic mix; stops at
# the first rate the row cannot sustain (`report sustained`: the report's
# own rule, report::latency::SUSTAINED).
sweep() { # row url db
  local row=$1 url=$2 db=$3 r json
  [ "$RATES" = 1 ] || return 0
  for r in $RATE_LIST; do
    log "$row: $r req/s offered"
    json="$RAW/$row.rate-$r.json"
    load "$BIN/loadgen" "${LOADGEN_NET[@]}" --mix realistic --db "$db" --rate "$r" -c "$CONC" -d "$RATE_DUR" -w "$RATE_WARMUP" --quiet \
      --json "$json" "$url/" > "$RAW/$row.rate-$r.txt" 2>&1 || true
    if ! "$BIN/report" sustained "$json" >> "$RAW/$row.rates.txt" 2>&1; then
      log "$row: $r req/s not sustained: the sweep stops"
      break
    fi
  done
}

stage_row() { # row db cmd...
  local row=$1 db=$2; shift 2
  local stage desc talk copy cmd=() a skip=()
  stage=$(spec "$row" 2); desc=$(spec "$row" 3); talk=$(spec "$row" 4)
  if [ "$row" = stage-4-warm ] && [ -n "$WARM_PID" ]; then warm_again "$desc" "$talk"; return; fi
  copy="$TMP/$row.db"
  cp "$db" "$copy"
  for a in "$@"; do cmd+=("${a//@DB@/$copy}"); done
  if ! start "$row" "$RAW/$row.log" "${cmd[@]}" --photos "$DATA/photos" --listen "$LISTEN_HOST:0"; then
    row_line "$row" "$stage" "$desc" "$talk" failed "did not start: $(tail -n 2 "$RAW/$row.log" | tr '\t\n' '  ')"
    FAILED=1; stop || true; return
  fi
  # stage-4's documented exemption (crates/stage-4/src/nginx.rs, HALF_CLOSE):
  # nginx's memcached module abandons half-closed clients.
  [ "$stage" = 4 ] && skip=(--skip half-close)
  # Verified once, in the first repetition: the later ones start the same
  # binaries on a fresh copy of the same database (an unindexed row's
  # verification alone takes ~16 s here).
  if [ "$REP" = 1 ] && ! load "$BIN/loadgen" verify "${LOADGEN_NET[@]}" "${skip[@]}" --db "$copy" --photos-dir "$DATA/photos" "$URL" > "$RAW/$row.verify.txt" 2>&1; then
    row_line "$row" "$stage" "$desc" "$talk" failed "verification failed: $(grep -m1 -i 'fail' "$RAW/$row.verify.txt" | tr '\t' ' ')"
    FAILED=1; stop || true; return
  fi
  if [ "$row" = stage-4-warm ]; then
    # The realistic mix only, after a warm-up long enough for the hit ratio
    # to settle; the timeline shows (and the report checks) that it did.
    log "$row: loadgen realistic after $WARM_WARMUP of warm-up"
    cpu "$row" loadgen-realistic "$WARM_WARMUP" "$BIN/loadgen" "${LOADGEN_NET[@]}" --mix realistic --db "$copy" -c "$CONC" -d "$DURATION" -w "$WARM_WARMUP" \
      --timeline --quiet --json "$RAW/$row.loadgen-realistic.json" "$URL/" > "$RAW/$row.loadgen-realistic.txt" 2>&1 || true
    profile_window "$row" "$URL" "$copy"
    if [ "$REPEAT" -gt 1 ]; then
      # Kept running, warm, for the later repetitions (warm_again).
      WARM_PID=$PID WARM_URL=$URL WARM_DB=$copy
      row_line "$row" "$stage" "$desc" "$talk" ok ""
      return
    fi
  elif [ "${row%-miss}" != "$row" ]; then
    # The realistic mix only: its misses are what the cache model needs.
    measure_realistic_only "$row" "$URL" "$copy"
  else
    measure "$row" "$URL" "$copy" yes
    case "$row" in
      stage-[1234]|python-[1234]) { [ "$EXTRAS" = all ] || has_tag "$row" rates; } && sweep "$row" "$URL" "$copy" ;;
    esac
  fi
  if stop; then
    row_line "$row" "$stage" "$desc" "$talk" ok ""
  else
    row_line "$row" "$stage" "$desc" "$talk" failed "processes left running after stop (killed)"
    FAILED=1
  fi
  rm -f "$copy" "$copy-wal" "$copy-shm"
}

# The warm row in repetitions 2..N: the server of the first repetition,
# kept running (idle) between its windows, so its hit ratio is the settled
# one without another WARM_WARMUP each time (3 minutes of a 15-minute
# job otherwise). Its window has the usual warm-up; the last repetition
# stops it.
WARM_PID="" WARM_URL="" WARM_DB=""
warm_again() { # desc talk
  local row=stage-4-warm
  PID=$WARM_PID URL=$WARM_URL
  log "$row: the server of repetition 1, kept warm"
  # The realistic mix only, as in the first repetition.
  measure_realistic_only "$row" "$URL" "$WARM_DB"
  if [ "$REP" -lt "$REPEAT" ]; then row_line "$row" 4 "$1" "$2" ok ""; return; fi
  WARM_PID=""
  if stop; then row_line "$row" 4 "$1" "$2" ok ""
  else row_line "$row" 4 "$1" "$2" failed "processes left running after stop (killed)"; FAILED=1; fi
  rm -f "$WARM_DB" "$WARM_DB-wal" "$WARM_DB-shm"
}

# A fault under load, recorded second by second: the row's stage under the
# realistic mix for FAULT_SECS, `kill` at FAULT_AT (events.tsv says when,
# and when the supervisor had restarted what was killed).
fault_row() { # row victim-label needle-in-its-command-line cmd...
  local row=$1 label=$2 needle=$3; shift 3
  local desc copy victim cmd=() a
  desc=$(spec "$row" 3)
  copy="$TMP/$row.db"
  cp "$DB" "$copy"
  for a in "$@"; do cmd+=("${a//@DB@/$copy}"); done
  if ! start "$row" "$RAW/$row.log" "${cmd[@]}" --photos "$DATA/photos" --listen "$LISTEN_HOST:0"; then
    row_line "$row" - "$desc" "" failed "did not start"; FAILED=1; stop || true; return
  fi
  log "$row: ${FAULT_SECS}s of the realistic mix, the fault at ${FAULT_AT}s"
  load "$BIN/loadgen" "${LOADGEN_NET[@]}" --mix realistic --db "$copy" -c "$CONC" -d "${FAULT_SECS}s" -w 1s --timeline --quiet \
    --json "$RAW/$row.timeline.json" "$URL/" > "$RAW/$row.txt" 2>&1 &
  local lg=$!
  sleep $((FAULT_AT + 1))   # the warm-up second, then FAULT_AT seconds of measurement
  local before
  before=$(matching_descendants "$PID" "$needle")
  victim=${before%%$'\n'*}
  # Events in wall-clock time (@UNIX): the report places them on the
  # timeline, whose JSON says when its t = 0 was (timeline_zero_unix_s).
  printf '@%s\tkill -9 of %s (pid %s)\n' "$(date +%s.%N)" "$label" "${victim:-none}" > "$RAW/$row.events.tsv"
  # (It may have exited on its own meanwhile: not a failure of the run.)
  if [ -n "$victim" ]; then kill -KILL "$victim" 2>/dev/null || true; fi
  # When a new process runs in its place.
  local i new=""
  for ((i = 0; i < 100; i++)); do
    # A matching process that was not there before the kill.
    new=$(matching_descendants "$PID" "$needle" | grep -vxF -e "${before:-x}" || true)
    new=${new%%$'\n'*}
    [ -n "$new" ] && break
    sleep 0.05
  done
  [ -n "$new" ] && printf '@%s\trestarted (pid %s)\n' "$(date +%s.%N)" "$new" >> "$RAW/$row.events.tsv"
  wait "$lg" || true
  if stop; then row_line "$row" - "$desc" "" ok ""
  else row_line "$row" - "$desc" "" failed "processes left running after stop (killed)"; FAILED=1; fi
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
  workers=$(sed -n 's/^pub const DEFAULT_WORKERS: [a-z]* = \([0-9]*\);.*/\1/p;T;q' crates/cluster/src/nginx.rs)
  # The static-file ceiling: nginx serving a copy of the user page (and a
  # 2 KB file for the load generator's calibration), nothing else.
  write_static_nginx_conf "$NGINX_DIR" "$port" "${workers:-1}" "$NGINX_DIR/www" "text/html; charset=utf-8" "$LISTEN_HOST"
  printf '%s\n' "${SERVER[*]:+${SERVER[*]} }$NGINX -p $NGINX_DIR -c $NGINX_DIR/nginx.conf -e stderr -g 'daemon off;'" >> "$RAW/commands.txt"
  setsid "${SERVER[@]}" "$NGINX" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e stderr -g 'daemon off;' > "$RAW/nginx-static.log" 2>&1 < /dev/null &
  NGINX_PID=$!
  STARTED+=("$NGINX_PID")
  local i
  for ((i = 0; i < 100; i++)); do
    "${IN_SRV[@]}" curl -s -o /dev/null "http://$LISTEN_HOST:$port/static2k.html" && { static_nginx_url="http://$LISTEN_HOST:$port"; return 0; }
    sleep 0.1
  done
  return 1
}

# ---- 5. the rows -----------------------------------------------------------------
rows_pass() { # the rows, once, into $RAW; LABEL names the repetition in the log
local row t n p med_wrk med_lg
for row in $1; do
  ROWNO=$((ROWNO + 1))
  t=$(date +%s)
  log "== row $ROWNO/$NROWS$LABEL: $row — $(spec "$row" 3)"
  case "$row" in
    ceiling-nginx-static)
      if ensure_static_nginx; then
        PID=$NGINX_PID
        measure "$row" "$static_nginx_url" - no
        row_line "$row" - "nginx serving a static copy of the user page ($PAGE_BYTES bytes)" - ok ""
      else
        row_line "$row" - "nginx serving a static copy of the user page" - failed "nginx did not start: $(tail -n 2 "$RAW/nginx-static.log" | tr '\t\n' '  ')"; FAILED=1
      fi ;;
    ceiling-hyper-hello)
      if start "$row" "$RAW/$row.log" "$BIN/hyper-hello" --listen "$LISTEN_HOST:0" --bytes "$PAGE_BYTES"; then
        measure "$row" "$URL" - no
        if stop; then row_line "$row" - "bare hyper answering $PAGE_BYTES bytes (2 threads)" - ok ""
        else row_line "$row" - "bare hyper" - failed "processes left running"; FAILED=1; fi
      else
        row_line "$row" - "bare hyper" - failed "did not start"; FAILED=1
      fi ;;
    stage-1) stage_row "$row" "$DB" "$BIN/stage-1" --db @DB@ ;;
    stage-2) stage_row "$row" "$DB" "$BIN/stage-2" --db @DB@ ;;
    stage-2-gil) stage_row "$row" "$DB" "$BIN/stage-2" --db @DB@ --gil ;;
    stage-3-gil) stage_row "$row" "$DB" "$BIN/stage-3" --instances 2 --db @DB@ --gil ;;
    stage-3) stage_row "$row" "$DB" "$BIN/stage-3" --instances 2 --db @DB@ ;;
    stage-4|stage-4-warm) stage_row "$row" "$DB" "$BIN/stage-4" --instances 2 --db @DB@ ;;
    # A worker blocked in a memcached round trip polls nothing else: if
    # that cost throughput, more workers than cores would win this row.
    stage-4-threads4) stage_row "$row" "$DB" "$BIN/stage-4" --instances 2 --threads 4 --db @DB@ ;;
    stage-4-noindex) stage_row "$row" "$NOINDEX_DB" "$BIN/stage-4" --instances 2 --db @DB@ ;;
    # A miss's cost, measured: nginx looks every key up under a prefix the
    # app never writes, so every lookup misses and nothing else changes
    # (report::scaling's cache model predicts stage-4's speed-up from it).
    stage-4-miss) stage_row "$row" "$DB" "$BIN/stage-4" --instances 2 --lookup-prefix miss: --db @DB@ ;;
    # The talk's own stack, deployed exactly as the Rust rows: the same CGI
    # host, nginx configuration, supervisor and memcached (peers/python).
    python-1) stage_row "$row" "$DB" "$BIN/stage-1" --app python --peer "$PEER" --db @DB@ ;;
    python-2) stage_row "$row" "$DB" "$PYTHON" "$PEER/fk_serve.py" --sessions sqlite --db @DB@ ;;
    python-3) stage_row "$row" "$DB" "$BIN/stage-3" --instances 2 --app python --peer "$PEER" --db @DB@ ;;
    python-4) stage_row "$row" "$DB" "$BIN/stage-4" --instances 2 --app python --peer "$PEER" --db @DB@ ;;
    python-4-miss) stage_row "$row" "$DB" "$BIN/stage-4" --instances 2 --app python --peer "$PEER" --lookup-prefix miss: --db @DB@ ;;
    python-4-noindex) stage_row "$row" "$NOINDEX_DB" "$BIN/stage-4" --instances 2 --app python --peer "$PEER" --db @DB@ ;;
    fault-stage-3-kill) fault_row "$row" "an instance" " instance --listen-fd" "$BIN/stage-3" --instances 2 --db @DB@ ;;
    fault-stage-4-memcached) fault_row "$row" memcached "memcached -l" "$BIN/stage-4" --instances 2 --db @DB@ ;;
    calibration)
      # loadgen's own cost: against nginx serving 2 KB, alternating with wrk;
      # the median pair is kept (quick: one pair).
      if ensure_static_nginx; then
        mkdir -p "$RAW/calibration-runs"
        for ((p = 1; p <= CAL_PAIRS; p++)); do
          load wrk -t2 -c "$CONC" -d "$DURATION" --latency "$static_nginx_url/static2k.html" > "$RAW/calibration-runs/$p.wrk.txt" 2>&1 || true
          load "$BIN/loadgen" "${LOADGEN_NET[@]}" --mix single -c "$CONC" -t 2 -d "$DURATION" -w 0 --quiet \
            --json "$RAW/calibration-runs/$p.loadgen-single.json" "$static_nginx_url/static2k.html" > /dev/null 2>&1 || true
        done
        # Median by wrk's req/s and by loadgen's req/s, each on its own.
        med_wrk=$(for ((p = 1; p <= CAL_PAIRS; p++)); do echo "$(sed -n 's/^Requests\/sec: *//p' "$RAW/calibration-runs/$p.wrk.txt") $p"; done | sort -n | sed -n "$(( (CAL_PAIRS + 1) / 2 ))p" | cut -d' ' -f2)
        med_lg=$(for ((p = 1; p <= CAL_PAIRS; p++)); do echo "$(sed -n 's/.*"rps": *\([0-9.]*\).*/\1/p;T;q' "$RAW/calibration-runs/$p.loadgen-single.json") $p"; done | sort -n | sed -n "$(( (CAL_PAIRS + 1) / 2 ))p" | cut -d' ' -f2)
        cp "$RAW/calibration-runs/${med_wrk:-1}.wrk.txt" "$RAW/calibration.wrk.txt"
        cp "$RAW/calibration-runs/${med_lg:-1}.loadgen-single.json" "$RAW/calibration.loadgen-single.json"
        row_line calibration - "loadgen vs wrk, nginx serving 2 KB, -c $CONC (median of $CAL_PAIRS alternating runs)" - ok ""
      else
        row_line calibration - "loadgen vs wrk" - failed "nginx did not start"; FAILED=1
      fi ;;
    # The emulated interpreter (--gil --python-factor, app::CPYTHON_FACTOR):
    # not in the default rows; see the README for how it compares with the
    # real CPython rows.
    stage-[234]-slow50)
      n=${row#stage-}; n=${n%%-*}
      case "$n" in
        2) stage_row "$row" "$DB" "$BIN/stage-2" --db @DB@ --gil --python-factor "$PYF" --threads 1 ;;
        3) stage_row "$row" "$DB" "$BIN/stage-3" --instances 2 --db @DB@ --gil --python-factor "$PYF" --threads 1 ;;
        4) stage_row "$row" "$DB" "$BIN/stage-4" --instances 2 --db @DB@ --gil --python-factor "$PYF" --threads 1 ;;
      esac ;;
    *) log "unknown row $row (see --list)"; FAILED=1 ;;
  esac
  part_done "$row$LABEL" "$t"
done
}

LABEL="" REP=1
[ "$REPEAT" -gt 1 ] && LABEL=" (repetition 1 of $REPEAT)"
rows_pass "$ROWS"
# Repetitions 2..N: the same rows again, in the same order, with the tools
# every repetition measures; faults and the calibration run once.
if [ "$REPEAT" -gt 1 ]; then
  FIRST_RAW=$RAW ALL_TOOLS_ASKED=$TOOLS
  REP_ROWS=$(for row in $ROWS; do case "$row" in fault-*|calibration) ;; *) echo "$row" ;; esac; done | tr '\n' ' ')
  TOOLS=$(for tool in $REPEAT_TOOLS; do case " $ALL_TOOLS_ASKED " in *" $tool "*) echo "$tool" ;; esac; done | tr '\n' ' ')
  RATES=0
  # (`rep`, not a name the functions below use unlocalised: stop()'s loop
  # over pids once clobbered this counter and ended the run after two.)
  for ((rep = 2; rep <= REPEAT; rep++)); do
    REP=$rep
    RAW="$FIRST_RAW/rep-$rep"
    mkdir -p "$RAW"
    : > "$RAW/commands.txt"
    printf 'row\tstage\tdescription\ttalk_rps\tstatus\treason\n' > "$RAW/rows.tsv"
    cp "$FIRST_RAW/machine.txt" "$RAW/machine.txt"
    { cat "$FIRST_RAW/params.txt"; echo "repetition: $rep of $REPEAT"; echo "tools measured: $TOOLS"; } > "$RAW/params.txt"
    ROWNO=0 NROWS=$(echo $REP_ROWS | wc -w) LABEL=" (repetition $rep of $REPEAT)"
    rows_pass "$REP_ROWS"
  done
  RAW=$FIRST_RAW TOOLS=$ALL_TOOLS_ASKED
fi
if [ -n "${NGINX_PID:-}" ]; then stop_group "$NGINX_PID" 10; fi
# (The warm row's server, if a later repetition did not run it.)
if [ -n "$WARM_PID" ]; then PID=$WARM_PID; stop || true; fi

# ---- 6. the report -------------------------------------------------------------------
profile_finish
rm -rf "$TMP"
part_done total "$T0"
log "report"
run "$BIN/report" "$RAW" --out "$OUT"
log "done: $( [ "$FAILED" = 0 ] && echo 'every row ok' || echo 'SOME ROWS FAILED (see the verify column and the reasons in the table)')"
log "table:  $OUT/latest.md (also latest.csv and the charts latest*.svg)"
log "raw:    $RAW (every tool's output and CPU, machine.txt, commands.txt, timing.tsv)"
exit "$FAILED"
