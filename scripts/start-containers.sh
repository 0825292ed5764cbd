#!/usr/bin/env bash
# `npm run start:containers`: the reference system in real containers on this machine, from
# deploy/compose/compose.yaml, until Ctrl-C. Needs root (it starts its own Docker engine).
#
# 1. deploy/containers/install.sh: Debian's Docker Engine, podman and Compose v2 (once);
# 2. deploy/containers/engine.sh: dockerd on private paths, in its own session, fed by a pipe from
#    this script, so it stops when this script ends, however it ends;
# 3. deploy/containers/base-images.sh: the node and postgres base images, built locally;
# 4. deploy/compose/secrets/generate.sh, then `docker compose up --build --wait` with
#    deploy/containers/compose.engine-20.10.yaml and an override that publishes each service
#    replica on a free port of 127.0.0.1;
# 5. prints the URLs, curl examples and the image sizes; on Ctrl-C, `down --volumes`, then the
#    engine stops.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
. deploy/containers/lib.sh

readonly PROJECT=berth-example
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-start-containers.XXXXXX")
engine_pid=
compose=()

stop() {
  local status=$?
  trap - EXIT INT TERM
  if [ "${#compose[@]}" -gt 0 ]; then
    echo
    say "stopping: docker compose down --volumes"
    "${compose[@]}" down --volumes --timeout 10 >/dev/null 2>&1 || true
  fi
  if [ -n "$engine_pid" ]; then
    exec 3>&-
    say "stopping the engine (pid $engine_pid)"
    while kill -0 "$engine_pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -rf "$run_dir"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash deploy/containers/install.sh

# The engine reads its standard input until it ends: fd 3 of this script.
exec 3> >(exec setsid bash deploy/containers/engine.sh run >"$run_dir/engine.log" 2>&1)
engine_pid=$!
until grep -q '^engine: ready' "$run_dir/engine.log" 2>/dev/null; do
  kill -0 "$engine_pid" 2>/dev/null || { cat "$run_dir/engine.log" >&2; die "the engine did not start"; }
  sleep 0.2
done
grep -v '^engine: ready' "$run_dir/engine.log" || true
set -a
. "$BERTH_CONTAINERS_RUN/engine.env"
set +a

bash deploy/containers/base-images.sh
sh deploy/compose/secrets/generate.sh >/dev/null

cat >"$run_dir/publish.yaml" <<'YAML'
# Each replica on a free port of 127.0.0.1 (two replicas cannot share one).
services:
  users:
    ports: ["127.0.0.1::8080"]
  orders:
    ports: ["127.0.0.1::8080"]
YAML
compose=("$COMPOSE" -p "$PROJECT" -f deploy/compose/compose.yaml -f deploy/containers/compose.engine-20.10.yaml -f "$run_dir/publish.yaml")
say "docker compose up --build --wait (the first build takes a few minutes)"
"${compose[@]}" up --build --wait --detach

url() { printf 'http://%s' "$("${compose[@]}" port --index "$2" "$1" 8080)"; }
users=$(url users 1)
orders=$(url orders 1)
cat <<TEXT

The reference system runs in containers (Compose project $PROJECT, engine at $DOCKER_HOST):
  users   $users  $(url users 2)
  orders  $orders  $(url orders 2)

  curl -s -X POST $users/users -H 'content-type: application/json' -d '{"username":"ada","email":"ada@example.com"}'
  curl -s -X POST $orders/orders -H 'content-type: application/json' -d '{"userId":1,"item":"book","quantity":2}'
  curl -s $orders/ready
  DOCKER_HOST=$DOCKER_HOST $COMPOSE -p $PROJECT -f deploy/compose/compose.yaml ps

Image sizes (the node and postgres bases are local stand-ins built from Debian and this machine's
Node.js under the official tags: real Alpine images are smaller and use musl):
TEXT
for image in $("${compose[@]}" config --images | sort -u); do
  printf '  %5s MB  %s\n' "$("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{ printf "%d", $1 / 1e6 }')" "$image"
done
echo
say "Ctrl-C stops the containers, removes their volume and stops the engine"
while :; do sleep 1; done
