#!/usr/bin/env bash
# Writes a small folder of sample files for the demo: synthetic images drawn
# with libvips (no photographs, nothing downloaded), the same picture edited
# the ways near-duplicates are (resized, re-encoded, flipped), and a
# non-image file. Usage: scripts/make-samples.sh [OUT_DIR]
set -euo pipefail
out=${1:-samples-generated}
if [ -f "$out/notes.txt" ]; then exit 0; fi
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
cd "$out.tmp"

# A "landscape": Perlin noise at two scales per channel (seeded, so the
# files are the same on every machine), plus a gradient.
vips xyz xy.v 1600 1000
vips extract_band xy.v x.v 0
vips linear x.v ramp.v 0.05 0
for c in 0 1 2; do
  vips perlin p1.v 1600 1000 --cell-size 256 --seed $((11 + c))
  vips perlin p2.v 1600 1000 --cell-size 48 --seed $((23 + c))
  vips linear p1.v q1.v 150 100
  vips linear p2.v q2.v 50 0
  vips add q1.v q2.v sum.v
  vips add sum.v ramp.v band$c.v
done
vips bandjoin "band0.v band1.v band2.v" rgbf.v
vips cast rgbf.v landscape.v uchar
vips copy landscape.v landscape.jpg[Q=92,strip]
vips copy landscape.v landscape.png[strip]
vips resize landscape.v landscape-small.jpg[Q=80,strip] 0.4
vips flip landscape.v landscape-mirrored.jpg[Q=92,strip] horizontal
vips rot landscape.v landscape-rotated.webp[Q=85,strip] d90
# A different picture: concentric rings (should not match the first).
vips eye rings.v 1200 900 --factor 0.6
vips linear rings.v r.v 127 128
vips cast r.v rings8.v uchar
vips bandjoin "rings8.v rings8.v rings8.v" rings3.v
vips copy rings3.v rings.jpg[Q=90,strip]
# Too small to hash meaningfully (under 5 px on a side).
vips crop landscape.v tiny.png[strip] 0 0 4 4
# Not an image.
printf 'Safeguard demo: this file is not an image, so it gets digests only.\n' > notes.txt
rm -f ./*.v
cd ..
rm -rf "$out" && mv "$out.tmp" "$out"
