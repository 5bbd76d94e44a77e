#!/usr/bin/env bash
# Builds everything with warnings as errors, starts real PostgreSQL and MariaDB, runs every test
# (unit, integration, e2e) and the fuzz targets briefly, and stops the databases again, also
# when something fails.
# Extra arguments go to ctest, e.g. `scripts/test.sh -L integration` or `-R Postgres`.
# Tests run serially: the e2e tests share SQLite files and spawn processes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${SMSBRIDGE_BUILD_JOBS:-2}

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DSMSBRIDGE_WERROR=ON
cmake --build build --parallel "$jobs"

# shellcheck disable=SC2317  # called through the EXIT trap
stop_services() {
  local rc=$?
  bash scripts/test-services.sh stop || echo "test.sh: warning: stopping the test databases failed" >&2
  exit "$rc"
}
trap stop_services EXIT

bash scripts/test-services.sh start
env_file=$(bash scripts/test-services.sh env)
# shellcheck source=/dev/null
source "$env_file"

rc=0
ctest --test-dir build --output-on-failure "$@" || rc=$?
# The expression and template parsers get a short libFuzzer run in a clang build of their own
# (about a minute and a half with a cold cache). SMSBRIDGE_FUZZ_SECONDS=0 leaves it out.
if [ "${SMSBRIDGE_FUZZ_SECONDS:-25}" != 0 ]; then
  bash tests/fuzz/run.sh || rc=$?
fi
exit "$rc"
