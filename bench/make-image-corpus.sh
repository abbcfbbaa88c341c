#!/usr/bin/env bash
# Builds the benchmark image corpus from real photographs shipped in Debian
# packages (fetched with `apt-get download`; nothing is copied into the repo).
#
# Usage: bench/make-image-corpus.sh [OUT_DIR]     (default: ./bench-corpus)
#
# Layout:
#   OUT_DIR/large/*.jpg   12-megapixel class. A photo of 9.5..16 MP is copied as
#                         shipped; a smaller one is upscaled to ~12 MP with
#                         `vips resize` (named *.upscaled.jpg); a bigger one is
#                         downscaled to ~12 MP.
#   OUT_DIR/medium/*.jpg  the photos as shipped when at most 6 MP, otherwise
#                         downscaled to fit 2560x2560 (Q=90).
#   OUT_DIR/small/*.jpg   thumbnails fitting 320x240 and 640x480 (Q=85).
#   OUT_DIR/other/        some photos as PNG (fit 1600x1600) and WebP (fit 1920x1920, Q=80).
#   OUT_DIR/SOURCES.tsv   every image: size, source package and file, licence, how it was made.
#   OUT_DIR/licenses/     the packages' debian/copyright files.
#
# Idempotent: does nothing when OUT_DIR/.complete exists (delete the directory
# to rebuild). Installs libvips-tools if `vips` is missing (needs root then).
set -euo pipefail

readonly OUT_DIR="${1:-./bench-corpus}"
readonly LARGE_TARGET_PIXELS=12000000  # 4000x3000
readonly LARGE_MIN_PIXELS=9500000      # copied as shipped from here ...
readonly LARGE_MAX_PIXELS=16000000     # ... up to here
readonly MEDIUM_MAX_PIXELS=6000000

# The photographs: "<package> <path inside the package>". Chosen by hand:
# these packages also ship drawings, renders and logos, which are left out.
readonly PHOTOS=(
  "lomiri-wallpapers-16.04 usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/Dragonfly_by_Bolly.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/Picture_0B_by_freespace.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/Picture_1A_by_freespace.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/analogpattern_by_Peter_Nerlich.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/free_by_Peter_Nerlich.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg"
  "lomiri-wallpapers-16.04 usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg"
  "lomiri-wallpapers-20.04 usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/Aqua.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/Blinds.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/Dune.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/FreshFlower.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/Garden.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/GreenMeadow.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/LadyBird.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/RainDrops.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/Storm.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/TwoWings.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/Wood.jpg"
  "mate-backgrounds usr/share/backgrounds/mate/nature/YellowFlower.jpg"
)
readonly MIN_PHOTOS=10  # fail rather than build a uselessly small corpus

log() { printf 'make-image-corpus: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# "N images (...), M megapixels, S MiB" for a finished corpus.
summary() {
  local dir="$1"
  local -a files
  mapfile -t files < <(find "$dir/large" "$dir/medium" "$dir/small" "$dir/other" -type f | sort)
  ((${#files[@]} > 0)) || die "no images in $dir"
  local mp bytes
  # One vipsheader call for all files: "path: WxH uchar, 3 bands, ...".
  mp=$(vipsheader "${files[@]}" 2>/dev/null |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+x[0-9]+$/) { split($i, d, "x"); t += d[1] * d[2]; break } }
         END { printf "%.1f", t / 1e6 }')
  bytes=$(du -cb "${files[@]}" | tail -n 1 | cut -f 1)
  local n_large n_up n_medium n_small n_other
  n_large=$(find "$dir/large" -type f | wc -l)
  n_up=$(find "$dir/large" -type f -name '*.upscaled.jpg' | wc -l)
  n_medium=$(find "$dir/medium" -type f | wc -l)
  n_small=$(find "$dir/small" -type f | wc -l)
  n_other=$(find "$dir/other" -type f | wc -l)
  printf '%s: %d images (large %d [%d upscaled from smaller photos], medium %d, small %d, other %d), %s megapixels, %d MiB\n' \
    "$dir" "${#files[@]}" "$n_large" "$n_up" "$n_medium" "$n_small" "$n_other" "$mp" \
    $((bytes / 1048576))
}

if [[ -e "$OUT_DIR/.complete" ]]; then
  command -v vipsheader >/dev/null || die "vipsheader missing; install libvips-tools"
  log "already built; delete $OUT_DIR to rebuild"
  summary "$OUT_DIR"
  exit 0
fi
if [[ -e "$OUT_DIR" ]]; then
  # An interrupted run leaves no directory (it builds in a staging one), so
  # this is something else: never delete what this script did not make.
  if [[ ! -d "$OUT_DIR" ]] || [[ -n "$(ls -A "$OUT_DIR")" ]]; then
    die "$OUT_DIR exists and is not a finished corpus; remove it or choose another OUT_DIR"
  fi
  rmdir "$OUT_DIR"
fi

# --- Tools -----------------------------------------------------------------
SECONDS=0
need_apt_lists() { ! apt-cache show --no-all-versions "${PHOTOS[0]%% *}" >/dev/null 2>&1; }
if ! command -v vips >/dev/null || ! command -v vipsheader >/dev/null; then
  ((EUID == 0)) || die "libvips-tools is not installed; run as root or: sudo apt-get install libvips-tools"
  if need_apt_lists; then
    log "apt package lists are empty; running apt-get update"
    apt-get update -qq
  fi
  log "installing libvips-tools"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvips-tools >/dev/null
fi
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (this script needs a Debian-based system)"
if need_apt_lists; then
  ((EUID == 0)) || die "apt package lists are empty; run 'sudo apt-get update' first"
  log "apt package lists are empty; running apt-get update"
  apt-get update -qq
fi

# --- Staging ---------------------------------------------------------------
OUT_PARENT=$(dirname -- "$OUT_DIR")
mkdir -p -- "$OUT_PARENT"
STAGE=$(mktemp -d "$OUT_PARENT/.bench-corpus-staging.XXXXXX")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/make-image-corpus.XXXXXX")
cleanup() { rm -rf -- "$STAGE" "$WORK"; }
trap cleanup EXIT
mkdir -p "$STAGE"/{large,medium,small,other,licenses} "$WORK/debs" "$WORK/root"

# --- Download and unpack the packages ---------------------------------------
mapfile -t PACKAGES < <(printf '%s\n' "${PHOTOS[@]}" | cut -d ' ' -f 1 | sort -u)
log "downloading ${PACKAGES[*]}"
# apt drops root to _apt for downloads; let it write here (else it warns).
chmod 755 "$WORK" && { chown _apt "$WORK/debs" 2>/dev/null || true; }
(cd "$WORK/debs" && apt-get download -q "${PACKAGES[@]}" >/dev/null)
declare -A PKG_VERSION
for pkg in "${PACKAGES[@]}"; do
  deb=$(find "$WORK/debs" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
  [[ -n "$deb" ]] || die "apt-get download did not produce a .deb for $pkg"
  PKG_VERSION[$pkg]=$(dpkg-deb -f "$deb" Version)
  mkdir -p "$WORK/root/$pkg"
  dpkg-deb -x "$deb" "$WORK/root/$pkg"
  copyright="$WORK/root/$pkg/usr/share/doc/$pkg/copyright"
  [[ -f "$copyright" ]] && cp "$copyright" "$STAGE/licenses/$pkg.copyright"
done

# Licence and copyright holder of one file from a machine-readable
# (DEP-5) debian/copyright, matched by file name: "LICENSE<TAB>HOLDERS".
licence_of() {
  local copyright="$1" name="$2"
  [[ -f "$copyright" ]] || {
    printf 'unknown\tunknown\n'
    return
  }
  awk -v name="$name" '
    BEGIN { RS = ""; FS = "\n" }
    {
      files = ""; lic = ""; holders = ""; field = ""
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^[A-Za-z-]+:/) {
          field = substr(line, 1, index(line, ":") - 1)
          value = substr(line, index(line, ":") + 1)
        } else {
          value = line
        }
        gsub(/^[ \t]+|[ \t]+$/, "", value)
        if (field == "Files") files = files " " value
        else if (field == "License" && lic == "") lic = value
        else if (field == "Copyright" && value != "") holders = holders (holders == "" ? "" : "; ") value
      }
      n = split(files, f, /[ \t]+/)
      for (j = 1; j <= n; j++) {
        base = f[j]; sub(/.*\//, "", base)
        if (base == name) { print lic "\t" holders; found = 1; exit }
      }
    }
    END { if (!found) print "unknown\tunknown" }
  ' "$copyright"
}

# --- Convert -----------------------------------------------------------------
# One job per photo, run in parallel; each prints its SOURCES.tsv rows.
# Arguments: index, package, version, path inside the package.
process_photo() {
  local idx="$1" pkg="$2" version="$3" path="$4"
  local src="$WORK/root/$pkg/$path"
  local file name w h pixels scale lic
  file=$(basename -- "$path")
  name="${file%.*}"
  w=$(vipsheader -f width "$src")
  h=$(vipsheader -f height "$src")
  pixels=$((w * h))
  lic=$(licence_of "$STAGE/licenses/$pkg.copyright" "$file")
  row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$pkg" "$version" "/$path" "$lic" "$3"; }
  dims() { printf '%sx%s' "$(vipsheader -f width "$1")" "$(vipsheader -f height "$1")"; }

  # large/: ~12 MP.
  if ((pixels >= LARGE_MIN_PIXELS && pixels <= LARGE_MAX_PIXELS)); then
    cp -- "$src" "$STAGE/large/$name.jpg"
    row "large/$name.jpg" "${w}x${h}" "as shipped"
  else
    local out how
    scale=$(awk -v t="$LARGE_TARGET_PIXELS" -v p="$pixels" 'BEGIN { printf "%.6f", sqrt(t / p) }')
    if ((pixels < LARGE_MIN_PIXELS)); then
      out="large/$name.upscaled.jpg"
      how="upscaled from ${w}x${h}: vips resize (lanczos3) x$scale, Q=90"
    else
      out="large/$name.jpg"
      how="downscaled from ${w}x${h}: vips resize (lanczos3) x$scale, Q=90"
    fi
    vips resize "$src" "$STAGE/${out}[Q=90]" "$scale" --kernel lanczos3
    row "$out" "$(dims "$STAGE/$out")" "$how"
  fi

  # medium/: the photo as shipped, unless it is big.
  if ((pixels <= MEDIUM_MAX_PIXELS)); then
    cp -- "$src" "$STAGE/medium/$name.jpg"
    row "medium/$name.jpg" "${w}x${h}" "as shipped"
  else
    vips thumbnail "$src" "$STAGE/medium/$name.jpg[Q=90]" 2560 --height 2560
    row "medium/$name.jpg" "$(dims "$STAGE/medium/$name.jpg")" \
      "downscaled from ${w}x${h}: vips thumbnail fit 2560x2560, Q=90"
  fi

  # small/: thumbnails.
  local box bw bh
  for box in 320x240 640x480; do
    bw=${box%x*} bh=${box#*x}
    vips thumbnail "$src" "$STAGE/small/$name-$bw.jpg[Q=85]" "$bw" --height "$bh"
    row "small/$name-$bw.jpg" "$(dims "$STAGE/small/$name-$bw.jpg")" \
      "vips thumbnail fit $box, Q=85"
  done

  # other/: a few photos as PNG or WebP.
  if ((idx % 5 == 0)); then
    vips thumbnail "$src" "$STAGE/other/$name.png" 1600 --height 1600
    row "other/$name.png" "$(dims "$STAGE/other/$name.png")" "vips thumbnail fit 1600x1600, PNG"
  elif ((idx % 5 == 2)); then
    vips thumbnail "$src" "$STAGE/other/$name.webp[Q=80]" 1920 --height 1920
    row "other/$name.webp" "$(dims "$STAGE/other/$name.webp")" \
      "vips thumbnail fit 1920x1920, WebP Q=80"
  fi
}
export -f process_photo licence_of
export WORK STAGE LARGE_TARGET_PIXELS LARGE_MIN_PIXELS LARGE_MAX_PIXELS MEDIUM_MAX_PIXELS

JOBS=$(nproc 2>/dev/null || echo 2)
jobs_file="$WORK/jobs"
available=0
: >"$jobs_file"
for i in "${!PHOTOS[@]}"; do
  read -r pkg path <<<"${PHOTOS[$i]}"
  if [[ ! -f "$WORK/root/$pkg/$path" ]]; then
    log "warning: $pkg ${PKG_VERSION[$pkg]} has no /$path; skipping it"
    continue
  fi
  printf '%s\0%s\0%s\0%s\0' "$i" "$pkg" "${PKG_VERSION[$pkg]}" "$path" >>"$jobs_file"
  available=$((available + 1))
done
((available >= MIN_PHOTOS)) || die "only $available of ${#PHOTOS[@]} photos found in the packages"

log "converting $available photos with $JOBS parallel jobs"
# vips threads itself; one thread per job keeps $JOBS jobs from fighting.
VIPS_CONCURRENCY=1 xargs -0 -n 4 -P "$JOBS" \
  bash -c 'set -euo pipefail; process_photo "$@"' _ <"$jobs_file" >"$WORK/rows.tsv"

{
  printf 'file\tdimensions\tpackage\tversion\tsource_file\tlicense\tcopyright\thow_made\n'
  sort "$WORK/rows.tsv"
} >"$STAGE/SOURCES.tsv"
date -u +%Y-%m-%dT%H:%M:%SZ >"$STAGE/.complete"

chmod 755 "$STAGE"
mv -T -- "$STAGE" "$OUT_DIR"
log "built in ${SECONDS}s"
summary "$OUT_DIR"
