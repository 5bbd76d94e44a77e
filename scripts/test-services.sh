#!/usr/bin/env bash
# Starts and stops the real PostgreSQL 15 and MariaDB 10.11 that tests/integration/ talks to.
#
#   scripts/test-services.sh start   start both servers on free loopback ports, write the env file
#   scripts/test-services.sh stop    shut them down and remove every trace; succeeds if none run
#   scripts/test-services.sh env     print the env file path (exit 1 if the services are not up)
#
# Both servers live in one `mktemp -d` directory: data, sockets, logs. Nothing outside it is
# touched except two files: the env file ($SMSBRIDGE_SERVICES_ENV, default
# build/test-services.env) with SMSBRIDGE_TEST_PG_DSN and SMSBRIDGE_TEST_MYSQL_DSN, and a state
# file next to it (same name, .state) with the directory and the server PIDs.
#
# `start` while a previous start is recorded stops that instance first and starts afresh: every
# test run begins from empty databases, and a half-dead instance never gets reused.
# `stop` only ends server processes whose working directory lies inside the temp directory named
# in the state file (the recorded PIDs, then any leftover child), so database servers this script
# did not start are never touched, even if a recorded PID has been reused.
set -euo pipefail

readonly DB_USER=smsbridge
readonly DB_PASSWORD=smsbridge
readonly DB_NAME=smsbridge_test
readonly READY_TIMEOUT=60
readonly DIR_PREFIX=smsbridge-services

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)

env_file=${SMSBRIDGE_SERVICES_ENV:-$repo_root/build/test-services.env}
case $env_file in /*) ;; *) env_file=$PWD/$env_file ;; esac
state_file=${env_file%.env}.state
[ "$state_file" != "$env_file" ] || state_file=$env_file.state

say() { echo "test-services: $*"; }
die() { echo "test-services: error: $*" >&2; exit 1; }

# --- helpers ---------------------------------------------------------------------------------

# Runs a command as the given OS user; as the current user when not root.
as_user() {
  local user=$1
  shift
  if [ "$(id -u)" -ne 0 ] || [ -z "$user" ]; then
    "$@"
  elif command -v runuser >/dev/null; then
    runuser -u "$user" -- "$@"
  else
    su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
  fi
}

port_is_free() {
  [ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

free_port() {
  local port attempt
  for attempt in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if port_is_free "$port"; then
      echo "$port"
      return 0
    fi
  done
  die "no free loopback port found after 100 attempts"
}

pg_bindir() {
  local dir candidates=("$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin)
  mapfile -t -O 2 candidates < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
  for dir in "${candidates[@]}"; do
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  die "PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/install-deps.sh"
}

first_command() {
  local c
  for c in "$@"; do
    if command -v "$c" >/dev/null; then
      command -v "$c"
      return 0
    fi
  done
  die "none of these commands is installed: $*; run scripts/install-deps.sh"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# True if the process runs with its working directory inside $tmpdir: postgres and mariadbd
# chdir into their data directory, so this tells our servers apart from anyone else's.
pid_is_ours() {
  local pid=$1 cwd
  pid_alive "$pid" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  case $cwd in "$tmpdir"/*) return 0 ;; esac
  return 1
}

wait_gone() {
  local pid=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

terminate() {
  local pid=$1 name=$2
  pid_is_ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 30 && return 0
  say "$name (pid $pid) ignored SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || true
}

write_state() {
  mkdir -p "$(dirname "$state_file")"
  {
    printf 'tmpdir=%q\n' "$tmpdir"
    printf 'pg_bindir=%q\n' "${pg_bin:-}"
    printf 'pg_pid=%q\n' "${pg_pid:-}"
    printf 'pg_port=%q\n' "${pg_port:-}"
    printf 'mysql_pid=%q\n' "${mysql_pid:-}"
    printf 'mysql_port=%q\n' "${mysql_port:-}"
  } >"$state_file.tmp"
  mv "$state_file.tmp" "$state_file"
}

show_log() {
  local log=$1
  [ -f "$log" ] || return 0
  echo "---- last lines of $(basename "$log") ----" >&2
  tail -n 40 "$log" >&2
  echo "----" >&2
}

# --- PostgreSQL ------------------------------------------------------------------------------

pg_os_user() {
  if [ "$(id -u)" -eq 0 ]; then echo postgres; fi
}

start_postgres() {
  pg_bin=$(pg_bindir)
  local os_user data sock log attempt
  os_user=$(pg_os_user)
  if [ -n "$os_user" ] && ! id "$os_user" >/dev/null 2>&1; then
    die "the '$os_user' OS user does not exist; PostgreSQL refuses to run as root"
  fi
  data=$tmpdir/pg/data
  sock=$tmpdir/pg
  log=$tmpdir/pg/server.log
  mkdir -p "$sock"
  [ -z "$os_user" ] || chown "$os_user" "$sock"

  say "initialising PostgreSQL ($("$pg_bin/postgres" --version | awk '{print $3}'))"
  if ! as_user "$os_user" "$pg_bin/initdb" -D "$data" -U postgres -E UTF8 --no-locale \
    --auth-local=trust --auth-host=reject >"$tmpdir/pg/initdb.log" 2>&1; then
    show_log "$tmpdir/pg/initdb.log"
    die "initdb failed"
  fi
  cat >>"$data/postgresql.conf" <<EOF

# smsbridge test instance
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
password_encryption = 'scram-sha-256'
EOF
  # Only the test role may log in over TCP; the superuser uses the socket in the temp dir.
  cat >"$data/pg_hba.conf" <<EOF
local   all          all                        trust
local   replication  all                        trust
host    all          $DB_USER    127.0.0.1/32     scram-sha-256
host    replication  $DB_USER    127.0.0.1/32     scram-sha-256
EOF
  [ -z "$os_user" ] || chown "$os_user" "$data/pg_hba.conf"

  for attempt in 1 2 3 4 5; do
    pg_port=$(free_port)
    say "starting PostgreSQL on 127.0.0.1:$pg_port"
    if as_user "$os_user" "$pg_bin/pg_ctl" -D "$data" -l "$log" -w -t "$READY_TIMEOUT" \
      -o "-p $pg_port" start >/dev/null; then
      pg_pid=$(head -n 1 "$data/postmaster.pid")
      write_state
      break
    fi
    pg_pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    write_state
    if grep -q "Address already in use" "$log" 2>/dev/null && [ "$attempt" -lt 5 ]; then
      say "port $pg_port was taken meanwhile; retrying"
      as_user "$os_user" "$pg_bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
      continue
    fi
    show_log "$log"
    die "PostgreSQL did not start"
  done

  # CREATEROLE: the doctor tests create a role without REPLICATION or SELECT and use it
  # through SET ROLE (only the test role may log in over TCP).
  local psql_admin=("$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$pg_port" -U postgres
    -d postgres)
  if ! as_user "$os_user" "${psql_admin[@]}" >"$tmpdir/pg/setup.log" 2>&1 <<EOF; then
CREATE ROLE $DB_USER LOGIN REPLICATION CREATEDB CREATEROLE PASSWORD '$DB_PASSWORD';
CREATE DATABASE $DB_NAME OWNER $DB_USER;
EOF
    show_log "$tmpdir/pg/setup.log"
    die "creating the PostgreSQL role and database failed"
  fi
}

wait_postgres_tcp() {
  local dsn=$1 i
  for ((i = 0; i < READY_TIMEOUT; i++)); do
    if PGCONNECT_TIMEOUT=2 "$pg_bin/psql" -X -q -t -c 'SELECT 1' "$dsn" >/dev/null 2>&1; then
      return 0
    fi
    pid_alive "$pg_pid" || break
    sleep 1
  done
  show_log "$tmpdir/pg/server.log"
  die "PostgreSQL does not accept TCP connections as $DB_USER on 127.0.0.1:$pg_port"
}

stop_postgres() {
  pid_is_ours "${pg_pid:-}" || return 0
  say "stopping PostgreSQL (pid $pg_pid)"
  local os_user
  os_user=$(pg_os_user)
  if [ -n "${pg_bindir:-}" ] &&
    as_user "$os_user" "$pg_bindir/pg_ctl" -D "$tmpdir/pg/data" -m fast -w -t 30 stop \
      >/dev/null 2>&1; then
    wait_gone "$pg_pid" 10 || true
  fi
  terminate "$pg_pid" PostgreSQL
}

# --- MariaDB ---------------------------------------------------------------------------------

mysql_os_user() {
  if [ "$(id -u)" -eq 0 ] && id mysql >/dev/null 2>&1; then echo mysql; fi
}

start_mariadb() {
  local server install client admin os_user dir data sock log attempt i
  server=$(first_command mariadbd mysqld /usr/sbin/mariadbd /usr/sbin/mysqld)
  install=$(first_command mariadb-install-db mysql_install_db)
  client=$(first_command mariadb mysql)
  admin=$(first_command mariadb-admin mysqladmin)
  os_user=$(mysql_os_user)
  dir=$tmpdir/mysql
  data=$dir/data
  sock=$dir/mysqld.sock
  log=$dir/server.log
  mkdir -p "$dir/tmp"
  [ -z "$os_user" ] || chown -R "$os_user" "$dir"

  say "initialising MariaDB ($("$server" --version | awk '{print $3}'))"
  local user_opt=()
  [ -z "$os_user" ] || user_opt=(--user="$os_user")
  if ! "$install" --no-defaults --datadir="$data" "${user_opt[@]}" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1; then
    show_log "$dir/install.log"
    die "mariadb-install-db failed"
  fi

  for attempt in 1 2 3 4 5; do
    mysql_port=$(free_port)
    say "starting MariaDB on 127.0.0.1:$mysql_port"
    # setsid: the server must outlive this script and not get the terminal's signals.
    setsid "$server" --no-defaults "${user_opt[@]}" \
      --datadir="$data" --tmpdir="$dir/tmp" --socket="$sock" --pid-file="$dir/mysqld.pid" \
      --log-error="$log" --bind-address=127.0.0.1 --port="$mysql_port" --skip-name-resolve \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --server-id=1 --log-bin="$data/binlog" --binlog-format=ROW --binlog-row-image=FULL \
      --binlog-row-metadata=FULL --sync-binlog=1 \
      </dev/null >>"$dir/stdout.log" 2>&1 &
    mysql_pid=$!
    write_state
    for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
      pid_alive "$mysql_pid" || break
      "$admin" --no-defaults --protocol=socket --socket="$sock" -uroot --connect-timeout=2 \
        ping >/dev/null 2>&1 && break
      sleep 0.2
    done
    if pid_alive "$mysql_pid" &&
      "$admin" --no-defaults --protocol=socket --socket="$sock" -uroot ping >/dev/null 2>&1; then
      mysql_pid=$(cat "$dir/mysqld.pid")
      write_state
      break
    fi
    if ! pid_alive "$mysql_pid" && grep -q "Address already in use" "$log" 2>/dev/null &&
      [ "$attempt" -lt 5 ]; then
      say "port $mysql_port was taken meanwhile; retrying"
      continue
    fi
    show_log "$log"
    die "MariaDB did not start"
  done

  if ! "$client" --no-defaults --protocol=socket --socket="$sock" -uroot \
    >"$dir/setup.log" 2>&1 <<EOF; then
CREATE USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
EOF
    show_log "$dir/setup.log"
    die "creating the MariaDB user and database failed"
  fi
}

wait_mariadb_tcp() {
  local client i
  client=$(first_command mariadb mysql)
  for ((i = 0; i < READY_TIMEOUT; i++)); do
    if "$client" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$mysql_port" -u "$DB_USER" \
      -p"$DB_PASSWORD" --connect-timeout=2 -e 'SELECT 1' "$DB_NAME" >/dev/null 2>&1; then
      return 0
    fi
    pid_alive "$mysql_pid" || break
    sleep 1
  done
  show_log "$tmpdir/mysql/server.log"
  die "MariaDB does not accept TCP connections as $DB_USER on 127.0.0.1:$mysql_port"
}

stop_mariadb() {
  pid_is_ours "${mysql_pid:-}" || return 0
  say "stopping MariaDB (pid $mysql_pid)"
  local admin
  admin=$(command -v mariadb-admin || command -v mysqladmin || true)
  if [ -n "$admin" ] && "$admin" --no-defaults --protocol=socket \
    --socket="$tmpdir/mysql/mysqld.sock" -uroot --connect-timeout=5 shutdown >/dev/null 2>&1; then
    wait_gone "$mysql_pid" 30 || true
  fi
  terminate "$mysql_pid" MariaDB
}

# --- commands --------------------------------------------------------------------------------

# Kills whatever server process still runs inside $tmpdir (e.g. a postgres child whose
# postmaster was killed).
kill_leftovers() {
  local proc pid exe
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    pid_is_ours "$pid" || continue
    exe=$(basename "$(readlink "$proc/exe" 2>/dev/null || true)")
    case $exe in
      postgres | postmaster | mariadbd | mysqld)
        say "killing leftover $exe (pid $pid)"
        kill -KILL "$pid" 2>/dev/null || true
        ;;
    esac
  done
}

cmd_stop() {
  if [ ! -f "$state_file" ]; then
    rm -f "$env_file"
    say "nothing to stop"
    return 0
  fi
  local tmpdir="" pg_bindir="" pg_pid="" pg_port="" mysql_pid="" mysql_port=""
  # shellcheck source=/dev/null
  source "$state_file"
  case $tmpdir in
    */"$DIR_PREFIX".*) ;;
    *) die "state file $state_file names an unexpected directory '$tmpdir'; not touching it" ;;
  esac
  stop_postgres
  stop_mariadb
  if [ -d "$tmpdir" ]; then
    kill_leftovers
    sleep 0.2
    rm -rf "$tmpdir"
  fi
  rm -f "$env_file" "$state_file"
  say "stopped; removed $tmpdir"
}

start_failed() {
  local rc=$?
  trap - EXIT
  if [ "$rc" -ne 0 ] && [ -f "$state_file" ]; then
    say "start failed; cleaning up"
    cmd_stop || true
  fi
  exit "$rc"
}

cmd_start() {
  if [ -f "$state_file" ]; then
    say "a previous instance is recorded; stopping it first"
    cmd_stop
  fi
  rm -f "$env_file"
  command -v ss >/dev/null || die "ss (iproute2) is required to find free ports"

  tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/$DIR_PREFIX.XXXXXXXX")
  chmod 755 "$tmpdir"
  pg_bin="" pg_pid="" pg_port="" mysql_pid="" mysql_port=""
  write_state
  trap start_failed EXIT

  start_postgres
  start_mariadb

  local pg_dsn="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$pg_port/$DB_NAME"
  local mysql_dsn="mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$mysql_port/$DB_NAME"
  wait_postgres_tcp "$pg_dsn"
  wait_mariadb_tcp

  {
    echo "# Written by scripts/test-services.sh start; removed by stop."
    echo "export SMSBRIDGE_TEST_PG_DSN='$pg_dsn'"
    echo "export SMSBRIDGE_TEST_MYSQL_DSN='$mysql_dsn'"
  } >"$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
  trap - EXIT

  say "PostgreSQL ready at 127.0.0.1:$pg_port (pid $pg_pid)"
  say "MariaDB ready at 127.0.0.1:$mysql_port (pid $mysql_pid)"
  say "env file: $env_file"
}

cmd_env() {
  echo "$env_file"
  if [ ! -f "$env_file" ]; then
    echo "test-services: not running (run scripts/test-services.sh start)" >&2
    return 1
  fi
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
