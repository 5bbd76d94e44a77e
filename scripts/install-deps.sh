#!/usr/bin/env bash
# Installs every Debian package that building, testing and the demo need, and only the ones
# that are missing. Safe to run again: prints one line when nothing is missing.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config clang-format
  # clang and its libFuzzer/sanitizer runtimes, for tests/fuzz only
  clang libclang-rt-dev
  # libraries (DESIGN.md §9)
  libpq-dev libpqxx-dev libmysqlcppconn-dev libmariadb-dev
  libboost-dev libboost-system-dev
  libyaml-cpp-dev libcurl4-openssl-dev libsqlite3-dev nlohmann-json3-dev
  libphonenumber-dev libicu-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # tools and servers for the demo and the tests
  sqlite3 postgresql-15 postgresql-client-15 mariadb-server mariadb-client
  procps iproute2
  # HTTP load generator: the webhook benchmark measures the server's ceiling with it
  wrk
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are already installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Package servers must not be started by the install: test-services.sh runs its own instances.
policy_created=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  policy_created=1
fi
cleanup() { [ -n "$policy_created" ] && $sudo rm -f /usr/sbin/policy-rc.d; return 0; }
trap cleanup EXIT
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: done"
