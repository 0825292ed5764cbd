#!/usr/bin/env bash
# Creates the MariaDB example's database and its owner, the account the migrator logs in as, with
# the privileges berth and the migrations need on that database and nothing else. Used by the
# `mariadb` profile of deploy/compose/compose.yaml; contract: docs/reference-system.md, "The MariaDB
# profile".
#
# The official mariadb image runs this from /docker-entrypoint-initdb.d once, on the first start
# with an empty data directory, as root over its temporary server's socket (the image has turned
# MARIADB_ROOT_PASSWORD_FILE into MARIADB_ROOT_PASSWORD by then). It can also be run by hand
# against any MariaDB or MySQL server, with the client's own variables for the address:
#   MYSQL_HOST=127.0.0.1 MYSQL_TCP_PORT=3306 MARIADB_ROOT_PASSWORD=... bash 01-database-and-owner.sh
# Running it again is safe: the database and the account are created only when missing; the
# password and the privileges are set again (privileges granted by hand in between are revoked).
#
# Settings (each also as X_FILE, a file holding the value, as Docker and Kubernetes mount secrets):
#   INVENTORY_DB=inventory  INVENTORY_OWNER=inventory_owner  INVENTORY_OWNER_PASSWORD (required)
#   MARIADB_ROOT_PASSWORD (empty: none)  MARIADB_ADMIN_USER=root (the account this script uses)
#
# The entrypoint executes the file when it is executable and sources it otherwise; the body runs in
# a subshell so that neither way leaks shell options or variables into the entrypoint.
(
  set -Eeuo pipefail
  shopt -s inherit_errexit

  fail() {
    echo "01-database-and-owner.sh: $*" >&2
    exit 1
  }

  # setting NAME [DEFAULT]: $NAME, or the content of the file named by $NAME_FILE (trailing newlines
  # trimmed), or DEFAULT. Setting both NAME and NAME_FILE is an error, as in berth and the image.
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

  # A plain lower-case name: no quoting surprises. 32 characters at most: MySQL's limit for an
  # account name (MariaDB allows 80, a database name 64).
  identifier() {
    local name=$1 value
    value=$(setting "$1" "$2")
    [[ $value =~ ^[a-z_][a-z0-9_]{0,31}$ ]] || fail "$name must match [a-z_][a-z0-9_]{0,31}, got '$value'"
    printf '%s' "$value"
  }

  # The value as the body of a '...' string literal; the session below turns off
  # NO_BACKSLASH_ESCAPES, so backslash and quote are the characters to escape.
  sql_string() {
    local value=${1//\\/\\\\}
    printf '%s' "${value//\'/\\\'}"
  }

  # The image's own client call (docker_process_sql): root, the socket unless MYSQL_HOST names a
  # host, the password through the environment (never on a command line), stop at the first error.
  run_sql() {
    MYSQL_PWD=$admin_password mariadb --user="$admin_user" --batch --skip-column-names
  }

  db=$(identifier INVENTORY_DB inventory)
  owner=$(identifier INVENTORY_OWNER inventory_owner)
  owner_password=$(setting INVENTORY_OWNER_PASSWORD)
  [[ -n $owner_password ]] || fail "INVENTORY_OWNER_PASSWORD (or INVENTORY_OWNER_PASSWORD_FILE) is required"
  admin_user=$(setting MARIADB_ADMIN_USER root)
  admin_password=$(setting MARIADB_ROOT_PASSWORD)
  password=$(sql_string "$owner_password")
  # In GRANT, `_` in a database name is a wildcard (any one character): escaped, it is the name.
  grant_db=${db//_/\\_}

  # The owner's privileges, on its database only: rows (berth's history table among them) and the
  # DDL of the example's migrations: tables, indexes, foreign keys (REFERENCES, which MySQL 8
  # checks). No global privilege: no other database, no CREATE DATABASE, no PROCESS (a waiting
  # runner still sees the lock holder when it is this same account), no SUPER. Migrations that
  # create views, triggers or routines need CREATE VIEW, SHOW VIEW, TRIGGER, CREATE ROUTINE and
  # ALTER ROUTINE as well: add them here.
  run_sql <<SQL
SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$owner'@'%' IDENTIFIED BY '$password';
ALTER USER '$owner'@'%' IDENTIFIED BY '$password';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$owner'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES ON \`$grant_db\`.* TO '$owner'@'%';
SQL

  echo "01-database-and-owner.sh: database $db ready (owner $owner)"
)
