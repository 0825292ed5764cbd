#!/usr/bin/env bash
# Builds, without a registry, the base images the project's Dockerfiles and compose.yaml name, and
# tags them under those exact names, so every project file builds and runs unchanged:
#
#   DOCKER_HOST=unix:///run/berth-containers/docker.sock bash deploy/containers/base-images.sh
#
# (deploy/containers/engine.sh runs that engine; the container tests and `npm run
# start:containers` call this script themselves.)
#
# 1. A Debian rootfs image, berth-local/debian:trixie (debootstrap --variant=minbase from the mirror
#    apt uses, docs and locales removed): trixie, whose PostgreSQL has the major version
#    compose.yaml names; the Node.js stand-ins use it too (one debootstrap, not two).
# 2. node:<tags of the Dockerfiles' FROM lines>: this machine's Node.js binary and npm laid out
#    as in the official image (node/Dockerfile).
# 3. postgres:<tag of compose.yaml>: Debian's PostgreSQL with an entrypoint that does the official
#    image's essentials (postgres/Dockerfile, postgres/docker-entrypoint.sh).
#
# These are local stand-ins: Debian and glibc, also under an Alpine tag, so image sizes and musl
# behaviour are not those of the official images. Idempotent: an image whose recipe (the files
# of its folder here, the Node.js version, the mirror) has not changed is kept; each step says
# what it did and how long it took. Refuses, with the reason, when not root, when the disk is
# short (and how much it needs), or when the Debian mirror does not answer.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

readonly LABEL=org.berth.stand-in.recipe
readonly SUITE=trixie

require_root
require_disk "$BERTH_CONTAINERS_STATE"
"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers at ${DOCKER_HOST:-the default socket}; start one with: bash deploy/containers/engine.sh run"

# --- the names the project uses ------------------------------------------------------------------
# External bases of the Dockerfiles (FROM lines that are not an earlier stage) and compose.yaml's
# postgres image.
external_bases() {
  local file
  for file in "$repo"/packages/berth/Dockerfile "$repo"/services/*/Dockerfile; do
    awk 'toupper($1) == "FROM" {
           image = $2; for (i = 2; i <= NF; i++) if ($i !~ /^--/) { image = $i; break }
           if (!(image in stage)) print image
           for (i = 1; i <= NF; i++) if (toupper($i) == "AS") stage[$(i + 1)] = 1
         }' "$file"
  done | sort -u
}
mapfile -t BASES < <(external_bases)
POSTGRES_IMAGE=$(awk '$1 == "image:" && $2 ~ /^postgres:/ { print $2; exit }' "$repo/deploy/compose/compose.yaml")
NODE_IMAGES=()
for image in "${BASES[@]}"; do
  case $image in
    node:*) NODE_IMAGES+=("$image") ;;
    *) die "no local stand-in for the base image $image (a Dockerfile's FROM); add one to deploy/containers/" ;;
  esac
done
[ -n "$POSTGRES_IMAGE" ] || die "deploy/compose/compose.yaml names no postgres:<tag> image"
[ "${#NODE_IMAGES[@]}" -gt 0 ] || die "the Dockerfiles name no node:<tag> base"
PG_MAJOR=$(printf '%s' "${POSTGRES_IMAGE#postgres:}" | grep -oE '^[0-9]+')

# --- helpers -------------------------------------------------------------------------------------
# recipe_of TEXT...: a short hash of what an image is built from.
recipe_of() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
recipe_of_dir() { (cd "$1" && find . -type f -printf '%m %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16; }

# has_image IMAGE RECIPE: the image exists and was built from that recipe.
has_image() {
  [ "$("$DOCKER" image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null)" = "$2" ]
}

MIRROR=$(debian_mirror)
[ -n "$MIRROR" ] || die "cannot tell which Debian mirror apt uses (set BERTH_DEBIAN_MIRROR)"

# rootfs_image SUITE: berth-local/debian:SUITE, a debootstrap minbase tree imported as one layer.
rootfs_image() {
  local suite=$1 image=berth-local/debian:$1 recipe dir
  recipe=$(recipe_of "$suite" "$MIRROR" minbase-v1)
  if has_image "$image" "$recipe"; then
    say "$image: kept"
    return 0
  fi
  mirror_reachable "$MIRROR" "$suite" ||
    die "debootstrap cannot reach the Debian mirror $MIRROR (no $MIRROR/dists/$suite/Release); check the network or set BERTH_DEBIAN_MIRROR"
  dir=$(mktemp -d "$BERTH_CONTAINERS_CACHE/rootfs-$suite.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the folder is this call's
  trap "rm -rf '$dir'" RETURN
  debootstrap --variant=minbase "$suite" "$dir" "$MIRROR" >"$dir.log" 2>&1 || {
    tail -n 20 "$dir.log" >&2
    die "debootstrap $suite from $MIRROR failed (log: $dir.log)"
  }
  rm -f "$dir.log"
  rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
    "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*
  # The image gets the host's resolver at run time; the tree must not carry the host's.
  : >"$dir/etc/resolv.conf"
  tar --numeric-owner -C "$dir" -c . |
    "$DOCKER" import --change "LABEL $LABEL=$recipe" --change 'CMD ["bash"]' - "$image" >/dev/null
  say "$image: built from debootstrap $suite ($("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }'))"
}

# build_tagged RECIPE IMAGE... -- BUILD-ARGS...: docker build of the context in $context (the
# caller's), tagged with every IMAGE, unless all of them exist with that recipe.
build_tagged() {
  local recipe=$1 image
  shift
  local tags=() args=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do tags+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  args=("$@")
  local missing=0
  for image in "${tags[@]}"; do has_image "$image" "$recipe" || missing=1; done
  if [ "$missing" -eq 0 ]; then
    say "${tags[*]}: kept"
    return 0
  fi
  local tag_args=()
  for image in "${tags[@]}"; do tag_args+=(-t "$image"); done
  DOCKER_BUILDKIT=0 "$DOCKER" build -q --label "$LABEL=$recipe" "${tag_args[@]}" "${args[@]}" "$context" >/dev/null
  say "${tags[*]}: built ($("$DOCKER" image inspect -f '{{.Size}}' "${tags[0]}" | awk '{ printf "%d MB", $1 / 1e6 }'))"
}

node_images() {
  local node version want npm_dir ca recipe
  node=$(command -v node) || die "no node on PATH: the Node.js image is made from this machine's Node.js"
  version=$(node --version)
  version=${version#v}
  for image in "${NODE_IMAGES[@]}"; do
    want=$(printf '%s' "${image#node:}" | grep -oE '^[0-9]+(\.[0-9]+)*')
    case $version in
      "$want" | "$want".*) ;;
      *) say "warning: $image is made from this machine's Node.js $version" ;;
    esac
  done
  ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
  recipe=$(recipe_of "$(recipe_of_dir "$here/node")" "$version" "$(sha256sum <"$ca")" "$(recipe_of "$MIRROR" "$SUITE")")
  local image missing=0
  for image in "${NODE_IMAGES[@]}"; do has_image "$image" "$recipe" || missing=1; done
  if [ "$missing" -eq 0 ]; then
    say "${NODE_IMAGES[*]}: kept"
    return 0
  fi
  npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
  context=$(mktemp -d "${TMPDIR:-/tmp}/berth-node-image.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the folder is this call's
  trap "rm -rf '$context'" RETURN
  cp "$here"/node/* "$context"/
  cp "$(readlink -f "$node")" "$context/node"
  mkdir -p "$context/node_modules"
  cp -a "$npm_dir" "$context/node_modules/npm"
  [ -d "$(dirname "$npm_dir")/corepack" ] && cp -a "$(dirname "$npm_dir")/corepack" "$context/node_modules/corepack"
  cp "$ca" "$context/ca-certificates.crt"
  build_tagged "$recipe" "${NODE_IMAGES[@]}" -- --build-arg "BASE=berth-local/debian:$SUITE" --build-arg "NODE_VERSION=$version"
}

postgres_image() {
  context=$here/postgres
  local recipe
  recipe=$(recipe_of "$(recipe_of_dir "$here/postgres")" "$PG_MAJOR" "$(recipe_of "$MIRROR" "$SUITE")")
  build_tagged "$recipe" "$POSTGRES_IMAGE" -- --build-arg "BASE=berth-local/debian:$SUITE" --build-arg "PG_MAJOR=$PG_MAJOR"
}

mkdir -p "$BERTH_CONTAINERS_CACHE"
say "stand-ins for ${NODE_IMAGES[*]} $POSTGRES_IMAGE (Debian $SUITE from $MIRROR; local stand-ins, not the official images)"
step "rootfs $SUITE" rootfs_image "$SUITE"
step "Node.js image" node_images
step "PostgreSQL image" postgres_image
# Rootfs images of other suites, from an earlier recipe of this script.
for image in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' berth-local/debian); do
  [ "$image" = "berth-local/debian:$SUITE" ] || "$DOCKER" rmi "$image" >/dev/null 2>&1 || true
done
