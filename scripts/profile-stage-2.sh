#!/usr/bin/env bash
# perf profile of one stage-2 binary under wrk (one user page): the top symbols by self time.
#   scripts/profile-stage-2.sh BIN OUT_PREFIX SITE_DIR   (SITE_DIR: site.db and photos/ from `seed`)
set -euo pipefail
[ $# -eq 3 ] || { sed -n '2,3p' "$0" >&2; exit 2; }
BIN=$1 OUT=$2 SITE=$3
T=$(mktemp -d)
PID=
trap '[ -z "$PID" ] || kill -TERM "$PID" 2>/dev/null || true; rm -rf "$T"' EXIT
$BIN --db $SITE/site.db --photos $SITE/photos --listen 127.0.0.1:0 > $T/srv.out 2>$T/srv.err &
PID=$!
for i in $(seq 100); do URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' $T/srv.out); [ -n "$URL" ] && break; sleep 0.1; done
wrk -t2 -c64 -d2s "$URL/user/user42" > /dev/null
perf record -F 999 -g -p $PID -o $T/perf.data -- sleep 6 > /dev/null 2>&1 &
PP=$!
wrk -t2 -c64 -d6s --latency "$URL/user/user42" > $OUT.wrk.txt
wait $PP || true
kill -TERM $PID; wait $PID || true; PID=
perf report -i $T/perf.data --stdio -g none --no-children --sort symbol --percent-limit 0.7 2>/dev/null | grep -v "^$" | grep "%" | head -40 > $OUT.top.txt
