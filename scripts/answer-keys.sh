#!/usr/bin/env bash
# The workshop's answer keys: every lesson run exactly as a participant runs
# it (`scripts/lesson.sh N`, its defaults: the lesson's data set, 3 s per
# tool, three interleaved repetitions, the default cores layout), kept in
# results/lessons/N-ID/, then WORKSHOP.md's answers regenerated from them.
#
#   scripts/answer-keys.sh              # every lesson (about 25 minutes on 2 cores)
#   scripts/answer-keys.sh 3 5          # just these lessons (the others keep their keys)
#   scripts/answer-keys.sh --no-build   # the release binaries are already built
#
# Each key replaces that lesson's previous one (git shows what moved). The
# answer's first line names the run, the command that made it, the data
# set, the windows, the machine, the cores layout and the repetitions
# (report::lessons::answer); `cargo test -p report --test committed` fails
# when an answer is not what its key's raw files say.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
BUILD=1
LESSONS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "answer-keys.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) LESSONS+=("$1") ;;
  esac
  shift
done

if [ "$BUILD" = 1 ]; then
  cargo build --release --workspace --bins
fi
REPORT=target/release/report
[ -x "$REPORT" ] || { echo "answer-keys.sh: $REPORT is missing: run without --no-build" >&2; exit 2; }
# Every lesson, by number, unless some were named.
if [ ${#LESSONS[@]} -eq 0 ]; then
  mapfile -t LESSONS < <("$REPORT" lessons | sed -n 's/^ *\([0-9][0-9]*\)[ .].*/\1/p')
fi
[ ${#LESSONS[@]} -gt 0 ] || { echo "answer-keys.sh: report lessons listed no lesson" >&2; exit 1; }

KEYS=results/lessons
T0=$(date +%s)
for n in "${LESSONS[@]}"; do
  spec=$("$REPORT" lesson-spec "$n") || exit 2
  NUMBER="" ID=""
  eval "$spec"
  echo "[answer-keys $(( ($(date +%s) - T0) / 60 )) min] lesson $NUMBER ($ID)" >&2
  # Exactly what a participant types (--no-build: built above).
  scripts/lesson.sh "$NUMBER" --no-build
  run=$(ls -d target/lessons/"$NUMBER-$ID"/*/ | sort | tail -n 1)
  run=${run%/}
  dest=$KEYS/$NUMBER-$ID
  rm -rf "$dest"
  mkdir -p "$dest"
  # The run's raw files and its own tables and charts; the results/latest.*
  # copies lesson.sh wrote beside it are the same and stay behind.
  cp -r "$run" "$dest/"
done

# The main run the README names, whose figures the rest of WORKSHOP.md quotes.
main_run=$(sed -n 's/^From `\([^`]*\)`.*/\1/p' README.md | head -n 1)
[ -n "$main_run" ] || { echo "answer-keys.sh: README.md names no run (\"From \`NAME\`\")" >&2; exit 1; }
"$REPORT" workshop WORKSHOP.md "results/$main_run/raw" --keys "$KEYS"
echo "answer keys: $KEYS/ ($(( ($(date +%s) - T0) / 60 )) min); WORKSHOP.md regenerated" >&2
