#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/, only the sources they need) and runs each
# for a short while from its seed corpus in tests/fuzz/corpus/<target>/. Fails when a target
# crashes, hangs (-timeout) or trips a sanitizer; the input that did it is kept and named.
#   tests/fuzz/run.sh [seconds per target, default 25]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

seconds=${1:-${SMSBRIDGE_FUZZ_SECONDS:-25}}
jobs=${SMSBRIDGE_BUILD_JOBS:-2}
build=build-fuzz

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DSMSBRIDGE_FUZZ=ON >/dev/null
cmake --build "$build" --parallel "$jobs"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for target in expression_fuzz template_fuzz phone_fuzz; do
  seeds="tests/fuzz/corpus/${target%_fuzz}"
  # New inputs go to the first directory, so the seed corpus in the repository stays as it is.
  mkdir -p "$work/$target" "$work/artifacts"
  log="$work/$target.log"
  echo "fuzz: $target for ${seconds}s"
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=5 \
      -artifact_prefix="$work/artifacts/$target-" "$work/$target" "$seeds" >"$log" 2>&1; then
    failed=1
    tail -n 40 "$log" >&2
    mkdir -p "$build/fuzz-artifacts"
    cp "$work"/artifacts/"$target"-* "$build/fuzz-artifacts/" 2>/dev/null || true
    echo "fuzz: $target FAILED; reproduce with: $build/tests/fuzz/$target $build/fuzz-artifacts/<file>" >&2
  else
    grep -E '^Done [0-9]+ runs' "$log" || true
  fi
done
exit "$failed"
