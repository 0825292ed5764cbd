#!/usr/bin/env bash
# Creates the reference system's databases and roles: per service an owner role (used by the
# migrator) that owns the database and its `public` schema, and an app role (used by the service)
# that may only read and write rows. Contract: docs/reference-system.md, "Databases and roles".
#
# The official postgres image runs this from /docker-entrypoint-initdb.d once, on the first start
# with an empty data directory, as the superuser ($POSTGRES_USER) over the local socket. It can also
# be run by hand against any server (`PGHOST=... PGPORT=... POSTGRES_USER=postgres bash 01-...sh`).
# Running it again is safe: roles and databases are created only when missing, passwords and grants
# are set again.
#
# Settings (each also as X_FILE, a file holding the value, as Docker and Kubernetes mount secrets):
#   USERS_DB=users    USERS_OWNER=users_owner    USERS_APP=users_app
#   ORDERS_DB=orders  ORDERS_OWNER=orders_owner  ORDERS_APP=orders_app
#   USERS_OWNER_PASSWORD  USERS_APP_PASSWORD  ORDERS_OWNER_PASSWORD  ORDERS_APP_PASSWORD  (required)
#
# The entrypoint executes the file when it is executable and sources it otherwise; the body runs in
# a subshell so that neither way leaks shell options or variables into the entrypoint.
(
  set -Eeuo pipefail
  shopt -s inherit_errexit

  fail() {
    echo "01-roles-and-databases.sh: $*" >&2
    exit 1
  }

  # setting NAME [DEFAULT]: $NAME, or the content of the file named by $NAME_FILE (trailing newlines
  # trimmed), or DEFAULT. Setting both NAME and NAME_FILE is an error, as in berth and the services.
  setting() {
    local name=$1 default=${2-} file_name="${1}_FILE"
    local value=${!name-} file=${!file_name-}
    if [[ -n $value && -n $file ]]; then
      fail "both $name and $file_name are set; use one"
    fi
    if [[ -n $file ]]; then
      [[ -r $file ]] || fail "$file_name: cannot read $file"
      value=$(<"$file")
    fi
    printf '%s' "${value:-$default}"
  }

  # A plain lower-case identifier: no quoting surprises in role or database names.
  identifier() {
    local name=$1 value
    value=$(setting "$1" "$2")
    [[ $value =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || fail "$name must match [a-z_][a-z0-9_]{0,62}, got '$value'"
    printf '%s' "$value"
  }

  password() {
    local value
    value=$(setting "$1")
    [[ -n $value ]] || fail "$1 (or $1_FILE) is required"
    printf '%s' "$value"
  }

  # The image's own psql call (docker_process_sql): socket, superuser, stop at the first error.
  run_psql() {
    local dbname=$1
    shift
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --no-password \
      --username "${POSTGRES_USER:-postgres}" --dbname "$dbname" "$@"
  }

  # provision DB OWNER APP OWNER_PASSWORD APP_PASSWORD
  provision() {
    local db=$1 owner=$2 app=$3
    local vars=(-v "db=$db" -v "owner=$owner" -v "app=$app")

    # Cluster level: the roles and the database. CREATE DATABASE cannot run in a DO block, so
    # "create if missing" is a SELECT whose result \gexec runs.
    run_psql "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" "${vars[@]}" \
      -v "owner_password=$4" -v "app_password=$5" <<'SQL'
SELECT format('CREATE ROLE %I', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"owner";
-- Only the owner (implicitly), the app role and superusers may connect; nobody else gets TEMP.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";
SQL

    # Database level: the owner owns `public` (and so may create, alter and drop in it); the app role
    # may use the schema and read and write rows, including in tables the owner creates later.
    run_psql "$db" "${vars[@]}" <<'SQL'
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"app";
SQL

    echo "01-roles-and-databases.sh: database $db ready (owner $owner, app $app)"
  }

  # Read and check every setting before changing anything.
  users_db=$(identifier USERS_DB users)
  users_owner=$(identifier USERS_OWNER users_owner)
  users_app=$(identifier USERS_APP users_app)
  orders_db=$(identifier ORDERS_DB orders)
  orders_owner=$(identifier ORDERS_OWNER orders_owner)
  orders_app=$(identifier ORDERS_APP orders_app)
  users_owner_password=$(password USERS_OWNER_PASSWORD)
  users_app_password=$(password USERS_APP_PASSWORD)
  orders_owner_password=$(password ORDERS_OWNER_PASSWORD)
  orders_app_password=$(password ORDERS_APP_PASSWORD)

  provision "$users_db" "$users_owner" "$users_app" "$users_owner_password" "$users_app_password"
  provision "$orders_db" "$orders_owner" "$orders_app" "$orders_owner_password" "$orders_app_password"
)
