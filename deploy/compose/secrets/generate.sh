#!/bin/sh
# Writes the secret files compose.yaml mounts: random passwords for the postgres superuser and the
# four roles of deploy/initdb, and the owner/app database URLs built from them (host `postgres`,
# the Compose service); for the `mariadb` profile, the MariaDB root and owner passwords and the
# owner's URL (host `mariadb`). Existing files are kept, so running it again changes nothing;
# delete a file (and the pgdata or mariadb-data volume, for passwords an init script already used)
# to renew it.
#
#   sh deploy/compose/secrets/generate.sh [DIR]     # DIR: default, this script's folder
#   POSTGRES_HOST=postgres:5432 MARIADB_HOST=mariadb:3306   # the URLs' host:port (these defaults)
#
# The folder is made private (0700); the files are 0644 because Compose bind-mounts them as they
# are and the containers read them as other users (postgres, mysql, 10001). Nothing here is committed
# (.gitignore in this folder).
set -eu

dir=${1:-$(dirname "$0")}
host=${POSTGRES_HOST:-postgres:5432}
mariadb_host=${MARIADB_HOST:-mariadb:3306}
mkdir -p "$dir"
chmod 700 "$dir"
umask 022

# 32 characters of [A-Za-z0-9]: no URL encoding needed.
random_password() {
  LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

# write NAME VALUE: creates $dir/NAME unless it exists.
write() {
  if [ -e "$dir/$1" ]; then
    echo "kept    $dir/$1"
  else
    printf '%s\n' "$2" >"$dir/$1"
    echo "created $dir/$1"
  fi
}

for name in postgres_password users_owner_password users_app_password orders_owner_password orders_app_password \
  mariadb_root_password inventory_owner_password; do
  write "$name" "$(random_password)"
done

# URLs from the password files (which may have been kept from an earlier run).
for db in users orders; do
  for role in owner app; do
    write "${db}_${role}_url" "postgres://${db}_${role}:$(cat "$dir/${db}_${role}_password")@${host}/${db}"
  done
done
write inventory_owner_url "mysql://inventory_owner:$(cat "$dir/inventory_owner_password")@${mariadb_host}/inventory"
