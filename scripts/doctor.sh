#!/usr/bin/env bash
# Is this machine ready for FlickrKillr's runs (scripts/compare.sh,
# scripts/lesson.sh, scripts/test.sh)? Checks only: changes nothing,
# installs nothing, builds nothing.
#
#   scripts/doctor.sh
#
# Looks at the OS, the cores and the layout a run would use, memory and
# disk, the Rust toolchain (against Cargo.toml's rust-version), a C
# compiler, each tool (nginx with the modules the stages use, memcached,
# lighttpd, ab, wrk, curl, sqlite3, nc), the CPython peer's venv
# (peers/python/.venv, its pinned packages), perf, the release build
# (target/release) and the seeded databases (data/). Tools are looked up in
# PATH, as a shell (and compare.sh) finds them.
#
# Each line is "ok", "MISSING" (with the one command that fixes it),
# "note" (not needed for the runs, or made by the first run itself: the
# full-size data set, perf) . Exits 1 if anything is MISSING, else 0.
#
# With FK_PREBUILT=1 (the container image) the toolchain is not needed: the
# release binaries are there already.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "doctor.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

MISSING=0
ok() { printf '  ok       %-28s %s\n' "$1" "$2"; }
note() { printf '  note     %-28s %s\n' "$1" "$2"; }
missing() { # what, why, the command that fixes it
  printf '  MISSING  %-28s %s\n           fix: %s\n' "$1" "$2" "$3"
  MISSING=$((MISSING + 1))
}
first_line() { "$@" 2>&1 | head -n 1 || true; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo "
# Installing a Debian package: the whole set at once is scripts/setup.sh.
apt_fix() { echo "${SUDO}apt-get install -y $1   (or all of them: ${SUDO}scripts/setup.sh)"; }

# A tool on PATH; if it is only in an sbin directory off PATH, the fix is
# the PATH, not an installation.
tool() { # name, package, version command...
  local name=$1 pkg=$2; shift 2
  local path dir
  if path=$(command -v "$name" 2>/dev/null); then
    ok "$name" "$path: $(first_line "$@")"
    return 0
  fi
  for dir in /usr/sbin /usr/local/sbin /sbin; do
    if [ -x "$dir/$name" ]; then
      missing "$name" "not on PATH (it is $dir/$name)" "export PATH=\"\$PATH:$dir\""
      return 1
    fi
  done
  missing "$name" "not installed" "$(apt_fix "$pkg")"
  return 1
}

echo "== machine"
os_name=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null || true)
os_like=$(sed -n 's/^\(ID\|ID_LIKE\)="\{0,1\}\([^"]*\)"\{0,1\}$/\2/p' /etc/os-release 2>/dev/null | tr '\n' ' ' || true)
os="${os_name:-$(uname -s)}"
case "$os_like" in
  *debian*|*ubuntu*) ok os "$os, $(uname -r)" ;;
  *) note os "$os: scripts/setup.sh knows apt-get only; elsewhere install the tools below by hand, or use scripts/container.sh" ;;
esac
cores=$(nproc)
ok cores "$cores ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //' || echo unknown cpu))"
allowed=$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/self/status 2>/dev/null || true)
ok layout "a run uses cores ${allowed:-all}: the site and the load tool share them (no pinning unless a run's options ask for it)"
[ "$cores" -ge 2 ] || note cores "one core: stage-3's two instances and the load tool all share it; the talk's figures assume two"
mem_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
if [ "${mem_kib:-0}" -ge $((1024 * 1024)) ]; then
  ok memory "$((mem_kib / 1024)) MiB available"
else
  missing memory "$((mem_kib / 1024)) MiB available; a run needs about 1 GiB" "close other programs (or give the VM/container more memory)"
fi
disk_kib=$(df -Pk . | awk 'NR == 2 {print $4}')
if [ "${disk_kib:-0}" -ge $((3 * 1024 * 1024)) ]; then
  ok disk "$((disk_kib / 1024 / 1024)) GiB free here"
else
  missing disk "$((disk_kib / 1024)) MiB free; the build and the data sets need about 3 GiB" "free some space (cargo clean in another project, rm -rf target/ here)"
fi

echo "== toolchain"
want=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if [ "${FK_PREBUILT:-}" = 1 ]; then
  note rustc "not needed: FK_PREBUILT=1 (the release binaries are prebuilt)"
else
  if command -v rustc >/dev/null 2>&1 && command -v cargo >/dev/null 2>&1; then
    have=$(rustc --version | cut -d' ' -f2)
    if [ "$(printf '%s\n%s\n' "$want" "${have%%-*}" | sort -V | head -n 1)" = "$want" ]; then
      ok rustc "$have (the workspace needs $want, edition 2024)"
    elif command -v rustup >/dev/null 2>&1; then
      missing rustc "$have is older than the workspace's rust-version $want" "rustup update stable"
    else
      missing rustc "$have is older than the workspace's rust-version $want" "${SUDO}apt-get install -y rustc-web cargo-web   (Debian 12; or rustup)"
    fi
  else
    missing rustc "no rustc/cargo on PATH (the workspace needs $want)" "${SUDO}apt-get install -y rustc-web cargo-web   (Debian 12; or rustup)"
  fi
  if command -v cc >/dev/null 2>&1; then
    ok cc "$(first_line cc --version) (rusqlite builds SQLite with it)"
  else
    missing cc "no C compiler (rusqlite builds SQLite)" "$(apt_fix gcc)"
  fi
fi

echo "== tools"
if tool nginx nginx nginx -v; then
  # The stages' configurations use these modules; Debian's nginx has them.
  conf=$(nginx -V 2>&1)
  gone=""
  for m in http_memcached_module http_upstream_hash_module http_upstream_keepalive_module http_proxy_module; do
    case "$conf" in *"--without-$m"*) gone="$gone $m" ;; esac
  done
  if [ -z "$gone" ]; then
    ok "nginx -V" "memcached, upstream (hash, keepalive) and proxy modules built in"
  else
    missing "nginx -V" "built without$gone (stage-3/4 need them)" "$(apt_fix nginx) (Debian's nginx has them)"
  fi
fi
tool memcached memcached memcached -V || true
tool lighttpd lighttpd lighttpd -v || true
tool ab apache2-utils ab -V || true
tool wrk wrk wrk -v || true
tool curl curl curl --version || true
tool sqlite3 sqlite3 sqlite3 --version || true
tool nc netcat-openbsd nc -h || true
# perf: only `compare.sh --profile` (the flame graphs) needs it, and there
# only where the kernel lets it sample every CPU (not in some containers).
if perf --version >/dev/null 2>&1; then
  probe=$(mktemp)
  if perf record -e cpu-clock -a -o "$probe" -- true >/dev/null 2>&1; then
    ok perf "$(first_line perf --version) (compare.sh --profile's flame graphs)"
  else
    note perf "$(first_line perf --version), but the kernel forbids perf_event here (kernel.perf_event_paranoid = $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?')): --profile runs without flame graphs (as root, or sysctl kernel.perf_event_paranoid=-1)"
  fi
  rm -f "$probe"
else
  note perf "not installed: only compare.sh --profile needs it (flame graphs): ${SUDO}apt-get install -y linux-perf"
fi

echo "== the CPython peer"
venv=peers/python/.venv req=peers/python/requirements.txt
if [ ! -x "$venv/bin/python" ]; then
  if command -v python3 >/dev/null 2>&1; then
    missing venv "no $venv" "${SUDO}scripts/setup.sh   (makes it from $req)"
  else
    missing python3 "no python3" "$(apt_fix "python3 python3-venv")"
  fi
else
  # Every pinned package at its pinned version (pip's own view).
  frozen=$("$venv/bin/python" -m pip freeze --all 2>/dev/null | tr 'A-Z_' 'a-z-' || true)
  wrong=""
  while read -r pin; do
    [ -n "$pin" ] || continue
    grep -qxF -- "$(echo "$pin" | tr 'A-Z_' 'a-z-')" <<< "$frozen" || wrong="$wrong ${pin}"
  done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$req")
  if [ -z "$wrong" ]; then
    ok venv "$venv: $("$venv/bin/python" --version 2>&1), every pin of $req"
  else
    missing venv "$venv lacks or has other versions of:$wrong" "rm -rf $venv && ${SUDO}scripts/setup.sh"
  fi
fi

echo "== build and data"
bins=(stage-1 stage-1-cgi stage-2 stage-3 stage-4 seed loadgen report cpuwatch flame hyper-hello)
absent=()
for b in "${bins[@]}"; do [ -x "target/release/$b" ] || absent+=("$b"); done
if [ ${#absent[@]} -eq 0 ]; then
  ok build "target/release: ${bins[*]}"
else
  missing build "target/release lacks ${absent[*]}" "cargo build --release --workspace --bins"
fi
# The data sets compare.sh reuses (its seed_db): the lessons' 2,000 users;
# the full 100,000 (lesson 6, the main job) the first full run seeds (~5 s).
for users in 2000 100000; do
  for kind in "" -noindex; do
    db=data/flickrkillr-$users$kind.db
    fix="target/release/seed --users $users --out $db --photos-dir data/photos$([ -z "$kind" ] || echo ' --no-index')"
    if [ -s "$db" ] && n=$(sqlite3 "$db" 'SELECT count(*) FROM users' 2>/dev/null) && [ "$n" = "$users" ]; then
      ok "${db#data/}" "$n users"
    elif [ "$users" = 2000 ]; then
      missing "${db#data/}" "not seeded (the lessons use it)" "$fix"
    else
      note "${db#data/}" "not seeded yet: lesson 6 and the full run seed it (~5 s); now: $fix"
    fi
  done
done

echo
if [ "$MISSING" -eq 0 ]; then
  echo "doctor: everything the runs need is here"
else
  echo "doctor: $MISSING missing (each with its fix above)"
  exit 1
fi
