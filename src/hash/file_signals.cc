#include "safeguard/hash/file_signals.h"

#include <vector>

#include "safeguard/core/file.h"
#include "safeguard/hash/video_hash.h"

namespace safeguard {
namespace {

// Decodes and hashes; a decode failure goes into s.image_status.
void HashImage(const uint8_t* data, size_t size, const SignalOptions& options,
               std::string_view name, FileSignals& s) {
  DecodeOptions decode = options.decode;
  if (options.pdq_mode == PdqMode::kFast) decode.shrink_to_min_side = options.fast_min_side;
  Result<RgbImage> image = DecodeImage(data, size, decode, name);
  if (!image.ok()) {
    s.image_status = image.status();
    return;
  }
  s.width = image->original_width;
  s.height = image->original_height;
  s.format = image->format;
  const RgbView view{image->pixels.data(), image->width, image->height, 3 * image->width};
  switch (options.pdq_mode) {
    case PdqMode::kCanonical:
      s.pdq = PdqHashRgb(view, options.dihedral);
      break;
    case PdqMode::kFast:
      s.pdq = PdqHashRgbReduced(view, s.width, s.height, options.dihedral);
      break;
    case PdqMode::kReference512:
      s.pdq = PdqHashReference512(view, options.dihedral);
      break;
  }
}

// Fingerprints a video that `open` opens, vPDQ and TMK from one decode. Not
// a video (kUnsupported from the open): leaves `s` alone. Any other failure
// is the video's status.
template <typename Open>
void HashVideo(const Open& open, const SignalOptions& options, FileSignals& s) {
  Result<std::unique_ptr<VideoDecoder>> video = open();
  if (!video.ok() && video.status().code() == ErrorCode::kUnsupported) return;
  s.is_video = true;
  if (!video.ok()) {
    s.video_status = video.status();
    return;
  }
  s.video = (*video)->info();
  s.format = s.video.container;
  TmkOptions tmk;
  tmk.open = options.vpdq.open;
  Result<VideoSignatures> signatures =
      VideoSignaturesOf(**video, options.vpdq, options.tmk ? &tmk : nullptr);
  if (!signatures.ok()) {
    s.video_status = signatures.status();
    return;
  }
  s.vpdq = std::move(signatures->vpdq.frames);
  if (signatures->tmk) s.tmk = std::move(*signatures->tmk);
}

}  // namespace

std::string_view PdqModeName(PdqMode mode) {
  switch (mode) {
    case PdqMode::kCanonical:
      return "canonical";
    case PdqMode::kFast:
      return "fast";
    case PdqMode::kReference512:
      return "reference512";
  }
  return "unknown";
}

Result<PdqMode> ParsePdqMode(std::string_view name) {
  for (PdqMode m : {PdqMode::kCanonical, PdqMode::kFast, PdqMode::kReference512}) {
    if (PdqModeName(m) == name) return m;
  }
  return Status::InvalidArgument("unknown PDQ mode '" + std::string(name) +
                                 "' (expected canonical, fast or reference512)");
}

Result<FileSignals> ComputeSignals(const uint8_t* data, size_t size, const SignalOptions& options,
                                   std::string_view name) {
  FileSignals s;
  s.digests = DigestBytes(data, size);
  s.format = SniffImageFormat(data, size);
  s.is_image = !s.format.empty();
  if (s.is_image) {
    HashImage(data, size, options, name, s);
  } else if (options.video && size <= options.vpdq.open.limits.max_file_bytes) {
    HashVideo([&] { return VideoDecoder::OpenBuffer(data, size, options.vpdq.open, name); },
              options, s);
  }
  return s;
}

Result<FileSignals> ComputeFileSignals(const std::string& path, const SignalOptions& options) {
  Result<InputFile> file = InputFile::Open(path);
  if (!file.ok()) return file.status();
  std::vector<uint8_t> bytes(64);  // enough to recognise any image format
  Result<size_t> head = file->Read(bytes.data(), bytes.size());
  if (!head.ok()) return head.status();
  bytes.resize(*head);

  FileSignals s;
  s.format = SniffImageFormat(bytes.data(), bytes.size());
  s.is_image = !s.format.empty();
  const uint64_t max_bytes = options.decode.limits.max_file_bytes;
  if (s.is_image && file->size() <= max_bytes) {
    // Bounded by max_file_bytes: read once, digest and decode the same bytes.
    Status read = file->ReadRest(&bytes, max_bytes);
    if (read.ok()) {
      s.digests = DigestBytes(bytes.data(), bytes.size());
      HashImage(bytes.data(), bytes.size(), options, path, s);
      return s;
    }
    if (read.code() != ErrorCode::kLimitExceeded) return read;
    // It grew past the limit while being read: digest it by streaming.
    s.image_status = read;
    Result<Digests> d = DigestFile(path);
    if (!d.ok()) return d.status();
    s.digests = *d;
    return s;
  }
  if (s.is_image) {
    s.image_status = Status::LimitExceeded(path + ": " + std::to_string(file->size()) +
                                           " bytes exceeds max_file_bytes " +
                                           std::to_string(max_bytes) + "; not decoded");
  }
  // Anything else may be huge: stream it through the digests.
  Digester digester;
  digester.Update(bytes.data(), bytes.size());
  std::vector<uint8_t> buf(size_t{1} << 20);
  while (true) {
    Result<size_t> n = file->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    digester.Update(buf.data(), *n);
    if (*n < buf.size()) break;
  }
  s.digests = digester.Finish();
  if (!s.is_image && options.video && file->size() <= options.vpdq.open.limits.max_file_bytes) {
    HashVideo([&] { return VideoDecoder::OpenFile(path, options.vpdq.open); }, options, s);
  }
  return s;
}

}  // namespace safeguard
