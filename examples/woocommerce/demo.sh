#!/usr/bin/env bash
# Runs the WooCommerce example end to end: a fresh `woocommerce_demo` database from schema.sql,
# WooCommerce's storage options for the chosen mode, `smsbridge setup` and `run` with this
# directory's smsbridge.yaml, then drive.sql's orders and stock movements; prints the SMS the
# sandbox provider "sent" and stops.
#
#   examples/woocommerce/demo.sh [hpos|legacy|sync] [trigger|binlog]     (default: hpos trigger)
#
# hpos: HPOS tables authoritative; legacy: posts storage; sync: HPOS with compatibility mode,
# both storages written. Every mode prints the same 24 SMS.
#
# The MariaDB server: MARIADB_DSN (mysql://user:password@host:port, a user that may create a
# database), else the test services' (scripts/test-services.sh start), else this script starts
# them for the run and stops them afterwards. WOO_DEMO_DATABASE names another database than
# woocommerce_demo. Build first (ninja -C build). Needs the mariadb (or mysql) client.
set -euo pipefail

mode=${1:-hpos}
capture=${2:-trigger}
case $mode in
  hpos) hpos=yes sync=no ;;
  legacy) hpos=no sync=no ;;
  sync) hpos=yes sync=yes ;;
  *) echo "usage: $0 [hpos|legacy|sync] [trigger|binlog]" >&2; exit 2 ;;
esac
case $capture in
  trigger | binlog) ;;
  *) echo "usage: $0 [hpos|legacy|sync] [trigger|binlog]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${SMSBRIDGE_BIN:-$root/build/smsbridge}"
config="$here/smsbridge.yaml"
work="$(mktemp -d "${TMPDIR:-/tmp}/smsbridge-woo-demo.XXXXXX")"
log="$work/smsbridge.log"
database=${WOO_DEMO_DATABASE:-woocommerce_demo}
bridge=""
services_env=""

cleanup() {
  if [ -n "$bridge" ]; then
    kill "$bridge" 2>/dev/null || true
    wait "$bridge" 2>/dev/null || true
  fi
  if [ -n "$services_env" ]; then
    SMSBRIDGE_SERVICES_ENV="$services_env" "$root/scripts/test-services.sh" stop >/dev/null || true
  fi
}
trap cleanup EXIT

server_dsn=${MARIADB_DSN:-${SMSBRIDGE_TEST_MYSQL_DSN:-}}
if [ -z "$server_dsn" ] && [ -f "$root/build/test-services.env" ]; then
  # shellcheck disable=SC1091
  server_dsn=$(. "$root/build/test-services.env" && echo "$SMSBRIDGE_TEST_MYSQL_DSN")
fi
if [ -z "$server_dsn" ]; then
  echo "starting a throwaway MariaDB (scripts/test-services.sh)..."
  services_env="$work/services.env"
  SMSBRIDGE_SERVICES_ENV="$services_env" "$root/scripts/test-services.sh" start >/dev/null
  # shellcheck disable=SC1090
  server_dsn=$(. "$services_env" && echo "$SMSBRIDGE_TEST_MYSQL_DSN")
fi

# mysql://user[:password]@host[:port][/database][?...]
dsn_re='^mysql://([^:@/]+)(:([^@]*))?@([^:/?]+)(:([0-9]+))?'
if [[ ! $server_dsn =~ $dsn_re ]]; then
  echo "demo: cannot read the DSN '$server_dsn' (mysql://user:password@host:port)" >&2
  exit 2
fi
user=${BASH_REMATCH[1]} password=${BASH_REMATCH[3]} host=${BASH_REMATCH[4]}
port=${BASH_REMATCH[6]:-3306}
client=$(command -v mariadb || command -v mysql)
export MYSQL_PWD="$password"
sql() { "$client" --no-defaults --protocol=tcp -h "$host" -P "$port" -u "$user" "$@"; }

sql -e "DROP DATABASE IF EXISTS $database; CREATE DATABASE $database CHARACTER SET utf8mb4"
sql "$database" <"$here/schema.sql"
sql "$database" -e "
  UPDATE wp_options SET option_value = '$hpos'
  WHERE option_name = 'woocommerce_custom_orders_table_enabled';
  UPDATE wp_options SET option_value = '$sync'
  WHERE option_name = 'woocommerce_custom_orders_table_data_sync_enabled';"
echo "database $database: WooCommerce in $mode mode; capture: $capture"

export SHOP_DSN="mysql://$user:$password@$host:$port/$database" SHOP_CAPTURE="$capture"
"$bin" check -c "$config"
"$bin" setup -c "$config" >"$work/setup.log"

"$bin" run -c "$config" >"$log" 2>&1 &
bridge=$!
count() { sql -N "$database" -e "$1"; }
wait_for() {  # wait_for <seconds> <SQL giving 1 when done>
  local deadline=$((SECONDS + $1))
  until [ "$(count "$2" 2>/dev/null || echo 0)" = 1 ]; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$bridge" 2>/dev/null; then
      echo "demo: the bridge did not get there; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
}
if [ "$capture" = binlog ]; then
  # Binlog capture starts at the end of the binlog: let it store that start before the orders.
  wait_for 30 "SELECT count(*) = 1 FROM smsbridge_checkpoints"
fi
echo "bridge running (log: $log); placing and moving orders (drive.sql)..."
sql "$database" <"$here/drive.sql"

wait_for 60 "SELECT count(*) = 24 AND sum(status IN ('queued', 'sending')) = 0
             FROM smsbridge_messages"
sql -t "$database" -e "SELECT mapping, recipient, status, body FROM smsbridge_messages ORDER BY id"
