#!/usr/bin/env bash
# The quickstart: builds smsbridge, creates a demo shop database (SQLite), runs the bridge on
# examples/quickstart/smsbridge.yaml, and changes orders and stock from another process the
# way a shop would. Shows every SMS produced and the statuses written back, then stops.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
example="examples/quickstart"
config="$example/smsbridge.yaml"
db="$example/shop.db"
bin="build/smsbridge"
log="$example/smsbridge.log"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing missing packages"
bash scripts/install-deps.sh

step "Building smsbridge"
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build --target smsbridge -- -j"$(nproc)" | tail -n 1

step "Creating the demo shop database $db"
rm -f "$db" "$db-wal" "$db-shm" "$log"
sqlite3 "$db" < "$example/shop.sql"
sqlite3 -header -column "$db" "SELECT id, number, customer_name, phone, country, status FROM orders"

step "Checking the config"
"$bin" check -c "$config"

step "Installing the store tables and capture triggers (smsbridge setup)"
"$bin" setup -c "$config"

step "Starting the bridge (smsbridge run); its log: $log"
"$bin" run -c "$config" >"$log" 2>&1 &
bridge=$!
cleanup() { kill "$bridge" 2>/dev/null || true; }
trap cleanup EXIT
# Show what the bridge does as it happens.
tail -n +1 -f "$log" --pid="$bridge" 2>/dev/null | grep --line-buffered -E "SMS sent|Delivery report|WARN|ERROR|error" &
sleep 1

shop() {  # a shop process writing to its own database
  printf '    shop> %s\n' "$1"
  sqlite3 -cmd ".timeout 5000" "$db" "$1"
}

step "The shop ships orders and sells stock (plain SQL UPDATEs from another process)"
shop "UPDATE orders SET status = 'shipped', updated_at = CURRENT_TIMESTAMP WHERE id = 1001"
sleep 0.5
shop "UPDATE orders SET status = 'shipped', updated_at = CURRENT_TIMESTAMP WHERE id IN (1002, 1003)"
sleep 0.5
shop "UPDATE orders SET status = 'cancelled' WHERE id = 1005"
shop "UPDATE products SET stock = stock - 3 WHERE sku = 'MUG-BLK'"
shop "UPDATE products SET stock = stock - 3 WHERE sku = 'TEE-M'"
sleep 0.5
shop "UPDATE orders SET status = 'shipped', updated_at = CURRENT_TIMESTAMP WHERE id = 1004"
shop "UPDATE orders SET status = 'shipped' WHERE id = 1001"

expected=5  # orders 1001-1004 shipped once each, TEE-M crossed its threshold
step "Waiting for $expected SMS to be delivered"
deadline=$((SECONDS + 60))
while :; do
  total=$(sqlite3 -cmd ".timeout 5000" "$db" "SELECT count(*) FROM smsbridge_messages")
  open=$(sqlite3 -cmd ".timeout 5000" "$db" \
    "SELECT count(*) FROM smsbridge_messages WHERE status NOT IN ('delivered','undelivered','expired','failed','rejected','suppressed','cancelled')")
  if [ "$total" -ge "$expected" ] && [ "$open" -eq 0 ]; then break; fi
  if [ $SECONDS -ge $deadline ]; then
    echo "demo: timed out: $total job(s), $open not final yet; see $log" >&2
    exit 1
  fi
  if ! kill -0 "$bridge" 2>/dev/null; then
    echo "demo: the bridge exited early; see $log" >&2
    exit 1
  fi
  sleep 0.5
done

step "Stopping the bridge (SIGTERM: drain and exit)"
kill -TERM "$bridge"
rc=0
wait "$bridge" || rc=$?
trap - EXIT
if [ "$rc" -ne 0 ]; then
  echo "demo: the bridge exited with $rc; see $log" >&2
  exit 1
fi

step "Statuses written back to smsbridge_messages in $db"
sqlite3 -header -column "$db" \
  "SELECT id, mapping, recipient_raw, recipient, segments, encoding, status, status_reason, provider_message_id FROM smsbridge_messages ORDER BY id"
echo
sqlite3 -header -column "$db" "SELECT id, recipient, body FROM smsbridge_messages ORDER BY id"

delivered=$(sqlite3 "$db" "SELECT count(*) FROM smsbridge_messages WHERE status = 'delivered'")
total=$(sqlite3 "$db" "SELECT count(*) FROM smsbridge_messages")
step "Summary"
echo "  $total SMS produced from the shop's changes, $delivered delivered (sandbox provider)."
echo "  Inspect the demo database:  sqlite3 $db 'SELECT * FROM smsbridge_messages'"
echo "  Run as a daemon:            $bin run -c $config"
if [ "$delivered" -ne "$expected" ] || [ "$total" -ne "$expected" ]; then
  echo "demo: expected $expected delivered SMS" >&2
  exit 1
fi
