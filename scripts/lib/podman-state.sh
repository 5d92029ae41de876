# A podman of our own, in a state directory: its own image store
# (--root/--runroot), its own containers.conf and TMPDIR (podman's build
# cache mounts), so the user's podman configuration and images are neither
# read nor changed. Sourced by scripts/container-test.sh and
# results/experiments/container-stage-1/run.sh.
#
# podman_state DIR: makes it; sets P (the podman command, an array) and
#   PODMAN_ARGS (its options, a string), exports CONTAINERS_CONF and TMPDIR.
# podman_state_clear DIR: removes its containers and images and unmounts
#   whatever the store still has mounted under DIR (deepest first).
podman_state() {
  local state=$1
  mkdir -p "$state/root" "$state/run" "$state/tmp"
  cat > "$state/containers.conf" <<'CONF'
# The podman configuration of a test or an experiment (CONTAINERS_CONF).
[containers]
# This kind of machine lacks CAP_SYS_RESOURCE: podman's default
# RLIMIT_NOFILE/RLIMIT_NPROC cannot be set.
default_ulimits = []
[engine]
# crun refuses the machine's hybrid cgroups; runc with cgroupfs runs.
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
  export CONTAINERS_CONF=$state/containers.conf TMPDIR=$state/tmp
  PODMAN_ARGS="--root $state/root --runroot $state/run --runtime runc --cgroup-manager=cgroupfs"
  read -r -a P <<< "podman $PODMAN_ARGS"
}

podman_state_clear() {
  "${P[@]}" rm -a -f > /dev/null 2>&1 || true
  "${P[@]}" rmi -a -f > /dev/null 2>&1 || true
  awk -v s="$1/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
