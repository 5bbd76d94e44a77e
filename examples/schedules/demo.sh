#!/usr/bin/env bash
# Runs the schedules example: creates shop.db from shop.sql (bookings, carts and customers with
# times relative to now), sets up the store, and runs the bridge until the booking reminder and
# the abandoned-cart SMS have gone out through the sandbox provider (within about two minutes:
# both schedules run every minute). Build first (scripts/demo.sh or ninja -C build).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/build/smsbridge"
config="$here/smsbridge.yaml"
db="$here/shop.db"
log="$here/smsbridge.log"

rm -f "$db" "$db-wal" "$db-shm" "$log"
sqlite3 "$db" < "$here/shop.sql" >/dev/null
"$bin" check -c "$config"
"$bin" setup -c "$config"

"$bin" run -c "$config" >"$log" 2>&1 &
bridge=$!
trap 'kill "$bridge" 2>/dev/null || true' EXIT
echo "bridge running (log: $log); waiting for the reminder and the cart SMS..."

deadline=$((SECONDS + 180))
until [ "$(sqlite3 -cmd ".timeout 5000" "$db" \
  "SELECT count(*) FROM smsbridge_messages WHERE status IN ('delivered','scheduled')")" -ge 2 ]; do
  if [ $SECONDS -ge $deadline ]; then
    echo "demo: timed out; see $log" >&2
    exit 1
  fi
  if ! kill -0 "$bridge" 2>/dev/null; then
    echo "demo: the bridge exited early; see $log" >&2
    exit 1
  fi
  sleep 1
done
sqlite3 -header -column -cmd ".timeout 5000" "$db" \
  "SELECT mapping AS schedule, recipient, status, body FROM smsbridge_messages ORDER BY id"
grep -E "Schedule (registered|run complete)" "$log" || true
