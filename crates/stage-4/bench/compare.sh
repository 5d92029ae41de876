#!/usr/bin/env bash
# The three speed comparisons of stages 3 and 4, each pair measured in the
# same run, interleaved (wrk -t2 -c64, keep-alive; median of ROUNDS runs):
#
#   A  user page:      stage-2 --gil         vs stage-3 --instances 2 --gil
#   B  one hot page:   nginx serving a static file of the same size
#                                            vs stage-4 (answered from memcached)
#   C  mixed load:     stage-3               vs stage-4   (bench/mix.lua: many
#                      users' pages and photos, 10% with a session)
#
#   crates/stage-4/bench/compare.sh [DB] [ROUNDS] [SECONDS]
#
# Needs release builds of stage-2/3/4 in $CARGO_TARGET_DIR (default target/),
# wrk, nginx, memcached, curl. Everything runs on 127.0.0.1 and is stopped
# (by pid) on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
db=${1:-$root/data/flickrkillr.db}
rounds=${2:-3}
secs=${3:-10}
bin=${CARGO_TARGET_DIR:-$root/target}/release
nginx=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start() { # start NAME CMD... ; sets $addr
  local name=$1; shift
  RUST_LOG=warn "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 1 600); do
    addr=$(sed -n 's/^listening on http:\/\///p' "$work/$name.out")
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "$name did not start; see $work/$name.err" >&2; exit 1
}

rps() { sed -n 's/^Requests\/sec: *//p'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

pair() { # pair LABEL NAME1 CMD1 NAME2 CMD2 (CMDs are wrk argument strings)
  local label=$1 n1=$2 c1=$3 n2=$4 c2=$5 r1="" r2=""
  for r in $(seq 1 "$rounds"); do
    r1="$r1 $(wrk -t2 -c64 -d"${secs}s" $c1 | rps)"
    r2="$r2 $(wrk -t2 -c64 -d"${secs}s" $c2 | rps)"
  done
  local m1 m2
  m1=$(echo "$r1" | median); m2=$(echo "$r2" | median)
  printf '%s: %s %.0f req/s (runs:%s) | %s %.0f req/s (runs:%s) | ratio %.2f\n' \
    "$label" "$n1" "$m1" "$r1" "$n2" "$m2" "$r2" "$(echo "$m2 / $m1" | bc -l)"
}

login() { # login ADDR OUTFILE: 50 sessions, one "sid=…" per line
  : >"$2"
  for u in $(seq 1 50); do
    curl -s -D - -o /dev/null -d "username=user$u&password=pw-user$u" "http://$1/login" |
      sed -n 's/^[Ss]et-[Cc]ookie: \(sid=[^;]*\).*/\1/p' >>"$2"
  done
}

start s2gil "$bin/stage-2" --db "$db" --listen 127.0.0.1:0 --gil; s2gil=$addr
start s3gil "$bin/stage-3" --db "$db" --listen 127.0.0.1:0 --gil; s3gil=$addr
start s3 "$bin/stage-3" --db "$db" --listen 127.0.0.1:0; s3=$addr
start s4 "$bin/stage-4" --db "$db" --listen 127.0.0.1:0; s4=$addr

# A static copy of stage-4's cached /user/user3, served by an nginx with the
# same workers and listening setup as the stages' nginx.
mkdir -p "$work/static/html" "$work/static/tmp"
chmod 755 "$work" "$work/static" "$work/static/html"
curl -s "http://$s4/user/user3" >/dev/null
curl -s "http://$s4/user/user3" >"$work/static/html/user3.html"
chmod 644 "$work/static/html/user3.html"
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/static/nginx.conf" <<EOC
worker_processes 2;
pid $work/static/nginx.pid;
lock_file $work/static/nginx.lock;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off; server_tokens off; keepalive_requests 1000000;
  client_body_temp_path $work/static/tmp/b; proxy_temp_path $work/static/tmp/p;
  fastcgi_temp_path $work/static/tmp/f; uwsgi_temp_path $work/static/tmp/u; scgi_temp_path $work/static/tmp/s;
  types { text/html html; }
  charset utf-8;
  server { listen 127.0.0.1:$sport reuseport; root $work/static/html; }
}
EOC
"$nginx" -p "$work/static/" -c "$work/static/nginx.conf" -e stderr -g 'daemon off;' 2>"$work/static.err" &
pids+=($!)
sleep 0.5

login "$s3" "$work/s3.cookies"
login "$s4" "$work/s4.cookies"
photos=$(dirname "$db")/photos
ls "$photos" >"$work/files.txt"
# Warm both stages on the mixed load once (caches, SQLite pages).
wrk -t2 -c64 -d"${secs}s" -s "$here/mix.lua" "http://$s3" -- "$work/s3.cookies" "$work/files.txt" >/dev/null
wrk -t2 -c64 -d"${secs}s" -s "$here/mix.lua" "http://$s4" -- "$work/s4.cookies" "$work/files.txt" >/dev/null

pair "A user page" stage-2-gil "http://$s2gil/user/user3" stage-3-gil "http://$s3gil/user/user3"
pair "B hot page " static-nginx "http://127.0.0.1:$sport/user3.html" stage-4 "http://$s4/user/user3"
pair "C mixed    " stage-3 "-s $here/mix.lua http://$s3 -- $work/s3.cookies $work/files.txt" \
  stage-4 "-s $here/mix.lua http://$s4 -- $work/s4.cookies $work/files.txt"
