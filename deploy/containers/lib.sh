# Shared by the scripts in deploy/containers/ (sourced, never run): paths, refusals, timed steps.
#
# Everything the container tooling keeps lives outside the clone, named for berth, so a second
# run on the same machine is warm (images, build cache, Compose binary) and a fresh clone needs
# nothing but root and disk:
#   $BERTH_CONTAINERS_STATE  /var/lib/berth-containers  engine data (docker/, podman/)
#   $BERTH_CONTAINERS_CACHE  /var/cache/berth-containers downloads: Compose v2, debootstrap trees
#   $BERTH_CONTAINERS_RUN    /run/berth-containers       sockets, pid files, exec roots

BERTH_CONTAINERS_STATE=${BERTH_CONTAINERS_STATE:-/var/lib/berth-containers}
BERTH_CONTAINERS_CACHE=${BERTH_CONTAINERS_CACHE:-/var/cache/berth-containers}
BERTH_CONTAINERS_RUN=${BERTH_CONTAINERS_RUN:-/run/berth-containers}
# Free space the container part needs at the state folder: engine data for the base images,
# the project's images and their build cache (about 3 GiB measured), with room to spare (GiB).
BERTH_CONTAINERS_NEED_GIB=${BERTH_CONTAINERS_NEED_GIB:-6}
# Exit status of a refusal that means "containers cannot run on this machine" (not root, short
# disk): the test harness turns it into skipped tests, any other failure stays a failure.
readonly BERTH_CANNOT_RUN=75

# The engine's own client (Debian's docker.io), not whichever `docker` comes first on PATH.
DOCKER=${DOCKER:-/usr/bin/docker}
COMPOSE=${COMPOSE:-$BERTH_CONTAINERS_CACHE/compose/docker-compose}

say() { printf '%s: %s\n' "${0##*/}" "$*"; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
# cannot_run REASON: refuse with the exit status the harness reads as "skip, and say why".
cannot_run() { printf '%s: cannot run containers here: %s\n' "${0##*/}" "$*" >&2; exit "$BERTH_CANNOT_RUN"; }

require_root() {
  [ "$(id -u)" -eq 0 ] || cannot_run "not root (uid $(id -u)); starting a container engine, debootstrap and apt-get need root"
}

# require_disk DIR: the file system holding DIR (or its nearest existing parent) has
# $BERTH_CONTAINERS_NEED_GIB GiB free.
require_disk() {
  local dir=$1 free_kib need_kib=$((BERTH_CONTAINERS_NEED_GIB * 1024 * 1024))
  while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  free_kib=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
  if [ "$free_kib" -lt "$need_kib" ]; then
    cannot_run "$((free_kib / 1024)) MiB free on the file system of $dir; the images and their build cache need ${BERTH_CONTAINERS_NEED_GIB} GiB (set BERTH_CONTAINERS_STATE to a folder on a larger disk)"
  fi
}

# step NAME COMMAND...: runs COMMAND, then prints how long it took; stops the script if it fails.
step() {
  local name=$1 start status=0
  shift
  start=$(date +%s%N)
  say "$name ..."
  "$@" || status=$?
  local ms=$((($(date +%s%N) - start) / 1000000))
  if [ "$status" -ne 0 ]; then
    die "$name failed (exit $status) after $((ms / 1000)).$(printf '%03d' $((ms % 1000)) | cut -c1)s"
  fi
  say "$name: done in $((ms / 1000)).$(printf '%03d' $((ms % 1000)) | cut -c1)s"
}

# The Debian mirror the system's apt uses for the release it runs (deb.debian.org on these
# machines), so debootstrap and Compose's download go where apt already goes.
debian_mirror() {
  if [ -n "${BERTH_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$BERTH_DEBIAN_MIRROR"
    return
  fi
  local codename
  codename=$(. /etc/os-release && printf '%s' "$VERSION_CODENAME")
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(LABEL)' 2>/dev/null |
    awk -v c="$codename" '$2 == c && $3 == "Debian" { print $1; exit }' | sed 's#/$##'
}

# mirror_reachable MIRROR SUITE: the suite's Release file answers within 20 s.
mirror_reachable() {
  curl -fsS --max-time 20 -o /dev/null "$1/dists/$2/Release"
}
