#!/usr/bin/env bash
# Installs what the container tests and `npm run start:containers` need, from Debian's packages
# only (no registry, no download of a binary from elsewhere). Idempotent: what is there is kept.
#
#   sudo bash deploy/containers/install.sh
#
# - bookworm: Docker Engine 20.10 (docker.io, with containerd and runc), podman 4.3 (for
#   `podman kube play`, with catatonit for its pause image), debootstrap (the base images' rootfs), iptables (the engine's NAT).
#   Installing docker.io starts no daemon here: the harness starts dockerd itself, on private
#   paths (deploy/containers/engine.sh).
# - Compose v2: bookworm packages only Compose v1 (no `up --wait`). trixie's `docker-compose`
#   package is Compose v2, one static Go binary that runs on bookworm. It is fetched with
#   `apt-get download` against a private sources list and state folder, so the system's apt
#   sources stay as they are, and extracted into $BERTH_CONTAINERS_CACHE/compose/.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# catatonit: the init of the pause container podman builds locally for each pod (no registry).
readonly PACKAGES=(docker.io containerd runc iptables podman conmon catatonit debootstrap curl)
# The Compose v2 package: its suite and the version this project is tested with.
readonly COMPOSE_SUITE=trixie
readonly COMPOSE_PACKAGE=docker-compose

require_root
require_disk "$BERTH_CONTAINERS_STATE"

install_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "Debian packages: all there (${PACKAGES[*]})"
    return 0
  fi
  say "installing ${missing[*]}"
  # The package lists may be missing or old on a fresh machine.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_compose() {
  if [ -x "$COMPOSE" ] && "$COMPOSE" version >/dev/null 2>&1; then
    say "Compose: $("$COMPOSE" version --short) at $COMPOSE"
    return 0
  fi
  local mirror apt_dir
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "cannot tell which Debian mirror apt uses (set BERTH_DEBIAN_MIRROR)"
  mirror_reachable "$mirror" "$COMPOSE_SUITE" ||
    die "the Debian mirror $mirror does not answer for $COMPOSE_SUITE (needed for Compose v2); check the network or set BERTH_DEBIAN_MIRROR"
  apt_dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-compose-apt.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the folder is this call's
  trap "rm -rf '$apt_dir'" RETURN
  mkdir -p "$apt_dir"/{etc/sources.list.d,etc/preferences.d,state/lists/partial,cache/archives/partial,deb}
  touch "$apt_dir/state/status"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$mirror" "$COMPOSE_SUITE" >"$apt_dir/etc/sources.list"
  local apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list" -o "Dir::Etc::sourceparts=$apt_dir/etc/sources.list.d"
    -o "Dir::Etc::preferencesparts=$apt_dir/etc/preferences.d" -o "Dir::State=$apt_dir/state"
    -o "Dir::State::status=$apt_dir/state/status" -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Sandbox::User=root" -qq
  )
  apt-get "${apt_opts[@]}" update
  (cd "$apt_dir/deb" && apt-get "${apt_opts[@]}" download "$COMPOSE_PACKAGE")
  dpkg-deb -x "$apt_dir"/deb/"$COMPOSE_PACKAGE"_*.deb "$apt_dir/root"
  mkdir -p "$(dirname "$COMPOSE")"
  install -m 0755 "$apt_dir/root/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE"
  say "Compose: $("$COMPOSE" version --short) at $COMPOSE (from $COMPOSE_SUITE's $COMPOSE_PACKAGE package)"
}

step "Debian packages" install_packages
step "Compose v2" install_compose
