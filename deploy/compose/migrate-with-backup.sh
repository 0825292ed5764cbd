#!/usr/bin/env bash
# The Compose release workflow for one service: back up its database, migrate, verify, deploy; and
# if the migration fails, restore the backup and leave the running service as it is.
#
#   bash deploy/compose/migrate-with-backup.sh users [DATABASE]
#
# (the project and its files as Compose takes them: run it next to compose.yaml, or set
# COMPOSE_FILE and COMPOSE_PROJECT_NAME). DATABASE defaults to the service's name, as in
# deploy/initdb. docs/backup-and-restore.md explains each step.
#
# 1. back up: `pg_dump --format=custom` of the database, from the postgres container as the
#    superuser, into $BACKUP_DIR/<database>-<UTC time>.dump on this host (a file of this host's,
#    not of a container that a `down -v` would take with it);
# 2. migrate: `run --rm --no-deps <service>-migrate` (berth migrate, as the owner role);
# 3. verify: the same migrator with `berth check`: exit 0 only when the schema is at this
#    release's newest migration and no migration is failed;
# 4. deploy: `up --detach --wait --no-deps <service>` (its replicas recreated if their image or
#    configuration changed).
#
# If 2 or 3 fails, the database is restored in one transaction: the `public` schema is dropped
# and the dump replayed, so whatever the failed migration did (a column added by a
# no-transaction file before its failing statement, a new table) is gone, and berth's history is
# the one before it, without the `failed` row that would stop every later `berth migrate` (exit 5).
# Until the restore commits, the service's queries wait; none fails. Then exit 1: the
# migration needs fixing, and the service was not redeployed.
#
# Settings: COMPOSE (default `docker compose`), BACKUP_DIR (default deploy/compose/backups, not
# committed), POSTGRES_SERVICE (postgres), POSTGRES_USER (postgres).
set -euo pipefail

service=${1:?usage: migrate-with-backup.sh SERVICE [DATABASE]}
database=${2:-$service}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
read -r -a compose <<<"${COMPOSE:-docker compose}"
backup_dir=${BACKUP_DIR:-$here/backups}
pg_service=${POSTGRES_SERVICE:-postgres}
pg_user=${POSTGRES_USER:-postgres}
migrator=$service-migrate

say() { printf 'migrate-with-backup: %s\n' "$*" >&2; }

[[ $database =~ ^[a-z_][a-z0-9_]*$ ]] || { say "database name must match [a-z_][a-z0-9_]*, got '$database'"; exit 2; }

mkdir -p "$backup_dir"
chmod 700 "$backup_dir"
backup=$backup_dir/$database-$(date -u +%Y%m%dT%H%M%SZ).dump

say "1/4 backing up database $database to $backup"
if ! "${compose[@]}" exec -T "$pg_service" pg_dump --username "$pg_user" --format=custom --dbname "$database" >"$backup.partial"; then
  rm -f "$backup.partial"
  say "backup failed: nothing was migrated"
  exit 1
fi
mv "$backup.partial" "$backup"

restore() {
  say "restoring database $database from $backup"
  # One transaction: the schema as it was, or (if the restore fails) as the failed migration left it.
  "${compose[@]}" exec -T "$pg_service" bash -c \
    "set -o pipefail; { printf 'DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n'; pg_restore --file=-; } |
       psql --username '$pg_user' --dbname '$database' --single-transaction --set ON_ERROR_STOP=1 --quiet --no-psqlrc >/dev/null" \
    <"$backup"
  say "restored; berth status of the restored database:"
  "${compose[@]}" run --rm --no-deps -T "$migrator" status --dir /migrations >&2 || true
}

say "2/4 migrating ($migrator)"
status=0
"${compose[@]}" run --rm --no-deps -T "$migrator" || status=$?
if [ "$status" -eq 0 ]; then
  say "3/4 verifying the schema (berth check)"
  "${compose[@]}" run --rm --no-deps -T "$migrator" check --dir /migrations || status=$?
fi
if [ "$status" -ne 0 ]; then
  say "the migration failed (exit $status)"
  restore
  say "database $database is as it was before; $service was not redeployed. Fix the migration and run this again."
  exit 1
fi

say "4/4 deploying $service"
"${compose[@]}" up --detach --wait --no-deps "$service"
say "done: $database migrated, $service deployed; backup kept at $backup"
