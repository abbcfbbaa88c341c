#!/usr/bin/env bash
# Builds decode_hash_fuzz with clang in build-fuzz/ and runs it.
#
#   fuzz/run.sh [SECONDS]         default 60: the image target gets two
#                                 thirds, the text target (src/text) one third
#
# Then bank_fuzz (the bank exchange formats) runs for BANK_FUZZ_SECONDS
# (default 30) or BANK_FUZZ_RUNS inputs (default 4000), and policy_fuzz (the
# policy parser, JSON and YAML) for POLICY_FUZZ_SECONDS (default 30) or
# POLICY_FUZZ_RUNS inputs (default 300000), whichever ends first, so that a
# fast machine explores no further than CI does; then video_decode_fuzz
# (demux + decode + sampling) for VIDEO_FUZZ_SECONDS (default 30) or
# VIDEO_FUZZ_RUNS inputs (default 15000) on tiny clips that make_video_seeds
# encodes with FFmpeg's libraries at run time. A variable set to 0 skips its
# target.
#
# Environment:
#   BUILD_DIR     build directory (default <repo>/build-fuzz)
#   JOBS          parallel build jobs (default 2)
#   FUZZ_CORPUS   keep the evolving corpus in this directory (default: a
#                 temporary one, deleted at exit)
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-jobs=4 -workers=4"
#   FUZZ_SEED     libFuzzer's random seed (default 1: CI explores the same
#                 inputs run after run; set 0 for a new seed each time)
#   SAFEGUARD_TESTDATA  reference data (default <repo>/../shared/testdata)
#
# The seed corpus is made at run time (a few reference images, copied, plus
# tiny images generated with the vips command when it is installed); no
# media file lives in the repository. Crash inputs are written to
# $BUILD_DIR/artifacts/.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
testdata="${SAFEGUARD_TESTDATA:-$root/../shared/testdata}"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSAFEGUARD_FUZZ=ON -DSAFEGUARD_TESTS=OFF -DSAFEGUARD_BENCH=OFF >/dev/null
cmake --build "$build" --target decode_hash_fuzz text_fuzz bank_fuzz policy_fuzz -j "${JOBS:-2}"
cmake --build "$build" --target video_decode_fuzz make_video_seeds -j "${JOBS:-2}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
seeds="$work/seeds"
mkdir -p "$seeds"

# Small reference images: baseline and progressive JPEG, PNG, WebP.
for f in misc-images/small.jpg misc-images/wee.jpg bridge-mods/square-128x128.jpg \
         reg-test-input/labelme-subset/q0003.jpg reg-test-input/labelme-subset/q0122.jpg; do
  if [[ -f "$testdata/pdq/$f" ]]; then cp "$testdata/pdq/$f" "$seeds/$(echo "$f" | tr / _)"; fi
done

# Tiny generated images in every format and colour type the decoder handles.
if command -v vips >/dev/null; then
  g="$work/gen"
  mkdir -p "$g"
  vips xyz "$g/xyz.v" 24 16
  vips linear "$g/xyz.v" "$g/xy.v" "10 15" "0 40" --uchar
  vips bandjoin_const "$g/xy.v" "$g/rgb3.v" 90
  vips copy "$g/rgb3.v" "$g/rgb.v" --interpretation srgb
  vips extract_band "$g/rgb.v" "$g/grey.v" 0
  vips bandjoin_const "$g/grey.v" "$g/grey_a.v" 128
  vips bandjoin_const "$g/rgb.v" "$g/rgba.v" 200
  vips copy "$g/rgba.v" "$g/cmyk.v" --interpretation cmyk
  vips cast "$g/rgb.v" "$g/rgb16.v" ushort
  vips copy "$g/rgb16.v" "$g/rgb16i.v" --interpretation rgb16
  for s in rgb grey grey_a rgba rgb16i; do vips copy "$g/$s.v" "$seeds/$s.png"; done
  for s in rgb grey cmyk; do vips copy "$g/$s.v" "$seeds/$s.jpg"; done
  vips copy "$g/rgb.v" "$seeds/progressive.jpg[interlace]"
  for s in rgb rgba cmyk rgb16i; do vips copy "$g/$s.v" "$seeds/$s.tif"; done
  vips copy "$g/rgb.v" "$seeds/lzw.tif[compression=lzw]"
  vips copy "$g/rgb.v" "$seeds/rgb.gif"
  vips copy "$g/rgba.v" "$seeds/rgba.webp"
  vips copy "$g/rgb.v" "$seeds/lossless.webp[lossless]"
  vips copy "$g/rgb.v" "$seeds/rgb.heic" 2>/dev/null || true
  vips copy "$g/rgb.v" "$seeds/rgb.avif" 2>/dev/null || true
  rm -f "$seeds"/*.v
fi
# Signatures alone, to seed the sniffing branches.
printf '\xff\xd8\xff' >"$seeds/magic.jpg"
printf '\x89PNG\r\n\x1a\n' >"$seeds/magic.png"
printf 'GIF89a' >"$seeds/magic.gif"
printf 'II*\0' >"$seeds/magic.tif"
printf 'BM' >"$seeds/magic.bmp"

# Leaks inside third-party codecs are suppressed by name (fuzz/lsan.supp);
# any other leak fails the run.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp:print_suppressions=0}"

corpus="${FUZZ_CORPUS:-$work/corpus}"
mkdir -p "$corpus" "$build/artifacts"
echo "seeds: $(ls "$seeds" | wc -l) files; running for ${seconds}s" >&2

# Runs one target: fuzz_target BINARY CORPUS SEEDS SECONDS RUNS MAX_LEN, for
# SECONDS or RUNS inputs (0: no bound on inputs), whichever ends first, with
# the fixed seed, LeakSanitizer on, and crash inputs kept in artifacts/.
fuzz_target() {
  local runs=()
  if [[ "$5" -gt 0 ]]; then runs=(-runs="$5"); fi
  # shellcheck disable=SC2086
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
  "$1" "$2" "$3" -max_total_time="$4" "${runs[@]}" -max_len="$6" -timeout=20 \
    -rss_limit_mb=3072 -seed="${FUZZ_SEED:-1}" \
    -artifact_prefix="$build/artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-}
}

# detect_leaks=1: libvips frees what it allocates per image (checked under
# LeakSanitizer by the unit tests), so any leak reported here is real.
image_seconds=$(( (seconds * 2 + 2) / 3 ))
text_seconds=$(( seconds - image_seconds ))
fuzz_target "$build/fuzz/decode_hash_fuzz" "$corpus" "$seeds" "$image_seconds" 0 262144

# The text parsers (message JSON, pattern packs, PAN XML, model files): the
# first byte of an input picks the parser (src/text/text_fuzz.cc). Seeds are
# the project's own synthetic text test data.
if [[ "$text_seconds" -gt 0 ]]; then
  text_seeds="$work/text-seeds"
  mkdir -p "$text_seeds" "$work/text-corpus"
  i=0
  while IFS= read -r line && [[ $i -lt 20 ]]; do
    printf '\x00%s' "$line" >"$text_seeds/message-$i"
    i=$((i + 1))
  done <"$root/src/text/testdata/conversations.jsonl"
  { printf '\x01'; cat "$root/src/text/packs/en.json"; } >"$text_seeds/pack"
  { printf '\x02'; cat "$root/src/text/testdata/pan_small.xml"; } >"$text_seeds/pan"
  printf '\x04s e c r 3 t, d0nt t3ll y0ur m0m' >"$text_seeds/normalise"
  echo "text seeds: $(ls "$text_seeds" | wc -l) files; running for ${text_seconds}s" >&2
  fuzz_target "$build/src/text/text_fuzz" "$work/text-corpus" "$text_seeds" "$text_seconds" 0 65536
fi

# Bank exchange formats (src/bank/bank_fuzz.cc): the first byte picks the
# format, the second the signal type; the seeds are one small synthetic file
# of each format. Each input opens an in-memory store: 130 to 190 inputs a
# second on the 2-core CI machine.
bank_seconds="${BANK_FUZZ_SECONDS:-30}"
bank_runs="${BANK_FUZZ_RUNS:-4000}"
if [[ "$bank_seconds" -gt 0 && "$bank_runs" -gt 0 ]]; then
  bank_seeds="$work/bank-seeds"
  mkdir -p "$bank_seeds" "$work/bank-corpus"
  h32=0123456789abcdef0123456789abcdef
  h40="${h32}01234567"
  h64="$h32$h32"
  printf '\x00\x00%s\n# comment\n\n  %s\r\n' "$h64" "${h64^^}" >"$bank_seeds/plain"
  printf '\x01\x01value,signal,source_id,labels,deleted\n%s,md5,7,"a=1;b=2",false\n%s,sha1,8,,true\n' \
    "$h32" "$h40" >"$bank_seeds/csv"
  printf '\x02\x00{"data": [{"id": "1", "type": "HASH_PDQ", "indicator": "%s", "tags": ["t"]}, {"id": "2", "type": "HASH_MD5", "indicator": "%s", "should_delete": true}]}' \
    "$h64" "$h32" >"$bank_seeds/threatexchange"
  printf '\x03\x00{"hashRecords": [{"signalType": "PDQ", "hashValue": "%s", "hashStatus": "Active", "caseNumbers": ["c1"]}, {"signalType": "MD5", "hashValue": "%s", "hashStatus": "Withdrawn"}]}' \
    "$h64" "$h32" >"$bank_seeds/stopncii"
  printf '\x04\x00{"value": [{"Media": [{"MediaID": 1, "Category": "1", "MD5": "%s", "SHA1": "%s"}]}]}' \
    "$h32" "$h40" >"$bank_seeds/vics"
  printf '\x05\x00<queryResult><images><image><id>1</id><classification>A1</classification><fingerprints><md5>%s</md5><pdq>%s</pdq></fingerprints></image></images><deletedEntries><video><id>2</id></video></deletedEntries></queryResult>' \
    "$h32" "$h64" >"$bank_seeds/ncmec"
  echo "bank seeds: $(ls "$bank_seeds" | wc -l) files; running for ${bank_seconds}s" >&2
  fuzz_target "$build/src/bank/bank_fuzz" "$work/bank-corpus" "$bank_seeds" "$bank_seconds" \
    "$bank_runs" 65536
fi

# Policy documents (src/policy/policy_fuzz.cc): what ParsePolicy accepts must
# round-trip through canonical JSON and evaluate citing only matches that
# exist. Seeds: the example policy of docs/policy.md in JSON and in YAML, and
# two small ones (every condition; YAML anchors, aliases, a block scalar).
# About 10,000 inputs a second on the 2-core CI machine.
policy_seconds="${POLICY_FUZZ_SECONDS:-30}"
policy_runs="${POLICY_FUZZ_RUNS:-300000}"
if [[ "$policy_seconds" -gt 0 && "$policy_runs" -gt 0 ]]; then
  policy_seeds="$work/policy-seeds"
  mkdir -p "$policy_seeds" "$work/policy-corpus"
  cat >"$policy_seeds/example.json" <<'END'
{
  "version_note": "stricter on direct messages",
  "webhooks": {"soc": "https://soc.example/hooks/safeguard"},
  "rules": [
    {"id": "allow-list", "description": "Known false positives.",
     "when": {"bank_kind": "allow"}, "then": ["allow"], "final": true},
    {"id": "known-a", "description": "Category A, near or exact.",
     "when": {"bank_kind": "block", "labels": {"category": ["A", "A1", "A2"]},
              "max_distance": 31, "min_quality": 50},
     "then": ["block", {"review": {"priority": 90}}, "report_draft", {"webhook": "soc"}]},
    {"id": "known", "when": {"bank_kind": "block"},
     "then": ["block", {"review": {"priority": 50}}]},
    {"id": "grooming-risk", "when": {"content_kind": "message", "text_risk_min": 0.8},
     "then": [{"review": {"priority": 60}}]}
  ]
}
END
  cat >"$policy_seeds/example.yaml" <<'END'
version_note: stricter on direct messages
webhooks:
  soc: https://soc.example/hooks/safeguard
rules:
  - id: allow-list
    description: Known false positives.
    when: {bank_kind: allow}
    then: [allow]
    final: true
  - id: known-a
    description: Category A, near or exact.
    when:
      bank_kind: block
      labels:
        category: [A, A1, A2]
      max_distance: 31
      min_quality: 50
    then:
      - block
      - review: {priority: 90}
      - report_draft
      - webhook: soc
  - id: known
    when: {bank_kind: block}
    then: [block, {review: {priority: 50}}]
  - id: grooming-risk
    when:
      content_kind: message
      text_risk_min: 0.8
    then:
      - review: {priority: 60}
END
  cat >"$policy_seeds/conditions.json" <<'END'
{"rules": [{"id": "r.1", "when": {"signal": ["pdq", "md5"], "bank": "hotline", "surface": "chat",
  "content_kind": ["image", "file"], "no_matches": false}, "then": "review"},
 {"id": "none", "when": {"no_matches": true}, "then": [{"review": {"priority": 0}}]}]}
END
  cat >"$policy_seeds/aliases.yaml" <<'END'
rules:
  - {id: a, when: {bank_kind: block, labels: {category: &c [A1, "123"]}}, then: [block]}
  - {id: b, when: {labels: {source: *c}}, then: [allow], final: true}
version_note: |
  block scalar
END
  echo "policy seeds: $(ls "$policy_seeds" | wc -l) files; running for ${policy_seconds}s" >&2
  fuzz_target "$build/src/policy/policy_fuzz" "$work/policy-corpus" "$policy_seeds" \
    "$policy_seconds" "$policy_runs" 65536
fi

# Videos: demux + decode + sampling (fuzz/video_decode_fuzz.cc). Seeds are
# tiny clips (H.264 with B-frames and rotation, HEVC, MPEG-4, VP8, VP9, AV1,
# MJPEG with odd dimensions, FLV1, MPEG-1/2, Theora, WMV2 in MP4, MOV,
# Matroska, WebM, IVF, AVI, FLV, MPEG-TS/PS, Ogg, ASF) encoded here and now,
# plus truncated copies of two of them.
# Its first finding (one IVF frame claiming 40 million seconds, repeated at
# 15 fps past the 20 s timeout) is bounded in VideoDecoder (docs/limits.md).
video_seconds="${VIDEO_FUZZ_SECONDS:-30}"
video_runs="${VIDEO_FUZZ_RUNS:-15000}"
if [[ "$video_seconds" -gt 0 ]]; then
  video_seeds="$work/video-seeds"
  mkdir -p "$video_seeds" "$work/video-corpus"
  "$build/fuzz/make_video_seeds" "$video_seeds"
  for f in h264-bframes.mp4 vp9.ivf; do
    if [[ -f "$video_seeds/$f" ]]; then
      head -c "$(( $(wc -c <"$video_seeds/$f") / 2 ))" "$video_seeds/$f" >"$video_seeds/half-$f"
    fi
  done
  echo "video seeds: $(ls "$video_seeds" | wc -l) files; running for ${video_seconds}s" >&2
  fuzz_target "$build/fuzz/video_decode_fuzz" "$work/video-corpus" "$video_seeds" \
    "$video_seconds" "$video_runs" 65536
fi
