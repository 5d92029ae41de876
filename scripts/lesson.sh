#!/usr/bin/env bash
# One lesson of the workshop (WORKSHOP.md): the rows it needs, measured
# side by side by the main job's own code, and its table.
#
#   scripts/lesson.sh N           # N = 1..9, or the lesson's id (cgi, gil, ...)
#   scripts/lesson.sh --list      # the lessons and the rows each runs
#   scripts/lesson.sh N [--users N] [--duration 3s] [--no-build] [--repeat N]
#                       [--server-cpus LIST --load-cpus LIST | --shared-cpus]
#                       [--load-netns] [--profile]
#
# --repeat and the cores layout are compare.sh's (see its --help): three
# interleaved repetitions unless --repeat says otherwise (the table gives
# each number's median and range); the default layout is the talk's
# dual-core server on a machine with 4 or more CPUs, the shared layout on
# 2 or 3. --profile is compare.sh's too (off in a lesson unless asked): a
# flame graph per row (<row>-flame.svg beside the lesson's latest.md).
#
# FK_PREBUILT=1 in the environment means --no-build (the container image
# sets it: it has the release binaries and no cargo).
#
# A lesson is data (crates/report/src/lessons.rs: its rows, tools, data set
# size, whether it sweeps offered rates); this script asks `report
# lesson-spec N` for it, runs `scripts/compare.sh` with just those rows and
# tools into target/lessons/N-ID/ (ignored by git: results/ is never
# touched), then prints the lesson's table with `report lesson N RAW`. The
# charts (latest*.svg, the timelines) are in the same directory.
set -euo pipefail
cd "$(dirname "$0")/.."
INVOKED="scripts/lesson.sh $*"

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
PASS=()   # options handed to compare.sh as they are
PROFILE=--no-profile   # a lesson profiles only when asked
LESSON=""
USERS_ARG=""
# Long enough for a steady figure on two cores, short enough for a lesson
# of about two minutes (the committed run uses 10 s per tool).
DURATION=3s
BUILD=1
[ "${FK_PREBUILT:-}" = 1 ] && BUILD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --list) LESSON=--list ;;
    --users|--duration|--repeat|--server-cpus|--load-cpus) [ $# -ge 2 ] || { echo "lesson.sh: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in --users) USERS_ARG=$2 ;; --duration) DURATION=$2 ;; *) PASS+=("$1" "$2") ;; esac; shift ;;
    --shared-cpus|--load-netns) PASS+=("$1") ;;
    --profile) PROFILE=--profile ;;
    --no-build) BUILD=0 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "lesson.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) LESSON=$1 ;;
  esac
  shift
done
[ -n "$LESSON" ] || { usage >&2; exit 2; }

# The report first (it says what the lesson is); compare.sh builds the rest.
if [ "$BUILD" = 1 ]; then
  cargo build --release -p report --quiet
fi
REPORT=target/release/report
[ -x "$REPORT" ] || { echo "lesson.sh: $REPORT is missing: run without --no-build, or cargo build --release --workspace" >&2; exit 2; }

if [ "$LESSON" = --list ]; then
  "$REPORT" lessons
  exit 0
fi

spec=$("$REPORT" lesson-spec "$LESSON") || exit 2
NUMBER="" ID="" TITLE="" ROWS="" TOOLS="" USERS="" RATES=""
eval "$spec"
USERS=${USERS_ARG:-$USERS}
OUT=target/lessons/$NUMBER-$ID
rm -rf "$OUT"
echo "== lesson $NUMBER: $TITLE — rows: $ROWS ($USERS users, $DURATION per tool)" >&2

args=(--made-by "$INVOKED" --out "$OUT" --users "$USERS" --duration "$DURATION" --warmup 1s --rows "$ROWS" --tools "$TOOLS")
[ "$RATES" = 1 ] || args+=(--no-rates)
[ "$BUILD" = 1 ] || args+=(--no-build)
args+=("$PROFILE" "${PASS[@]}")
status=0
scripts/compare.sh "${args[@]}" || status=$?

raw=$(ls -d "$OUT"/*/raw 2>/dev/null | sort | tail -n 1) || true
[ -n "$raw" ] || { echo "lesson.sh: compare.sh wrote no run into $OUT" >&2; exit 1; }
echo
"$REPORT" lesson "$ID" "$raw"
echo "charts and the full table: $OUT/ (latest.md, latest*.svg)"
[ "$status" = 0 ] || echo "lesson.sh: some rows failed (see $OUT/latest.md)" >&2
exit "$status"
