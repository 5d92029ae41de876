#!/usr/bin/env bash
# The container image, end to end (scripts/test.sh runs it near the end):
#
#   1. a Debian 12 base made here (mmdebstrap --variant=minbase bookworm,
#      with bookworm-updates and bookworm-security, ca-certificates and this
#      machine's CA bundle), imported with `podman import`: no image
#      registry is needed, only the Debian mirror
#   2. scripts/container.sh build --base that (the Dockerfile: Rust from
#      Debian's packages, crates.io, PyPI; cold in CI)
#   3. scripts/doctor.sh inside the image: exits 0
#   4. scripts/container.sh lesson 1 --repeat 1 inside the image: its table
#      has every row, measured; nothing seeded or built again (the image's
#      data sets and binaries are used)
#   5. lesson 1 natively and in the container, alternating (native,
#      container, native, container, native: one repetition each), so a
#      drift of the machine hits both alike: the same table (rows and
#      columns), and each row's req/s median of one side against the
#      other's range (printed)
#
#   scripts/container-test.sh [--keep DIR]
#
# podman only. Everything it makes is in a state directory of its own (a
# temporary one; --keep DIR or FK_CONTAINER_TEST_DIR keeps it, and with it
# the base tarball, the images and the build's cargo cache, for a faster
# run next time): its own image store (podman --root/--runroot), its own
# containers.conf (CONTAINERS_CONF: runc, cgroupfs, no default ulimits,
# which this kind of machine needs) and TMPDIR (podman's build cache
# mounts). The user's global podman configuration and image store are
# neither read nor changed; the clone is not written to (`git status`
# stays clean). Without --keep the store is reset and removed at the end.
#
# podman, mmdebstrap and runc are needed (scripts/setup.sh installs them
# under CI=true); under CI=true a missing one fails, otherwise the test
# says so and is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }
KEEP=${FK_CONTAINER_TEST_DIR:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) [ $# -ge 2 ] || { echo "container-test.sh: --keep needs a directory" >&2; exit 2; }; KEEP=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "container-test.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

T0=$(date +%s)
log() { local t=$(( $(date +%s) - T0 )); printf '[container-test %02d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*" >&2; }
fail() { echo "FAIL: container image: $*" >&2; echo "container image: 0 passed, 1 failed"; exit 1; }

absent=()
for t in podman mmdebstrap runc; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || absent+=("$t")
done
if [ ${#absent[@]} -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    fail "${absent[*]} not installed (CI=true: scripts/setup.sh installs podman, mmdebstrap and runc; or apt-get install ${absent[*]})"
  fi
  echo "container-test.sh: ${absent[*]} not installed (apt-get install ${absent[*]}; scripts/setup.sh does under CI=true): skipped" >&2
  echo "container image: 0 passed, 0 failed, 1 skipped"
  exit 0
fi

# ---- the state directory: store, configuration, cache ---------------------------
if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"; STATE=$(cd "$KEEP" && pwd)
else
  # /var/tmp: the store and the build cache take a few GB (often too much for a tmpfs /tmp).
  STATE=$(mktemp -d /var/tmp/fk-container-test.XXXXXX)
fi
mkdir -p "$STATE/results"
# Its own podman (store, containers.conf: runc, cgroupfs, no default
# ulimits, which this kind of machine needs; TMPDIR): scripts/lib/podman-state.sh.
. scripts/lib/podman-state.sh
podman_state "$STATE"
export FK_ENGINE=podman
export FK_ENGINE_ARGS=$PODMAN_ARGS
export FK_BUILD_ARGS="--network=host"
export FK_RUN_ARGS="--network=host"
export FK_IMAGE=localhost/flickrkillr:test
BASE_IMAGE=localhost/flickrkillr-base:test

cleanup() {
  [ -n "$KEEP" ] && return 0
  # Our own store only: its containers, images and mounts, then the directory.
  # (Not `podman system reset`: it would also remove the machine's networks.)
  podman_state_clear "$STATE"
  rm -rf "$STATE" 2>/dev/null || echo "container-test.sh: could not remove all of $STATE" >&2
}
trap cleanup EXIT

# ---- 1. the base: Debian 12 from the Debian mirror ---------------------------------
t=$(date +%s)
if [ ! -s "$STATE/base.tar" ]; then
  log "base: mmdebstrap --variant=minbase bookworm"
  # This machine's CA bundle goes in as a local CA (the build fetches from
  # crates.io and PyPI over HTTPS); pip is told to use the system bundle.
  # (The hooks' $1, the new root, is mmdebstrap's to expand.)
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=minbase --format=tar --include=ca-certificates \
    --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates" && cp /etc/ssl/certs/ca-certificates.crt "$1/usr/local/share/ca-certificates/host-bundle.crt" && chroot "$1" update-ca-certificates >/dev/null 2>&1' \
    --customize-hook='printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" > "$1/etc/pip.conf"' \
    bookworm "$STATE/base.tar.part" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" \
    > "$STATE/mmdebstrap.log" 2>&1 || { tail -n 20 "$STATE/mmdebstrap.log" >&2; fail "mmdebstrap could not make the base (log above)"; }
  mv "$STATE/base.tar.part" "$STATE/base.tar"
fi
"${P[@]}" import -q "$STATE/base.tar" "$BASE_IMAGE" >/dev/null || fail "podman import of the base failed"
BASE_S=$(( $(date +%s) - t ))
log "base: $BASE_IMAGE in ${BASE_S} s"

# ---- 2. the image ---------------------------------------------------------------------
t=$(date +%s)
log "image: scripts/container.sh build --base $BASE_IMAGE (log: $STATE/build.log)"
scripts/container.sh build --base "$BASE_IMAGE" > "$STATE/build.log" 2>&1 \
  || { tail -n 40 "$STATE/build.log" >&2; fail "the image build failed (log above)"; }
BUILD_S=$(( $(date +%s) - t ))
SIZE=$("${P[@]}" image inspect --format '{{.Size}}' "$FK_IMAGE")
log "image: $FK_IMAGE in ${BUILD_S} s, $((SIZE / 1024 / 1024)) MiB"
grep -m1 '^rustc [0-9.]* (the workspace needs' "$STATE/build.log" >&2 || true

# ---- 3. the doctor, inside --------------------------------------------------------------
log "doctor inside the image"
if ! out=$(scripts/container.sh shell -c scripts/doctor.sh 2>&1); then
  echo "$out" >&2; fail "scripts/doctor.sh inside the image found something missing (above)"
fi
echo "$out" | tail -n 1 >&2

# ---- 4. lesson 1, inside --------------------------------------------------------------------
t=$(date +%s)
log "lesson 1: scripts/container.sh lesson 1 --repeat 1"
lesson_log=$STATE/lesson-1.log
if ! scripts/container.sh --results "$STATE/results" lesson 1 --repeat 1 > "$lesson_log" 2>&1; then
  tail -n 40 "$lesson_log" >&2; fail "scripts/container.sh lesson 1 failed (log above)"
fi
LESSON_S=$(( $(date +%s) - t ))
grep -q '^container.sh: engine podman' "$lesson_log" || fail "container.sh did not say which engine it used"
# Nothing built or seeded again: the image's binaries and data sets.
grep -q 'reusing /flickrkillr/data/flickrkillr-2000.db' "$lesson_log" || { tail -n 40 "$lesson_log" >&2; fail "lesson 1 did not reuse the image's data set"; }
! grep -qE 'seeding |Compiling|creating peers/python/.venv' "$lesson_log" || { tail -n 40 "$lesson_log" >&2; fail "lesson 1 seeded, built or made the venv again in the container"; }
# The lesson's table: its heading, every row with a measured req/s.
grep -qF '## Lesson 1' "$lesson_log" || { tail -n 40 "$lesson_log" >&2; fail "lesson 1's output has no \"## Lesson 1\""; }
for row in stage-1 python-1 stage-2; do
  line=$(grep -F "| \`$row\` |" "$lesson_log" | head -n 1) || { tail -n 40 "$lesson_log" >&2; fail "lesson 1's table has no row $row"; }
  rps=$(echo "$line" | awk -F'|' '{ gsub(/[ ,]/, "", $3); print $3 }')
  awk -v r="$rps" 'BEGIN { exit !(r + 0 > 0) }' || fail "lesson 1's row $row has no req/s: $line"
done
# Its results landed on the host.
ls "$STATE"/results/lessons/1-cgi/*/raw/rows.tsv >/dev/null 2>&1 || fail "no results in $STATE/results/lessons/1-cgi/ on the host"
sed -n '/^## Lesson 1/,$p' "$lesson_log" | grep '^|' >&2
log "lesson 1 in the container: ${LESSON_S} s"

# ---- 5. lesson 1, natively and in the container, alternating ----------------------------------
# One repetition at a time, native and container in turn (N C N C N after
# step 4's C), so that the two sides sample the same minutes of the
# machine: run one after the other, minutes apart, their ranges missed
# each other by chance (results/experiments/container-stage-1). The
# tables must have the same shape (a failure if not); each req/s median
# against the other side's range is printed (reported, not failed: on a
# busy machine three windows a side may still not overlap).
native_logs=() container_logs=("$lesson_log")
for k in 1 2 3 4 5; do
  if [ $((k % 2)) = 1 ]; then
    log "lesson 1 natively ($(( (k + 1) / 2 )) of 3): scripts/lesson.sh 1 --repeat 1"
    f=$STATE/lesson-1-native-$k.log
    scripts/lesson.sh 1 --repeat 1 > "$f" 2>&1 || { tail -n 40 "$f" >&2; fail "scripts/lesson.sh 1 natively failed (log above)"; }
    native_logs+=("$f")
  else
    log "lesson 1 in the container ($(( k / 2 + 1 )) of 3)"
    f=$STATE/lesson-1-container-$k.log
    scripts/container.sh --results "$STATE/results" lesson 1 --repeat 1 > "$f" 2>&1 || { tail -n 40 "$f" >&2; fail "scripts/container.sh lesson 1 failed (log above)"; }
    container_logs+=("$f")
  fi
done
table_shape() { sed -n '/^## Lesson 1/,$p' "$1" | grep '^| ' | awk -F'|' '{ print $2 }' | tr -d ' '; sed -n '/^## Lesson 1/,$p' "$1" | grep -m1 '^| row |'; }
[ "$(table_shape "$lesson_log")" = "$(table_shape "${native_logs[0]}")" ] \
  || { diff <(table_shape "$lesson_log") <(table_shape "${native_logs[0]}") >&2; fail "lesson 1's table has another shape in the container than natively (diff above)"; }
# A row's realistic-mix req/s in one log (`| `row` | 16,268 | …`), and the
# median (min–max) of a side's logs.
rps_of() { grep -F "| \`$2\` |" "$1" | head -n 1 | awk -F'|' '{ gsub(/[ ,]/, "", $3); print $3 }'; }
side() { local row=$1 f; shift; for f in "$@"; do rps_of "$f" "$row"; done | sort -g \
  | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[1], v[NR] }'; }
overlap=0
for row in stage-1 python-1 stage-2; do
  read -r cm cmin cmax <<< "$(side "$row" "${container_logs[@]}")"
  read -r nm nmin nmax <<< "$(side "$row" "${native_logs[@]}")"
  verdict=$(awk -v cm="$cm" -v cmin="$cmin" -v cmax="$cmax" -v nm="$nm" -v nmin="$nmin" -v nmax="$nmax" \
    'BEGIN { print ((nm >= cmin && nm <= cmax) || (cm >= nmin && cm <= nmax)) ? "within" : "outside" }')
  [ "$verdict" = within ] && overlap=$((overlap + 1))
  echo "lesson 1, $row, req/s (realistic mix, 3 alternating runs a side): container $cm ($cmin–$cmax), native $nm ($nmin–$nmax): a median $verdict the other's range" >&2
done
log "lesson 1: the same table in the container and natively; $overlap of 3 rows with a median inside the other's range"

echo "container image: base ${BASE_S} s, build ${BUILD_S} s, $((SIZE / 1024 / 1024)) MiB, lesson 1 ${LESSON_S} s; total $(( $(date +%s) - T0 )) s"
echo "container image: 1 passed, 0 failed"
