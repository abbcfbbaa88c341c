#!/usr/bin/env bash
# Installs what Safeguard needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang clang-format         # libFuzzer for the fuzz targets; the format check
  libvips-dev libvips-tools  # image decoding (JPEG, PNG, WebP, GIF, TIFF, HEIF...)
  libstb-dev                 # BMP (stb_image, BMP decoder only)
  libssl-dev                 # MD5, SHA-1, SHA-256
  nlohmann-json3-dev libcli11-dev
  libgtest-dev libbenchmark-dev
  libicu-dev libfasttext-dev libpugixml-dev  # text: normalisation, classifier, PAN XML
  libfaiss-dev               # the index benchmark's peer (FAISS); the library never links it
  libsqlite3-dev             # store: the embedded bank database
  libpq-dev postgresql       # store: PostgreSQL back end; its tests start a throwaway server
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev  # video: demux, decode, scale
  libyaml-cpp-dev            # policy: rules written in YAML
  libcpp-httplib-dev         # api: the HTTP server (and the tests' client)
  wrk                        # the service load benchmark
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
