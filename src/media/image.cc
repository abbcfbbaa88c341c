// Image decoding with libvips (C API). See image.h for the contract and
// src/media/README.md for the conversion rules and the formats this build
// decodes.
//
// Design notes:
//  - The format is sniffed from the magic bytes and the matching loader is
//    called by name. libvips' own loader search (vips_image_new_from_buffer)
//    would also try ImageMagick, PDF, SVG and others on hostile input; we only
//    ever reach the loaders in kFormats, and libvips' "untrusted" loaders are
//    blocked process-wide as a second fence.
//  - Every loader runs with fail_on=error: a truncated or corrupt file is an
//    error, never an image padded with grey.
//  - Width and height come from the header (libvips decodes lazily), so the
//    limits are checked before any pixel is decoded.
//  - Pixels are pulled with a VipsRegion, strip by strip, in the calling
//    thread: no libvips worker threads, no second full-size buffer.
//  - The final pixel conversions (alpha drop, grey replication, 16 -> 8 bit,
//    CMYK -> RGB) are done here rather than by libvips operations, so that
//    they follow the reference decoder (ImageMagick) exactly and need no
//    colour management.
#include "safeguard/media/image.h"

#include "bmp_decoder.h"
#include "safeguard/core/file.h"

#include <vips/vips.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace safeguard {
namespace {

// Images with more bands than this are refused: no photographic format needs
// more (CMYK + alpha is 5), and a many-band image multiplies decode memory.
constexpr int kMaxImageBands = 8;

// Rows pulled from libvips per region request.
constexpr int kStripRows = 64;

// Longest libvips error text kept in a Status message.
constexpr size_t kMaxVipsErrorChars = 300;

// ---------------------------------------------------------------------------
// Formats.

enum class Format : int { kJpeg, kPng, kWebp, kGif, kTiff, kHeif, kBmp };
constexpr int kFormatCount = 7;

struct FormatInfo {
  const char* name;    // as reported: RgbImage::format, SniffImageFormat
  const char* label;   // for messages
  const char* loader;  // libvips operation, or nullptr if none we trust
};

constexpr std::array<FormatInfo, kFormatCount> kFormats = {{
    {"jpeg", "JPEG", "jpegload_buffer"},
    {"png", "PNG", "pngload_buffer"},
    {"webp", "WebP", "webpload_buffer"},
    {"gif", "GIF", "gifload_buffer"},
    {"tiff", "TIFF", "tiffload_buffer"},
    {"heif", "HEIF/AVIF", "heifload_buffer"},
    // libvips 8.14 reads BMP only through ImageMagick (magickload), which it
    // marks untrusted and which we keep blocked; BMP goes to stb_image's BMP
    // decoder instead (bmp_decoder.h).
    {"bmp", "BMP", nullptr},
}};

const FormatInfo& Info(Format f) { return kFormats[static_cast<size_t>(f)]; }

bool StartsWith(const uint8_t* p, size_t size, std::string_view magic) {
  return size >= magic.size() && std::memcmp(p, magic.data(), magic.size()) == 0;
}

uint32_t ReadBigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// HEIF and AVIF are ISO-BMFF files whose first box is "ftyp"; the major or a
// compatible brand names the image flavour.
bool IsHeifBrand(const uint8_t* p) {
  static constexpr std::array<std::string_view, 10> kBrands = {
      "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis"};
  const std::string_view brand(reinterpret_cast<const char*>(p), 4);
  return std::find(kBrands.begin(), kBrands.end(), brand) != kBrands.end();
}

bool LooksLikeHeif(const uint8_t* p, size_t size) {
  if (size < 16 || std::memcmp(p + 4, "ftyp", 4) != 0) return false;
  if (IsHeifBrand(p + 8)) return true;
  // Compatible brands follow the major brand and the minor version.
  const size_t box_end = std::min<size_t>({ReadBigEndian32(p), size, 64});
  for (size_t off = 16; off + 4 <= box_end; off += 4) {
    if (IsHeifBrand(p + off)) return true;
  }
  return false;
}

// The format whose signature starts `p`, whether or not this build decodes it.
std::optional<Format> SniffRaw(const uint8_t* p, size_t size) {
  if (p == nullptr) return std::nullopt;
  if (StartsWith(p, size, "\xFF\xD8\xFF")) return Format::kJpeg;
  if (StartsWith(p, size, "\x89PNG\r\n\x1A\n")) return Format::kPng;
  if (StartsWith(p, size, "GIF87a") || StartsWith(p, size, "GIF89a")) return Format::kGif;
  if (size >= 12 && StartsWith(p, size, "RIFF") && std::memcmp(p + 8, "WEBP", 4) == 0) {
    return Format::kWebp;
  }
  // Classic TIFF (42) and BigTIFF (43), both byte orders.
  if (StartsWith(p, size, std::string_view("II*\0", 4)) ||
      StartsWith(p, size, std::string_view("MM\0*", 4)) ||
      StartsWith(p, size, std::string_view("II+\0", 4)) ||
      StartsWith(p, size, std::string_view("MM\0+", 4))) {
    return Format::kTiff;
  }
  if (LooksLikeHeif(p, size)) return Format::kHeif;
  // "BM" alone is too weak (text starts so too): also require one of the
  // DIB header sizes (OS/2 12, Windows 40/52/56/108/124).
  if (StartsWith(p, size, "BM") && size >= 18) {
    const uint32_t dib = uint32_t{p[14]} | (uint32_t{p[15]} << 8) | (uint32_t{p[16]} << 16) |
                         (uint32_t{p[17]} << 24);
    if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 108 || dib == 124) {
      return Format::kBmp;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// libvips plumbing.

struct GObjectUnref {
  void operator()(void* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
using ImagePtr = std::unique_ptr<VipsImage, GObjectUnref>;
using RegionPtr = std::unique_ptr<VipsRegion, GObjectUnref>;

// Takes (and clears) the libvips error text, shortened to one line. libvips
// keeps one error buffer per process: under concurrent decodes the text may
// occasionally belong to another file, which is why error codes are decided
// from return values, never from this text.
std::string TakeVipsError() {
  char* raw = vips_error_buffer_copy();
  std::string text = raw != nullptr ? raw : "";
  g_free(raw);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ';');
  if (text.size() > kMaxVipsErrorChars) text = text.substr(0, kMaxVipsErrorChars) + "...";
  return text;
}

std::string WithVipsText(std::string message) {
  const std::string vips = TakeVipsError();
  if (!vips.empty()) message += " (" + vips + ")";
  return message;
}

// libvips reports per-file problems (e.g. "error in tile 0 x 64") as GLib
// warnings on stderr as well as through the error buffer. They are reported
// through Status instead, so the warnings are dropped: a batch over millions
// of files would otherwise flood stderr.
void DropLogMessage(const gchar*, GLogLevelFlags, const gchar*, gpointer) {}

struct DecoderState {
  Status status;
  std::array<bool, kFormatCount> available{};
};

const DecoderState& State() {
  // A function-local static is initialised once, thread-safely (the same
  // guarantee as std::call_once).
  static const DecoderState state = [] {
    DecoderState s;
    if (VIPS_INIT("safeguard") != 0) {
      s.status = Status::Internal(WithVipsText("cannot start the image library libvips"));
      return s;
    }
    // No operation cache: every file is decoded once, and cached operations
    // would pin the input buffers and decoded pixels.
    vips_cache_set_max(0);
    // Callers parallelise across files; one libvips worker per pipeline.
    vips_concurrency_set(1);
    // Loaders libvips itself marks untrusted (ImageMagick, PDF, SVG, FITS,
    // ...) can never run in this process, even if a future change called
    // the generic loader.
    vips_block_untrusted_set(TRUE);
    g_log_set_handler("VIPS",
                      static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
                                                  G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG),
                      DropLogMessage, nullptr);
    for (size_t i = 0; i < kFormats.size(); ++i) {
      s.available[i] =
          kFormats[i].loader != nullptr && vips_type_find("VipsOperation", kFormats[i].loader) != 0;
    }
    return s;
  }();
  return state;
}

bool Available(Format f) { return f == Format::kBmp || State().available[static_cast<size_t>(f)]; }

struct LoadParams {
  VipsAccess access = VIPS_ACCESS_SEQUENTIAL;
  int jpeg_shrink = 1;      // 1, 2, 4 or 8
  double webp_scale = 1.0;  // 1 / (1, 2, 4 or 8)
};

// Opens `data` with the loader of `format`. Reads the header only; pixels are
// decoded when a region asks for them. `data` must outlive the image.
// memory=TRUE: with random access, libvips would otherwise decode images over
// 100 MB into a temporary file, and decoded pixels must never reach the disk.
ImagePtr Load(Format format, const uint8_t* data, size_t size, const LoadParams& p) {
  // The loaders only read the buffer; their C signatures are not const.
  void* buf = const_cast<uint8_t*>(data);
  VipsImage* out = nullptr;
  int rc = -1;
  switch (format) {
    case Format::kJpeg:
      rc = vips_jpegload_buffer(buf, size, &out, "access", p.access, "memory", TRUE, "fail_on",
                                VIPS_FAIL_ON_ERROR, "shrink", p.jpeg_shrink, nullptr);
      break;
    case Format::kPng:
      rc = vips_pngload_buffer(buf, size, &out, "access", p.access, "memory", TRUE, "fail_on",
                               VIPS_FAIL_ON_ERROR, nullptr);
      break;
    case Format::kWebp:
      rc = vips_webpload_buffer(buf, size, &out, "access", p.access, "memory", TRUE, "fail_on",
                                VIPS_FAIL_ON_ERROR, "scale", p.webp_scale, "page", 0, "n", 1,
                                nullptr);
      break;
    case Format::kGif:
      rc = vips_gifload_buffer(buf, size, &out, "access", p.access, "memory", TRUE, "fail_on",
                               VIPS_FAIL_ON_ERROR, "page", 0, "n", 1, nullptr);
      break;
    case Format::kTiff:
      rc = vips_tiffload_buffer(buf, size, &out, "access", p.access, "memory", TRUE, "fail_on",
                                VIPS_FAIL_ON_ERROR, "page", 0, "n", 1, nullptr);
      break;
    case Format::kHeif:
      rc = vips_heifload_buffer(buf, size, &out, "access", p.access, "memory", TRUE, "fail_on",
                                VIPS_FAIL_ON_ERROR, "page", 0, "n", 1, nullptr);
      break;
    case Format::kBmp:
      break;
  }
  ImagePtr image(out);
  if (rc != 0) image.reset();
  return image;
}

// A libvips failure on a file whose signature we recognised: damaged or
// truncated, except that libheif says "Unsupported ..." for a valid file using
// a codec or feature it lacks. (libjpeg also says "Unsupported marker" for
// garbage, so the text is only trusted for HEIF.)
Status LoadError(std::string_view name, Format format, std::string_view what) {
  const std::string vips = TakeVipsError();
  std::string message = std::string(name) + ": " + std::string(what) + " " + Info(format).label;
  if (!vips.empty()) message += " (" + vips + ")";
  if (format == Format::kHeif && vips.find("Unsupported") != std::string::npos) {
    return Status::Unsupported(std::move(message));
  }
  return Status::Corrupt(std::move(message));
}

Status CheckDimensions(int width, int height, int bands, const DecodeLimits& limits,
                       std::string_view name) {
  const std::string prefix = std::string(name) + ": ";
  if (width <= 0 || height <= 0) {
    return Status::Corrupt(prefix + "invalid image size " + std::to_string(width) + "x" +
                           std::to_string(height));
  }
  if (width > limits.max_dimension || height > limits.max_dimension) {
    return Status::LimitExceeded(prefix + std::to_string(width) + "x" + std::to_string(height) +
                                 ": a side exceeds max_dimension " +
                                 std::to_string(limits.max_dimension));
  }
  const uint64_t pixels = uint64_t(width) * uint64_t(height);
  if (pixels > limits.max_pixels) {
    return Status::LimitExceeded(prefix + std::to_string(width) + "x" + std::to_string(height) +
                                 " = " + std::to_string(pixels) + " pixels exceeds max_pixels " +
                                 std::to_string(limits.max_pixels));
  }
  if (bands > kMaxImageBands) {
    return Status::LimitExceeded(prefix + std::to_string(bands) + " bands exceeds the maximum of " +
                                 std::to_string(kMaxImageBands));
  }
  return Status::Ok();
}

// The largest of 1, 2, 4, 8 that keeps both sides >= min_side after
// shrinking. JPEG rounds shrunk sides up (libjpeg's scaled IDCT); for WebP we
// require the exact quotient, which also covers rounding down.
int ChooseShrink(int width, int height, int min_side, bool sides_round_up) {
  for (int shrink : {8, 4, 2}) {
    const int64_t w = sides_round_up ? (int64_t{width} + shrink - 1) / shrink : width / shrink;
    const int64_t h = sides_round_up ? (int64_t{height} + shrink - 1) / shrink : height / shrink;
    if (w >= min_side && h >= min_side) return shrink;
  }
  return 1;
}

// ---------------------------------------------------------------------------
// Pixel conversion.

// How the bands of an 8- or 16-bit image map to RGB.
enum class Layout { kGrey, kRgb, kCmyk };

struct Prepared {
  ImagePtr image;
  Layout layout = Layout::kRgb;
};

// 16 -> 8 bits as ImageMagick's ScaleQuantumToChar (Q16): round(v / 257).
// libvips' own cast (v >> 8) would differ by one level on about half the
// values, and the reference hashes were made with ImageMagick.
inline uint8_t Scale16To8(uint32_t v) {
  return static_cast<uint8_t>(((v + 128) - ((v + 128) >> 8)) >> 8);
}

// CMYK -> RGB without colour management, as ImageMagick and Pillow do when
// no profile is requested: R = (255 - C) * (255 - K) / 255, rounded. An ICC
// conversion (libvips' colourspace) gives visibly different tones, and the
// hash lists are made the naive way.
inline uint8_t CmykChannel(uint32_t ink, uint32_t black) {
  return static_cast<uint8_t>(((255 - ink) * (255 - black) + 127) / 255);
}

template <typename Sample>
inline uint8_t To8(const uint8_t* p);

template <>
inline uint8_t To8<uint8_t>(const uint8_t* p) {
  return *p;
}

template <>
inline uint8_t To8<uint16_t>(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));  // libvips buffers are native-endian
  return Scale16To8(v);
}

template <typename Sample>
void ConvertRow(const uint8_t* src, int width, int bands, Layout layout, uint8_t* dst) {
  const size_t step = sizeof(Sample);
  for (int x = 0; x < width; ++x, src += size_t(bands) * step, dst += 3) {
    switch (layout) {
      case Layout::kGrey: {
        const uint8_t v = To8<Sample>(src);  // band 1, if any, is alpha: dropped
        dst[0] = dst[1] = dst[2] = v;
        break;
      }
      case Layout::kRgb:  // band 3, if any, is alpha: dropped, not composited
        dst[0] = To8<Sample>(src);
        dst[1] = To8<Sample>(src + step);
        dst[2] = To8<Sample>(src + 2 * step);
        break;
      case Layout::kCmyk: {
        const uint8_t k = To8<Sample>(src + 3 * step);
        dst[0] = CmykChannel(To8<Sample>(src), k);
        dst[1] = CmykChannel(To8<Sample>(src + step), k);
        dst[2] = CmykChannel(To8<Sample>(src + 2 * step), k);
        break;
      }
    }
  }
}

// Grey or RGB by band count, for images whose bands carry no colour meaning.
Layout LayoutByBands(const VipsImage* image) {
  return vips_image_get_bands(image) >= 3 ? Layout::kRgb : Layout::kGrey;
}

// Brings a loaded image to 8- or 16-bit grey, RGB or CMYK (plus any extra
// bands), which ConvertRow finishes. Ordinary images (8/16-bit grey, RGB,
// CMYK, with or without alpha) pass through untouched; anything else (LAB,
// float, 32-bit, ...) is converted to sRGB by libvips and cast to 8 bits.
Result<Prepared> Prepare(ImagePtr image, std::string_view name) {
  if (vips_image_get_coding(image.get()) != VIPS_CODING_NONE) {
    VipsImage* out = nullptr;
    if (vips_image_decode(image.get(), &out) != 0) {
      return Status::Corrupt(WithVipsText(std::string(name) + ": cannot unpack coded pixels"));
    }
    image.reset(out);
  }
  const VipsBandFormat format = vips_image_get_format(image.get());
  const int bands = vips_image_get_bands(image.get());
  const VipsInterpretation interp = vips_image_guess_interpretation(image.get());
  if (format == VIPS_FORMAT_UCHAR || format == VIPS_FORMAT_USHORT) {
    const bool grey = interp == VIPS_INTERPRETATION_B_W || interp == VIPS_INTERPRETATION_GREY16;
    const bool rgb = interp == VIPS_INTERPRETATION_sRGB || interp == VIPS_INTERPRETATION_RGB16 ||
                     interp == VIPS_INTERPRETATION_RGB;
    if (grey && bands <= 2) return Prepared{std::move(image), Layout::kGrey};
    if (rgb && bands >= 3) return Prepared{std::move(image), Layout::kRgb};
    if (interp == VIPS_INTERPRETATION_CMYK && bands >= 4) {
      return Prepared{std::move(image), Layout::kCmyk};
    }
    // Bands without colour meaning (e.g. a TIFF with 3 "min-is-black"
    // samples): first band grey, or first three as RGB.
    if (interp == VIPS_INTERPRETATION_MULTIBAND) {
      const Layout layout = LayoutByBands(image.get());
      return Prepared{std::move(image), layout};
    }
  }
  VipsImage* out = nullptr;
  if (vips_colourspace(image.get(), &out, VIPS_INTERPRETATION_sRGB, nullptr) == 0) {
    image.reset(out);
  } else {
    // No colour route (multiband float, histogram, Fourier, ...): the samples
    // are cast as they are, like the multiband case above.
    vips_error_clear();
  }
  if (vips_image_get_format(image.get()) != VIPS_FORMAT_UCHAR) {
    out = nullptr;
    if (vips_cast(image.get(), &out, VIPS_FORMAT_UCHAR, nullptr) != 0) {
      return Status::Unsupported(WithVipsText(std::string(name) + ": cannot convert " +
                                              vips_enum_nick(VIPS_TYPE_INTERPRETATION, interp) +
                                              " pixels to 8-bit RGB"));
    }
    image.reset(out);
  }
  const Layout layout = LayoutByBands(image.get());
  return Prepared{std::move(image), layout};
}

// Decodes the pixels strip by strip into `out` (packed RGB).
Status ReadPixels(const Prepared& prepared, Format format, std::string_view name, RgbImage* out) {
  VipsImage* image = prepared.image.get();
  const int width = vips_image_get_width(image);
  const int height = vips_image_get_height(image);
  const int bands = vips_image_get_bands(image);
  const bool wide = vips_image_get_format(image) == VIPS_FORMAT_USHORT;
  out->width = width;
  out->height = height;
  out->pixels.assign(size_t(width) * size_t(height) * 3, 0);

  RegionPtr region(vips_region_new(image));
  if (region == nullptr) return LoadError(name, format, "cannot decode");
  const size_t pel_bytes = size_t(bands) * (wide ? 2 : 1);
  for (int top = 0; top < height; top += kStripRows) {
    const VipsRect rect{0, top, width, std::min(kStripRows, height - top)};
    if (vips_region_prepare(region.get(), &rect) != 0) {
      return LoadError(name, format, "truncated or corrupt");
    }
    const VipsRegion* r = region.get();
    for (int y = rect.top; y < rect.top + rect.height; ++y) {
      const uint8_t* src = r->data + size_t(y - r->valid.top) * size_t(r->bpl) +
                           size_t(rect.left - r->valid.left) * pel_bytes;
      uint8_t* dst = out->pixels.data() + size_t(y) * size_t(width) * 3;
      if (!wide && bands == 3 && prepared.layout == Layout::kRgb) {
        std::memcpy(dst, src, size_t(width) * 3);  // the common case: 8-bit RGB
      } else if (wide) {
        ConvertRow<uint16_t>(src, width, bands, prepared.layout, dst);
      } else {
        ConvertRow<uint8_t>(src, width, bands, prepared.layout, dst);
      }
    }
  }
  return Status::Ok();
}

uint32_t ReadLittleEndian32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// The uncompressed pixel array (the only kind stb decodes) must lie inside
// the file: offset + padded row size * rows.
Status CheckBmpExtent(const uint8_t* data, size_t size, int width, int height,
                      std::string_view name) {
  if (size < 30) return Status::Corrupt(std::string(name) + ": truncated BMP header");
  const uint64_t offset = ReadLittleEndian32(data + 10);
  const uint32_t header_size = ReadLittleEndian32(data + 14);
  // OS/2 headers keep the bit count at 24, Windows ones at 28.
  const size_t bpp_at = header_size == 12 ? 24 : 28;
  const uint64_t bits = uint64_t{data[bpp_at]} | (uint64_t{data[bpp_at + 1]} << 8);
  const uint64_t row_bytes = (static_cast<uint64_t>(width) * bits + 31) / 32 * 4;
  const uint64_t needed = offset + row_bytes * static_cast<uint64_t>(height);
  if (needed > size) {
    return Status::Corrupt(std::string(name) + ": truncated BMP (pixel data needs " +
                           std::to_string(needed) + " bytes, file has " + std::to_string(size) +
                           ")");
  }
  return Status::Ok();
}

// BMP has no EXIF orientation and no reduced-size decoding.
Result<RgbImage> DecodeBmp(const uint8_t* data, size_t size, const DecodeLimits& limits,
                           std::string_view name) {
  int width = 0, height = 0;
  if (!media_internal::BmpDimensions(data, size, &width, &height)) {
    return Status::Corrupt(std::string(name) + ": truncated or corrupt BMP (unreadable header)");
  }
  if (Status s = CheckDimensions(width, height, 3, limits, name); !s.ok()) return s;
  // stb reads zeros past the end of its input; a truncated BMP must be an
  // error, so the pixel array's extent is checked against the header first.
  if (Status s = CheckBmpExtent(data, size, width, height, name); !s.ok()) return s;
  std::string failure;
  media_internal::BmpPixels pixels =
      media_internal::DecodeBmpRgb(data, size, &width, &height, &failure);
  if (pixels == nullptr) {
    return Status::Corrupt(std::string(name) + ": truncated or corrupt BMP (" + failure + ")");
  }
  RgbImage result;
  result.width = result.original_width = width;
  result.height = result.original_height = height;
  result.format = "bmp";
  const uint8_t* p = pixels.get();
  result.pixels.assign(p, p + static_cast<size_t>(width) * height * 3);
  return result;
}

}  // namespace

Status InitializeImageDecoding() { return State().status; }

std::string SniffImageFormat(const uint8_t* head, size_t size) {
  const std::optional<Format> format = SniffRaw(head, size);
  if (!format || !State().status.ok() || !Available(*format)) return "";
  return Info(*format).name;
}

std::vector<std::string> SupportedImageFormats() {
  std::vector<std::string> names;
  if (!State().status.ok()) return names;
  for (size_t i = 0; i < kFormats.size(); ++i) {
    if (State().available[i]) names.emplace_back(kFormats[i].name);
  }
  return names;
}

Result<RgbImage> DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options,
                             std::string_view name) {
  const std::string prefix = std::string(name) + ": ";
  if (Status s = InitializeImageDecoding(); !s.ok()) {
    return Status::Error(s.code(), prefix + s.message());
  }
  const DecodeLimits& limits = options.limits;
  if (size > limits.max_file_bytes) {
    return Status::LimitExceeded(prefix + std::to_string(size) + " bytes exceeds max_file_bytes " +
                                 std::to_string(limits.max_file_bytes));
  }
  if (size == 0 || data == nullptr)
    return Status::Unsupported(prefix + "empty input, not an image");
  const std::optional<Format> format = SniffRaw(data, size);
  if (!format) return Status::Unsupported(prefix + "not a recognised image format");
  if (!Available(*format)) {
    return Status::Unsupported(prefix + Info(*format).label +
                               " images are not supported by this build");
  }

  if (*format == Format::kBmp) return DecodeBmp(data, size, limits, name);

  // Header first: the limits and the shrink factor depend on the dimensions.
  LoadParams params;
  ImagePtr image = Load(*format, data, size, params);
  if (image == nullptr) return LoadError(name, *format, "truncated or corrupt");
  const int width = vips_image_get_width(image.get());
  const int height = vips_image_get_height(image.get());
  if (Status s = CheckDimensions(width, height, vips_image_get_bands(image.get()), limits, name);
      !s.ok()) {
    return s;
  }

  bool reopen = false;
  if (options.shrink_to_min_side > 0 && (*format == Format::kJpeg || *format == Format::kWebp)) {
    const bool jpeg = *format == Format::kJpeg;
    const int shrink = ChooseShrink(width, height, options.shrink_to_min_side, jpeg);
    if (shrink > 1) {
      if (jpeg) {
        params.jpeg_shrink = shrink;
      } else {
        params.webp_scale = 1.0 / shrink;
      }
      reopen = true;
    }
  }
  const int orientation = vips_image_get_orientation(image.get());
  const bool rotate = options.apply_exif_orientation && orientation >= 2 && orientation <= 8;
  if (rotate) {
    // Rotating reads the source out of order, which a sequential loader
    // refuses ("out of order read").
    params.access = VIPS_ACCESS_RANDOM;
    reopen = true;
  }
  if (reopen) {
    image = Load(*format, data, size, params);
    if (image == nullptr) return LoadError(name, *format, "truncated or corrupt");
  }
  if (rotate) {
    VipsImage* out = nullptr;
    if (vips_autorot(image.get(), &out, nullptr) != 0) {
      return LoadError(name, *format, "cannot apply EXIF orientation to");
    }
    image.reset(out);
  }

  Result<Prepared> prepared = Prepare(std::move(image), name);
  if (!prepared.ok()) return prepared.status();
  RgbImage result;
  // Orientations 5-8 swap the axes: report the full-resolution size of the
  // image as returned, so that it and `width`/`height` describe one picture.
  const bool swapped = rotate && orientation >= 5;
  result.original_width = swapped ? height : width;
  result.original_height = swapped ? width : height;
  result.format = Info(*format).name;
  if (Status s = ReadPixels(*prepared, *format, name, &result); !s.ok()) return s;
  return result;
}

Result<RgbImage> DecodeImageFile(const std::string& path, const DecodeOptions& options) {
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, options.limits.max_file_bytes);
  if (!bytes.ok()) return bytes.status();
  return DecodeImage(bytes->data(), bytes->size(), options, path);
}

}  // namespace safeguard
