#!/usr/bin/env bash
# The main job on the embedded default: install, build, write the sample
# folder, make a demo bank from one sample picture's hashes and demo API keys,
# then run the matching service on 127.0.0.1:8080 (SQLite under
# ./safeguard-data/) until Ctrl-C. README.md shows requests to try.
# Extra arguments go to `safeguard serve`, e.g. `scripts/demo.sh --listen 127.0.0.1:9000`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target safeguard
bash scripts/make-samples.sh samples-generated
sg=./build/src/cli/safeguard
keys=safeguard-data/demo-keys.env

if ! "$sg" bank show demo-known >/dev/null 2>&1; then
  echo "+ a demo block bank holding the PDQ hash of samples-generated/landscape.jpg" >&2
  "$sg" bank create demo-known --kind block --label category=B1 --source "demo samples" >/dev/null
  "$sg" hash samples-generated/landscape.jpg |
    sed -n 's/.*"pdq":"\([0-9a-f]*\)".*/\1/p' >safeguard-data/demo-known.pdq
  "$sg" bank import demo-known --format plain --signal pdq safeguard-data/demo-known.pdq >/dev/null
fi
if [ ! -f "$keys" ]; then
  echo "+ demo API keys (admin, submit, review) in $keys" >&2
  {
    for scope in admin submit review; do
      token=$("$sg" keys create "demo-$scope" --scopes "$scope" |
        sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
      echo "${scope^^}=$token"
    done
  } >"$keys"
  chmod 600 "$keys"
fi
echo "+ keys: source $keys   (then see README.md, 'Try the service')" >&2
echo "+ safeguard serve $*" >&2
exec "$sg" serve "$@"
