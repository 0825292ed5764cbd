#!/usr/bin/env bash
# Runs the container engines for the container tests and `npm run start:containers`, on private
# paths, for as long as its standard input stays open:
#
#   bash deploy/containers/engine.sh run       # prints "engine: ready <env file>", then waits
#   bash deploy/containers/engine.sh check     # exit 0 if containers can run here, 75 and why if not
#
# - Docker: Debian's dockerd, started here and ended by its PID (never the system's docker
#   service): data in $BERTH_CONTAINERS_STATE/docker (kept between runs: images, build cache),
#   socket, pid file and exec root in $BERTH_CONTAINERS_RUN.
# - podman: no daemon; the env file points its clients at private configuration
#   (containers.conf, storage.conf) with storage in $BERTH_CONTAINERS_STATE/podman. The settings
#   podman 4.3 needs on these machines are in podman_config below.
#
# The env file (shell syntax, also read by the Node harness) has DOCKER_HOST, DOCKER (the
# engine's own client), COMPOSE, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF and the Compose and
# builder settings the tests use.
#
# Stopping: when standard input reaches its end (the harness closes it, or the harness died) or
# on SIGINT/SIGTERM/SIGHUP, every podman container is removed, dockerd gets SIGTERM (it stops its
# containers) and SIGKILL after 30 s, and what the engines changed on the host is undone: the
# iptables rules and bridges they added, and net.ipv4.ip_forward. Only one runs per state folder
# at a time (flock); a dockerd left by a run that was killed outright is ended by the PID in its
# pid file on the next start.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly DOCKER_DATA=$BERTH_CONTAINERS_STATE/docker
readonly PODMAN_DATA=$BERTH_CONTAINERS_STATE/podman
readonly DOCKER_EXEC=$BERTH_CONTAINERS_RUN/docker
readonly DOCKER_SOCK=$BERTH_CONTAINERS_RUN/docker.sock
readonly DOCKER_PID=$BERTH_CONTAINERS_RUN/docker.pid
readonly PODMAN_RUN=$BERTH_CONTAINERS_RUN/podman
readonly ENV_FILE=$BERTH_CONTAINERS_RUN/engine.env
# Host state before the first engine started; kept until it has been restored.
readonly HOST_SAVED=$BERTH_CONTAINERS_STATE/host-before-engines
readonly LOG_DIR=$BERTH_CONTAINERS_STATE/logs
# How long to wait for the lock held by another run, for dockerd to answer, and for it to stop (s).
readonly LOCK_WAIT_S=900
readonly START_WAIT_S=60
readonly STOP_WAIT_S=30
# The shared servers every engineer's tests use: they must still answer on loopback after the
# engine changed iptables.
readonly LOOPBACK_PORTS=(5432 3306)

export DOCKER_HOST=unix://$DOCKER_SOCK

check() {
  require_root
  require_disk "$BERTH_CONTAINERS_STATE"
  local tool
  for tool in dockerd "$DOCKER" containerd runc podman catatonit debootstrap iptables "$COMPOSE"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing; run: bash deploy/containers/install.sh"
  done
}

tcp_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_is_ours PIDFILE PATTERN: the pid file names a live process whose command line has PATTERN
# (our private path), so a recycled PID is never signalled.
pid_is_ours() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# stop_pid PID SECONDS: SIGTERM, then SIGKILL if it is still there after SECONDS.
stop_pid() {
  local pid=$1 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $(($2 * 10)) ]; then
      say "pid $pid did not stop within $2 s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      return 0
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# Processes of our engine's containers (containerd, shims, conmon) whose command line names our
# private run folder: after a SIGKILL of dockerd they are the ones left. Matched by that path, so
# nothing of anyone else's is touched.
leftover_pids() {
  local proc cmd
  for proc in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$proc/cmdline") || continue
    case $cmd in *"$BERTH_CONTAINERS_RUN/"*) [ "${proc#/proc/}" != $$ ] && echo "${proc#/proc/}" ;; esac
  done
}

save_host_state() {
  mkdir -p "$BERTH_CONTAINERS_STATE"
  # A run killed before it restored them leaves the file: the state before *that* run is the one to restore.
  [ -e "$HOST_SAVED" ] && return 0
  {
    echo "ip_forward=$(sysctl -n net.ipv4.ip_forward)"
    echo "forward_policy=$(iptables -S FORWARD | awk '$1 == "-P" { print $3 }')"
    ip -o link show type bridge | awk -F': ' '{ print "bridge=" $2 }'
  } >"$HOST_SAVED"
}

# Removes the iptables rules and chains the engines added (Docker's DOCKER* chains, CNI's CNI-*
# chains, rules on their bridges), the bridges that were not there before, and puts ip_forward and
# the FORWARD policy back.
restore_host_state() {
  [ -e "$HOST_SAVED" ] || return 0
  local table rule chain bridge
  for table in filter nat; do
    iptables -t "$table" -S 2>/dev/null |
      grep -E '^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) ' |
      grep -E 'DOCKER|CNI-|docker0|br-[0-9a-f]{12}|cni-podman' |
      sed 's/^-A/-D/' |
      while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && ($2 ~ /^DOCKER/ || $2 ~ /^CNI-/) { print $2 }'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && ($2 ~ /^DOCKER/ || $2 ~ /^CNI-/) { print $2 }'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  for bridge in $(ip -o link show type bridge | awk -F': ' '{ print $2 }'); do
    case $bridge in docker0 | br-* | cni-podman*) ;; *) continue ;; esac
    grep -qx "bridge=$bridge" "$HOST_SAVED" || ip link delete "$bridge" 2>/dev/null || true
  done
  local ip_forward forward_policy
  ip_forward=$(sed -n 's/^ip_forward=//p' "$HOST_SAVED")
  forward_policy=$(sed -n 's/^forward_policy=//p' "$HOST_SAVED")
  [ -n "$forward_policy" ] && iptables -P FORWARD "$forward_policy"
  [ -n "$ip_forward" ] && sysctl -qw "net.ipv4.ip_forward=$ip_forward"
  rm -f "$HOST_SAVED"
}

stop_podman() {
  [ -e "$PODMAN_RUN/containers.conf" ] || return 0
  CONTAINERS_CONF=$PODMAN_RUN/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_RUN/storage.conf \
    timeout 60 podman pod rm --all --force --time 5 >/dev/null 2>&1 || true
  CONTAINERS_CONF=$PODMAN_RUN/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_RUN/storage.conf \
    timeout 60 podman rm --all --force --time 5 >/dev/null 2>&1 || true
}

stop_docker() {
  if pid_is_ours "$DOCKER_PID" "$DOCKER_DATA"; then
    stop_pid "$(cat "$DOCKER_PID")" "$STOP_WAIT_S"
  fi
  rm -f "$DOCKER_PID"
}

# Containers of ours still known to runc (its state folder is under our exec root): only after
# dockerd was killed outright, since a dockerd that stops ends its containers itself.
kill_leftover_containers() {
  local root=$DOCKER_EXEC/runtime-runc/moby id
  [ -d "$root" ] || return 0
  for id in $(runc --root "$root" list -q 2>/dev/null); do
    runc --root "$root" kill "$id" KILL 2>/dev/null || true
    runc --root "$root" delete --force "$id" 2>/dev/null || true
  done
}

stop_all() {
  stop_podman
  stop_docker
  kill_leftover_containers
  local pid
  for pid in $(leftover_pids); do stop_pid "$pid" 5; done
  restore_host_state
  rm -f "$ENV_FILE"
}

# podman 4.3 as root on these machines: runc (crun refuses the cgroup v1/v2 hybrid layout),
# cgroupfs (no systemd), events in a file (no journald), and default ulimits within the
# machine's hard limits (podman's own defaults fail with "setrlimit RLIMIT_NOFILE: Operation not
# permitted": there is no CAP_SYS_RESOURCE).
podman_config() {
  mkdir -p "$PODMAN_RUN" "$PODMAN_DATA/storage" "$PODMAN_DATA/networks"
  cat >"$PODMAN_RUN/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_RUN/events.log"
tmp_dir = "$PODMAN_RUN/tmp"
volume_path = "$PODMAN_DATA/volumes"

[network]
network_config_dir = "$PODMAN_DATA/networks"
CONF
  cat >"$PODMAN_RUN/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$PODMAN_DATA/storage"
runroot = "$PODMAN_RUN/storage"
CONF
}

start_docker() {
  mkdir -p "$DOCKER_DATA" "$DOCKER_EXEC" "$LOG_DIR"
  # With ip_forward already on, dockerd leaves the FORWARD policy alone (it sets it to DROP only
  # when it has to turn forwarding on itself, which would cut off others' forwarded traffic).
  sysctl -qw net.ipv4.ip_forward=1
  dockerd --data-root "$DOCKER_DATA" --exec-root "$DOCKER_EXEC" --pidfile "$DOCKER_PID" \
    -H "$DOCKER_HOST" --log-level warn >"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  local pid=$! waited=0
  until "$DOCKER" info >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_DIR/dockerd.log" >&2
      die "dockerd exited while starting (log: $LOG_DIR/dockerd.log)"
    fi
    [ "$waited" -lt $((START_WAIT_S * 10)) ] || die "dockerd did not answer within $START_WAIT_S s (log: $LOG_DIR/dockerd.log)"
    sleep 0.1
    waited=$((waited + 1))
  done
  say "dockerd $("$DOCKER" version -f '{{.Server.Version}}') running, pid $pid, data in $DOCKER_DATA"
}

write_env() {
  cat >"$ENV_FILE.tmp" <<ENV
DOCKER_HOST=$DOCKER_HOST
DOCKER=$DOCKER
COMPOSE=$COMPOSE
DOCKER_BUILDKIT=0
COMPOSE_DOCKER_CLI_BUILD=0
COMPOSE_PARALLEL_LIMIT=1
CONTAINERS_CONF=$PODMAN_RUN/containers.conf
CONTAINERS_STORAGE_CONF=$PODMAN_RUN/storage.conf
BERTH_ENGINE_PID=$$
ENV
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

run() {
  check
  mkdir -p "$BERTH_CONTAINERS_STATE" "$BERTH_CONTAINERS_RUN"
  exec 9>"$BERTH_CONTAINERS_STATE/engine.lock"
  if ! flock -n 9; then
    say "another run is using the engines in $BERTH_CONTAINERS_STATE; waiting for it (up to $LOCK_WAIT_S s)"
    flock -w "$LOCK_WAIT_S" 9 || die "the engines in $BERTH_CONTAINERS_STATE stayed busy for $LOCK_WAIT_S s"
  fi
  # Holding the lock, nothing of ours should run: whatever does is left from a killed run.
  stop_all

  local before=() port
  for port in "${LOOPBACK_PORTS[@]}"; do tcp_answers "$port" && before+=("$port"); done
  save_host_state
  trap stop_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  start_docker
  podman_config
  for port in "${before[@]}"; do
    tcp_answers "$port" || die "127.0.0.1:$port answered before dockerd started and does not now"
  done
  write_env
  echo "engine: ready $ENV_FILE"
  # Until our standard input ends. `wait` returns at once on a trapped signal; a plain `read`
  # would hold the trap until a line arrived.
  cat <&0 >/dev/null &
  wait $! || true
}

case ${1:-} in
  run) run ;;
  check) check ;;
  *) die "usage: engine.sh run | check" ;;
esac
