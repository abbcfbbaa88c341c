#!/usr/bin/env bash
# The main job on the embedded default: install, build, write the sample
# folder, and fingerprint it with `safeguard hash` (one JSON line per file).
# Extra arguments go to `safeguard hash`, e.g. `scripts/demo.sh --dihedral`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target safeguard
bash scripts/make-samples.sh samples-generated
echo "+ safeguard hash $* samples-generated" >&2
./build/src/cli/safeguard hash "$@" samples-generated
