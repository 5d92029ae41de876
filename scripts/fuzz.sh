#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each), on the
# stable toolchain (RUSTC_BOOTSTRAP=1 lets it accept cargo fuzz's flags).
# New interesting inputs are merged into fuzz/corpus/<target>/ (commit them);
# a crash is copied to fuzz/regressions/<target>/, which `cargo test`
# replays forever after (crates/*/tests/fuzz_corpus.rs).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(parsers header_block cgi_env handle)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
status=0
for t in "${targets[@]}"; do
  echo "==> $t for ${secs}s" >&2
  mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t"
  before=$(ls fuzz/corpus/$t | wc -l)
  art=$(mktemp -d)
  if ! cargo fuzz run --release "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -artifact_prefix="$art/" -max_len=4096 2> "$art/log"; then
    status=1
    for f in "$art"/crash-* "$art"/oom-* "$art"/timeout-*; do
      [ -e "$f" ] && cp "$f" "fuzz/regressions/$t/" && echo "FOUND: $t $(basename "$f") -> fuzz/regressions/$t/" >&2
    done
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$art/log" | tail -1 || true)
  echo "$t: ${runs:-see log} in ${secs}s, corpus $before -> $(ls fuzz/corpus/$t | wc -l)" >&2
  tail -n 3 "$art/log" >&2
  rm -rf "$art"
done
exit $status
