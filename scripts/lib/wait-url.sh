# Sourced: wait_url LOG waits (30 s at most) for a stage's first
# `listening on http://ADDR` line in LOG and sets URL to it; returns 1 if
# none came. (Every stage prints that line once it accepts connections.)
wait_url() {
  local i
  for ((i = 0; i < 300; i++)); do
    URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p;T;q' "$1")
    [ -n "$URL" ] && return 0
    sleep 0.1
  done
  return 1
}
