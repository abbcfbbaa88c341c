#!/usr/bin/env bash
# The whole test suite: install, build with warnings as errors, run every
# unit and conformance test; the fuzz target briefly on its seed corpus; and
# the tests again under AddressSanitizer and UndefinedBehaviorSanitizer (last,
# so the run ends with ctest's summary).
#   SAFEGUARD_QUICK=1  skips the sanitizer and fuzz stages.
#   FUZZ_SECONDS=N     fuzzing time (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/install-deps.sh

echo "== formatting (.clang-format)" >&2
git ls-files '*.cc' '*.h' '*.inc' | xargs clang-format --dry-run --Werror

echo "== release build (warnings are errors)" >&2
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSAFEGUARD_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest -j "$jobs" --output-on-failure)

if [ "${SAFEGUARD_QUICK:-0}" = 1 ]; then exit 0; fi

echo "== fuzzing decode+hash for ${FUZZ_SECONDS:-60} s" >&2
bash fuzz/run.sh "${FUZZ_SECONDS:-60}"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer" >&2
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSAFEGUARD_WERROR=ON \
  -DSAFEGUARD_SANITIZE=address,undefined -DSAFEGUARD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest -j "$jobs" --output-on-failure)
