#!/usr/bin/env bash
# FlickrKillr in a container (the Dockerfile at the repository's root):
# every stage, tool and data set, on any machine with docker or podman.
#
#   scripts/container.sh build [--base IMAGE] [ENGINE BUILD OPTIONS...]
#   scripts/container.sh lesson N [lesson.sh options...]   # e.g. lesson 1
#   scripts/container.sh compare [compare.sh options...]   # e.g. compare --quick
#   scripts/container.sh shell                             # bash inside the image
#
# Options, before the command:
#   --engine docker|podman   which engine (default: $FK_ENGINE, else docker
#                            if its daemon answers, else podman)
#   --image TAG              the image (default: $FK_IMAGE, else flickrkillr:latest)
#   --results DIR            the host folder the runs land in (default:
#                            $FK_RESULTS, else ./results-container, ignored by
#                            git): a lesson's in DIR/lessons/N-ID/, compare's
#                            in DIR/ (--quick: DIR/compare-quick/)
#   --server-cpus LIST       run the container on these cores only
#                            (--cpuset-cpus LIST, e.g. 0-1 or 2,3); default:
#                            every core. Options of lesson.sh/compare.sh
#                            (cores layouts included) pass through as given.
#
# Build: `--base IMAGE` sets the Dockerfile's BASE (default
# debian:bookworm-slim); anything after it goes to `ENGINE build` as is
# (e.g. --network=host, --no-cache).
#
# Environment for unusual engines (the tests use them; nothing is read from
# or written to the engine's global configuration):
#   FK_ENGINE_ARGS  options put right after the engine's name, for every
#                   command (e.g. "--runtime runc --cgroup-manager=cgroupfs")
#   FK_BUILD_ARGS   more options for `ENGINE build`
#   FK_RUN_ARGS     more options for `ENGINE run` (e.g. --network=host)
#
# The first line printed says which engine, image and results folder it used.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "container.sh: $*" >&2; exit 2; }

ENGINE=${FK_ENGINE:-}
IMAGE=${FK_IMAGE:-flickrkillr:latest}
RESULTS=${FK_RESULTS:-results-container}
CPUS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --engine|--image|--results|--server-cpus) [ $# -ge 2 ] || die "$1 needs a value (see --help)" ;;
  esac
  case "$1" in
    --engine) ENGINE=$2; shift ;;
    --image) IMAGE=$2; shift ;;
    --results) RESULTS=$2; shift ;;
    --server-cpus) CPUS=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
CMD=$1; shift
case "$CMD" in
  build|lesson|compare|shell) ;;
  *) die "unknown command $CMD (build, lesson, compare or shell; see --help)" ;;
esac

# ---- the engine ---------------------------------------------------------------
read -r -a ENGINE_ARGS <<< "${FK_ENGINE_ARGS:-}"
read -r -a BUILD_ARGS <<< "${FK_BUILD_ARGS:-}"
read -r -a RUN_ARGS <<< "${FK_RUN_ARGS:-}"
if [ -z "$ENGINE" ]; then
  # docker's client alone is not enough: its daemon must answer.
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
  else
    echo "container.sh: no container engine: install podman or docker (and start docker's daemon, e.g. Docker Desktop or colima on macOS), or set FK_ENGINE" >&2
    exit 1
  fi
fi
case "$ENGINE" in docker|podman) ;; *) die "FK_ENGINE/--engine must be docker or podman, not $ENGINE" ;; esac
command -v "$ENGINE" >/dev/null 2>&1 || { echo "container.sh: $ENGINE is not installed" >&2; exit 1; }
engine() { "$ENGINE" "${ENGINE_ARGS[@]}" "$@"; }

echo "container.sh: engine $ENGINE$([ ${#ENGINE_ARGS[@]} -eq 0 ] || printf ' %s' "${ENGINE_ARGS[@]}"), image $IMAGE$([ "$CMD" = build ] || echo ", results in $RESULTS/")" >&2

# ---- build --------------------------------------------------------------------
if [ "$CMD" = build ]; then
  base=()
  if [ "${1:-}" = --base ]; then
    [ $# -ge 2 ] || die "--base needs an image"
    base=(--build-arg "BASE=$2"); shift 2
  fi
  # docker needs BuildKit for the Dockerfile's cache mounts (the default
  # since docker 23).
  export DOCKER_BUILDKIT=1
  exec "$ENGINE" "${ENGINE_ARGS[@]}" build -f Dockerfile -t "$IMAGE" "${base[@]}" "${BUILD_ARGS[@]}" "$@" .
fi

# ---- run ----------------------------------------------------------------------
engine info >/dev/null 2>&1 \
  || { echo "container.sh: $ENGINE does not answer ($ENGINE info failed: is its daemon or machine running?)" >&2; exit 1; }
engine image inspect "$IMAGE" >/dev/null 2>&1 \
  || { echo "container.sh: no image $IMAGE: run scripts/container.sh build first" >&2; exit 1; }
mkdir -p "$RESULTS/lessons" "$RESULTS/compare-quick"
RESULTS=$(cd "$RESULTS" && pwd)
W=/flickrkillr
run=(run --rm)
[ -t 0 ] && [ -t 1 ] && run+=(-it)
[ -n "$CPUS" ] && run+=(--cpuset-cpus "$CPUS")
# compare.sh writes results/ (or target/compare-quick/ with --quick),
# lesson.sh target/lessons/: all three are the host's folder.
run+=(-v "$RESULTS:$W/results:z" -v "$RESULTS/lessons:$W/target/lessons:z"
  -v "$RESULTS/compare-quick:$W/target/compare-quick:z")
run+=("${RUN_ARGS[@]}" "$IMAGE")
case "$CMD" in
  lesson)
    [ $# -ge 1 ] || die "lesson needs a number (1..9) or an id; scripts/container.sh lesson --list shows them"
    engine "${run[@]}" scripts/lesson.sh "$@" ;;
  compare) engine "${run[@]}" scripts/compare.sh "$@" ;;
  shell) engine "${run[@]}" bash "$@" ;;
esac
