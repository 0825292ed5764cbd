#!/usr/bin/env bash
# The official postgres image's entrypoint, its essentials, for the local stand-in image:
#
# - POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS, each also as X_FILE (a
#   file holding the value, as Docker and Kubernetes mount secrets);
# - as root: creates PGDATA and the socket folder and hands them to postgres (999), then runs
#   itself again as that user;
# - on an empty PGDATA: initdb (superuser POSTGRES_USER with POSTGRES_PASSWORD), `host all all all
#   scram-sha-256` in pg_hba.conf, then a temporary server on the socket only, POSTGRES_DB
#   created, /docker-entrypoint-initdb.d/* run in name order (*.sh executed if executable and
#   sourced otherwise, *.sql and *.sql.gz through psql), and that server stopped;
# - then `postgres` itself as PID 1 on all addresses.
#
# Not done (the tests do not need them): POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD other
# than the default, *.sql.xz/*.sql.zst, the checks that a user runs an unsupported UID.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from itself or from the file named by VAR_FILE (not both).
file_env() {
  local var=$1 file_var="${1}_FILE" def=${2:-}
  if [ "${!var:-}" ] && [ "${!file_var:-}" ]; then
    echo >&2 "error: both $var and $file_var are set (but are exclusive)"
    exit 1
  fi
  local val=$def
  if [ "${!var:-}" ]; then
    val=${!var}
  elif [ "${!file_var:-}" ]; then
    val=$(<"${!file_var}")
  fi
  export "$var"="$val"
  unset "$file_var"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_directories() {
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

process_sql() {
  PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname "${POSTGRES_DB}" "$@"
}

process_init_files() {
  local f
  echo
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh)
        if [ -x "$f" ]; then
          echo "$0: running $f"
          "$f"
        else
          echo "$0: sourcing $f"
          . "$f"
        fi
        ;;
      *.sql) echo "$0: running $f"; process_sql -f "$f"; echo ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | process_sql; echo ;;
      *) if [ -e "$f" ]; then echo "$0: ignoring $f"; fi ;;
    esac
  done
}

init_database() {
  if [ -z "$POSTGRES_PASSWORD" ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value for
       the superuser.
MSG
    exit 1
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
  # The temporary server listens on the socket only, so nothing connects over TCP before the
  # init scripts are done (the Compose healthcheck relies on that).
  PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
  if [ "$POSTGRES_DB" != postgres ]; then
    POSTGRES_DB=postgres process_sql --set db="$POSTGRES_DB" <<<"CREATE DATABASE :\"db\" ;"
  fi
  process_init_files
  PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo
  echo 'PostgreSQL init process complete; ready for start up.'
  echo
}

if [ "${1:0:1}" = - ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
  setup_env
  create_directories
  if [ "$(id -u)" = 0 ]; then
    # The official image uses gosu; setpriv (util-linux) does the same without another binary.
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
  fi
  if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
    init_database
  else
    echo
    echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
    echo
  fi
fi

exec "$@"
