# Sourced by scripts/compare.sh and crates/loadgen/calibrate.sh: a free
# loopback port, and the config of an nginx that serves static files and
# nothing else (the static-file ceiling, the load generator's calibration).

# A free loopback port: one nothing answers on (bash's /dev/tcp, no python).
free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# write_static_nginx_conf DIR PORT WORKERS ROOT DEFAULT_TYPE [HOST]
# Writes DIR/nginx.conf: every path nginx writes stays in DIR, no access log
# (a write per request would measure the disk), keep-alive for a whole run.
# It listens on HOST:PORT (default 127.0.0.1).
write_static_nginx_conf() {
  local dir=$1 port=$2 workers=$3 root=$4 type=$5 host=${6:-127.0.0.1}
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000;
  default_type "$type";
  server {
    listen $host:$port;
    root $root;
  }
}
CONF
}
