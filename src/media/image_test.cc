// Tests of image decoding: the reference test images, byte-exact pixels
// against reference PPMs, the conversion rules (alpha, grey, 16-bit, CMYK,
// animation) on inputs generated here with libvips, the error codes and the
// limits. No media file is checked in: inputs that are not in the shared test
// data are encoded at run time.
#include "safeguard/media/image.h"

#include <gtest/gtest.h>
#include <vips/vips.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

// LeakSanitizer (SAFEGUARD_SANITIZE=address): the x265 HEVC encoder, which
// only this test uses (to make a HEIC input), leaks one block on its first
// use. Decoding never touches it. Ignored in builds without LSan.
extern "C" const char* __lsan_default_suppressions() { return "leak:libx265.so\n"; }

namespace safeguard {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------
// Helpers.

using test_support::Ppm;
using test_support::ReadPpm;
using TempDir = test_support::ScratchDir;
#define REQUIRE_TESTDATA() SAFEGUARD_REQUIRE_TESTDATA()

std::string Pdq(const std::string& relative) { return test_support::PdqTestFile(relative); }
Bytes ReadFile(const std::string& path) { return test_support::ReadBytes(path); }
void WriteFile(const std::string& path, const Bytes& bytes) {
  test_support::WriteBytes(path, bytes);
}

struct UnrefImage {
  void operator()(VipsImage* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
using VImage = std::unique_ptr<VipsImage, UnrefImage>;

// A libvips image of the given samples (native-endian), tagged with an
// interpretation so savers write the intended colour type.
VImage MakeImage(const void* samples, int width, int height, int bands, VipsBandFormat format,
                 VipsInterpretation interpretation) {
  EXPECT_TRUE(InitializeImageDecoding().ok());
  const size_t size = size_t(width) * size_t(height) * size_t(bands) * vips_format_sizeof(format);
  VImage raw(vips_image_new_from_memory_copy(samples, size, width, height, bands, format));
  EXPECT_NE(raw, nullptr) << vips_error_buffer();
  VipsImage* out = nullptr;
  EXPECT_EQ(vips_copy(raw.get(), &out, "interpretation", interpretation, nullptr), 0)
      << vips_error_buffer();
  return VImage(out);
}

// Encodes with the saver chosen by `suffix` (".png", ".gif[...]", ...);
// empty if this libvips cannot.
Bytes Encode(VipsImage* image, const char* suffix) {
  void* buf = nullptr;
  size_t len = 0;
  if (vips_image_write_to_buffer(image, suffix, &buf, &len, nullptr) != 0) {
    vips_error_clear();
    return {};
  }
  Bytes bytes(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + len);
  g_free(buf);
  return bytes;
}

Result<RgbImage> Decode(const Bytes& bytes, const DecodeOptions& options = {},
                        std::string_view name = "test-input") {
  return DecodeImage(bytes.data(), bytes.size(), options, name);
}

std::array<uint8_t, 3> PixelAt(const RgbImage& image, int x, int y) {
  const size_t i = (size_t(y) * size_t(image.width) + size_t(x)) * 3;
  return {image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]};
}

using Rgb = std::array<uint8_t, 3>;

// CRC-32 (ISO-HDLC, as PNG uses), bitwise: tests only.
uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void PutBigEndian32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// A real (tiny) PNG whose IHDR then claims width x height, CRC fixed up, so
// that only the header is believable: a decompression bomb's shape.
Bytes PngClaiming(uint32_t width, uint32_t height) {
  const uint8_t px[3] = {1, 2, 3};
  VImage img = MakeImage(px, 1, 1, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  Bytes png = Encode(img.get(), ".png");
  EXPECT_GE(png.size(), 33u);
  EXPECT_EQ(std::memcmp(png.data() + 12, "IHDR", 4), 0);
  PutBigEndian32(png.data() + 16, width);
  PutBigEndian32(png.data() + 20, height);
  PutBigEndian32(png.data() + 29, Crc32(png.data() + 12, 17));
  return png;
}

// The dimensions of every reference image, as stored (EXIF ignored).
const std::map<std::string, std::pair<int, int>>& KnownSizes() {
  static const auto* sizes = new std::map<std::string, std::pair<int, int>>{
      {"bridge-mods/aaa-orig.jpg", {1600, 1004}},
      {"misc-images/c.png", {1432, 812}},
      {"misc-images/small.jpg", {224, 399}},
      {"misc-images/wee.jpg", {34, 42}},
      {"misc-images/modes/CMYK.jpg", {1600, 1004}},
      {"misc-images/modes/1.png", {1600, 1004}},
      {"misc-images/modes/LA.png", {1600, 1004}},
      {"misc-images/modes/PA.webp", {1600, 1004}},
      {"reg-test-input/pen-and-coaster.png", {924, 735}},
      {"reg-test-input/exif-rotn/exif-rotn-6.jpg", {4032, 3024}},
  };
  return *sizes;
}

// ---------------------------------------------------------------------------
// Reference images.

TEST(ReferenceImages, EveryPdqImageDecodes) {
  REQUIRE_TESTDATA();
  int decoded = 0;
  for (const auto& entry : fs::recursive_directory_iterator(test_support::TestDataDir() + "/pdq")) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".jpg" && ext != ".png" && ext != ".webp") continue;
    const std::string relative =
        fs::relative(entry.path(), test_support::TestDataDir() + "/pdq").string();
    SCOPED_TRACE(relative);
    Result<RgbImage> image = DecodeImageFile(entry.path().string(), {});
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_GT(image->width, 0);
    EXPECT_GT(image->height, 0);
    EXPECT_EQ(image->pixels.size(), size_t(image->width) * size_t(image->height) * 3);
    EXPECT_EQ(image->original_width, image->width);
    EXPECT_EQ(image->original_height, image->height);
    const std::string expected_format = ext == ".jpg" ? "jpeg" : ext.substr(1);
    EXPECT_EQ(image->format, expected_format);
    if (auto it = KnownSizes().find(relative); it != KnownSizes().end()) {
      EXPECT_EQ(image->width, it->second.first);
      EXPECT_EQ(image->height, it->second.second);
    }
    ++decoded;
  }
  EXPECT_GE(decoded, 45);  // 49 jpg/png/webp files in the reference set
}

// The reference PPMs hold the RGB that the reference decoder produced; ours
// must be identical, byte for byte, or file hashes cannot be exact.
TEST(ReferenceImages, PixelsEqualReferencePpms) {
  REQUIRE_TESTDATA();
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(test_support::TestDataDir() + "/pdq/pixels")) {
    if (entry.path().extension() != ".ppm") continue;
    // bridge-mods_aaa-orig.ppm <- bridge-mods/aaa-orig.(jpg|png|webp)
    std::string stem = entry.path().stem().string();
    std::replace(stem.begin(), stem.end(), '_', '/');
    std::string source;
    for (const char* ext : {".jpg", ".png", ".webp"}) {
      if (fs::exists(Pdq(stem + ext))) source = Pdq(stem + ext);
    }
    SCOPED_TRACE(entry.path().filename().string());
    ASSERT_FALSE(source.empty()) << "no source image for " << stem;
    Ppm ppm;
    ASSERT_TRUE(ReadPpm(entry.path().string(), &ppm));
    Result<RgbImage> image = DecodeImageFile(source, {});
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    ASSERT_EQ(image->width, ppm.width);
    ASSERT_EQ(image->height, ppm.height);
    const auto mismatch =
        std::mismatch(image->pixels.begin(), image->pixels.end(), ppm.pixels.begin());
    EXPECT_TRUE(mismatch.first == image->pixels.end())
        << "first difference at byte " << (mismatch.first - image->pixels.begin());
    ++compared;
  }
  EXPECT_EQ(compared, 10);
}

TEST(ReferenceImages, GreyModesGiveEqualChannels) {
  REQUIRE_TESTDATA();
  for (const char* name : {"L.png", "LA.png", "1.png"}) {
    SCOPED_TRACE(name);
    Result<RgbImage> image = DecodeImageFile(Pdq(std::string("misc-images/modes/") + name), {});
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    size_t unequal = 0;
    for (size_t i = 0; i < image->pixels.size(); i += 3) {
      unequal +=
          image->pixels[i] != image->pixels[i + 1] || image->pixels[i] != image->pixels[i + 2];
    }
    EXPECT_EQ(unequal, 0u);
  }
}

// Same picture, other colour modes: all within JPEG noise of the RGB
// original (mean absolute difference per sample). CMYK in particular must not
// go through an ICC conversion, which shifts tones by about 14 levels on
// average here; the naive conversion is within 2. Palette modes carry their
// quantisation error.
TEST(ReferenceImages, ColourModesMatchTheRgbOriginal) {
  REQUIRE_TESTDATA();
  Result<RgbImage> original = DecodeImageFile(Pdq("misc-images/modes/original.jpg"), {});
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  const std::pair<const char*, double> cases[] = {
      {"RGBA.png", 0.0}, {"CMYK.jpg", 2.5}, {"RGB.jpg", 3.0}, {"YCbCr.jpg", 3.0},
      {"HSV.webp", 3.0}, {"LAB.webp", 3.0}, {"P.png", 16.0},  {"PA.webp", 12.0},
  };
  for (const auto& [name, max_mean] : cases) {
    SCOPED_TRACE(name);
    Result<RgbImage> image = DecodeImageFile(Pdq(std::string("misc-images/modes/") + name), {});
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    ASSERT_EQ(image->pixels.size(), original->pixels.size());
    double total = 0;
    for (size_t i = 0; i < image->pixels.size(); ++i) {
      total += std::abs(int{image->pixels[i]} - int{original->pixels[i]});
    }
    EXPECT_LE(total / double(image->pixels.size()), max_mean);
  }
}

TEST(ReferenceImages, ExifOrientationOnlyOnRequest) {
  REQUIRE_TESTDATA();
  const Bytes jpeg = ReadFile(Pdq("reg-test-input/exif-rotn/exif-rotn-6.jpg"));
  Result<RgbImage> stored = Decode(jpeg);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->width, 4032);
  EXPECT_EQ(stored->height, 3024);

  DecodeOptions rotate;
  rotate.apply_exif_orientation = true;
  Result<RgbImage> shown = Decode(jpeg, rotate);
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(shown->width, 3024);
  EXPECT_EQ(shown->height, 4032);
  EXPECT_EQ(shown->original_width, 3024);  // the full-resolution size of what is returned
  EXPECT_EQ(shown->original_height, 4032);
  // Orientation 6: the stored image is shown turned 90 degrees clockwise, so
  // shown(x, y) = stored(y, H - 1 - x).
  const int h = stored->height;
  for (auto [x, y] : {std::pair{0, 0}, {3023, 0}, {0, 4031}, {1234, 2345}, {3000, 17}}) {
    EXPECT_EQ(PixelAt(*shown, x, y), PixelAt(*stored, y, h - 1 - x)) << x << "," << y;
  }
}

TEST(ReferenceImages, ShrinkOnLoadJpeg) {
  REQUIRE_TESTDATA();
  const Bytes jpeg = ReadFile(Pdq("reg-test-input/exif-rotn/exif-rotn-1.jpg"));
  struct Case {
    int min_side, width, height;
  };
  for (const Case& c : {Case{256, 504, 378}, Case{378, 504, 378}, Case{379, 1008, 756},
                        Case{2000, 4032, 3024}, Case{0, 4032, 3024}}) {
    SCOPED_TRACE(c.min_side);
    DecodeOptions options;
    options.shrink_to_min_side = c.min_side;
    Result<RgbImage> image = Decode(jpeg, options);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->width, c.width);
    EXPECT_EQ(image->height, c.height);
    EXPECT_EQ(image->original_width, 4032);
    EXPECT_EQ(image->original_height, 3024);
  }
}

TEST(ReferenceImages, ShrinkOnLoadWithOrientation) {
  REQUIRE_TESTDATA();
  DecodeOptions options;
  options.shrink_to_min_side = 256;
  options.apply_exif_orientation = true;
  Result<RgbImage> image =
      DecodeImageFile(Pdq("reg-test-input/exif-rotn/exif-rotn-6.jpg"), options);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 378);
  EXPECT_EQ(image->height, 504);
  EXPECT_EQ(image->original_width, 3024);
  EXPECT_EQ(image->original_height, 4032);
}

TEST(ReferenceImages, ShrinkOnLoadWebpKeepsMinSide) {
  REQUIRE_TESTDATA();
  DecodeOptions options;
  options.shrink_to_min_side = 100;  // 1600x1004 -> shrink 8 -> 200x125
  Result<RgbImage> image = DecodeImageFile(Pdq("misc-images/modes/F.webp"), options);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 200);
  EXPECT_GE(image->height, 125);
  EXPECT_LE(image->height, 126);
  EXPECT_EQ(image->original_width, 1600);
}

TEST(ReferenceImages, ShrinkIgnoredForPng) {
  REQUIRE_TESTDATA();
  DecodeOptions options;
  options.shrink_to_min_side = 64;
  Result<RgbImage> image = DecodeImageFile(Pdq("misc-images/c.png"), options);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 1432);
  EXPECT_EQ(image->height, 812);
}

// ---------------------------------------------------------------------------
// Conversion rules, on generated inputs.

TEST(Conversion, RgbaPngDropsAlphaWithoutCompositing) {
  const uint8_t px[] = {200, 10, 10, 0, 1, 2, 3, 255, 50, 60, 70, 128};
  VImage img = MakeImage(px, 3, 1, 4, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  Result<RgbImage> image = Decode(Encode(img.get(), ".png"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->format, "png");
  EXPECT_EQ(PixelAt(*image, 0, 0), (Rgb{200, 10, 10}));
  EXPECT_EQ(PixelAt(*image, 1, 0), (Rgb{1, 2, 3}));
  EXPECT_EQ(PixelAt(*image, 2, 0), (Rgb{50, 60, 70}));
}

TEST(Conversion, GreyBecomesEqualChannels) {
  const uint8_t grey[] = {0, 77, 255};
  VImage img = MakeImage(grey, 3, 1, 1, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_B_W);
  Result<RgbImage> image = Decode(Encode(img.get(), ".png"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(PixelAt(*image, 0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(PixelAt(*image, 1, 0), (Rgb{77, 77, 77}));
  EXPECT_EQ(PixelAt(*image, 2, 0), (Rgb{255, 255, 255}));

  const uint8_t grey_alpha[] = {90, 0, 180, 255};
  VImage ga = MakeImage(grey_alpha, 2, 1, 2, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_B_W);
  image = Decode(Encode(ga.get(), ".png"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(PixelAt(*image, 0, 0), (Rgb{90, 90, 90}));  // alpha 0: not composited
  EXPECT_EQ(PixelAt(*image, 1, 0), (Rgb{180, 180, 180}));
}

// 16 -> 8 bits is round(v / 257), ImageMagick's rule (libvips' own cast,
// v >> 8, would give 100 for 25829).
TEST(Conversion, SixteenBitPngScaledAsImageMagick) {
  const uint16_t rgb16[] = {0, 25700, 25828, 25829, 65535, 32896, 128, 129, 65406};
  VImage img = MakeImage(rgb16, 3, 1, 3, VIPS_FORMAT_USHORT, VIPS_INTERPRETATION_RGB16);
  const Bytes png = Encode(img.get(), ".png");
  ASSERT_GT(png.size(), 25u);
  EXPECT_EQ(png[24], 16) << "the test input should be a 16-bit PNG";
  Result<RgbImage> image = Decode(png);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(PixelAt(*image, 0, 0), (Rgb{0, 100, 100}));
  EXPECT_EQ(PixelAt(*image, 1, 0), (Rgb{101, 255, 128}));
  EXPECT_EQ(PixelAt(*image, 2, 0), (Rgb{0, 1, 254}));

  const uint16_t grey16[] = {25829, 65535};
  VImage g = MakeImage(grey16, 2, 1, 1, VIPS_FORMAT_USHORT, VIPS_INTERPRETATION_GREY16);
  image = Decode(Encode(g.get(), ".png"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(PixelAt(*image, 0, 0), (Rgb{101, 101, 101}));
  EXPECT_EQ(PixelAt(*image, 1, 0), (Rgb{255, 255, 255}));
}

TEST(Conversion, GifGivesFirstFrame) {
  // Two 4x2 frames stacked: red, then blue.
  std::vector<uint8_t> px;
  for (int i = 0; i < 8; ++i) px.insert(px.end(), {255, 0, 0});
  for (int i = 0; i < 8; ++i) px.insert(px.end(), {0, 0, 255});
  VImage img = MakeImage(px.data(), 4, 4, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  vips_image_set_int(img.get(), "page-height", 2);
  const Bytes gif = Encode(img.get(), ".gif");
  ASSERT_FALSE(gif.empty());
  Result<RgbImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->format, "gif");
  EXPECT_EQ(image->width, 4);
  EXPECT_EQ(image->height, 2);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) EXPECT_EQ(PixelAt(*image, x, y), (Rgb{255, 0, 0}));
  }
}

TEST(Conversion, AnimatedWebpGivesFirstFrame) {
  std::vector<uint8_t> px;
  for (int i = 0; i < 8; ++i) px.insert(px.end(), {0, 200, 0});
  for (int i = 0; i < 8; ++i) px.insert(px.end(), {200, 0, 200});
  VImage img = MakeImage(px.data(), 4, 4, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  vips_image_set_int(img.get(), "page-height", 2);
  const Bytes webp = Encode(img.get(), ".webp[lossless]");
  ASSERT_FALSE(webp.empty());
  Result<RgbImage> image = Decode(webp);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 4);
  EXPECT_EQ(image->height, 2);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) EXPECT_EQ(PixelAt(*image, x, y), (Rgb{0, 200, 0}));
  }
}

TEST(Conversion, TiffRgbIsExact) {
  std::vector<uint8_t> px;
  for (int i = 0; i < 5 * 3; ++i) {
    px.insert(px.end(), {uint8_t(i * 17), uint8_t(255 - i), uint8_t(i * 3)});
  }
  VImage img = MakeImage(px.data(), 5, 3, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  Result<RgbImage> image = Decode(Encode(img.get(), ".tif"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->format, "tiff");
  EXPECT_EQ(image->pixels, px);
}

// CMYK without colour management: R = (255 - C)(255 - K) / 255, rounded.
// TIFF keeps the CMYK samples exactly, so the rule is checked exactly.
TEST(Conversion, CmykTiffConvertedWithoutIcc) {
  const uint8_t cmyk[] = {0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255, 100, 50, 25, 40};
  VImage img = MakeImage(cmyk, 4, 1, 4, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_CMYK);
  Result<RgbImage> image = Decode(Encode(img.get(), ".tif"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(PixelAt(*image, 0, 0), (Rgb{255, 255, 255}));
  EXPECT_EQ(PixelAt(*image, 1, 0), (Rgb{0, 255, 255}));
  EXPECT_EQ(PixelAt(*image, 2, 0), (Rgb{0, 0, 0}));
  // (255-100)*215/255 = 130.7, (255-50)*215/255 = 172.8, (255-25)*215/255 = 193.9
  EXPECT_EQ(PixelAt(*image, 3, 0), (Rgb{131, 173, 194}));
}

// Anything not grey/RGB/CMYK in 8 or 16 bits goes through libvips'
// colourspace conversion: here a float CIELAB TIFF.
TEST(Conversion, LabTiffConvertedToSrgb) {
  const float lab[] = {100.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 53.24f, 80.09f, 67.20f};
  VImage img = MakeImage(lab, 3, 1, 3, VIPS_FORMAT_FLOAT, VIPS_INTERPRETATION_LAB);
  const Bytes tiff = Encode(img.get(), ".tif");
  ASSERT_FALSE(tiff.empty());
  Result<RgbImage> image = Decode(tiff);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  auto near = [](Rgb a, Rgb b) {
    for (int i = 0; i < 3; ++i) {
      if (std::abs(int{a[size_t(i)]} - int{b[size_t(i)]}) > 2) return false;
    }
    return true;
  };
  EXPECT_TRUE(near(PixelAt(*image, 0, 0), Rgb{255, 255, 255}));
  EXPECT_TRUE(near(PixelAt(*image, 1, 0), Rgb{0, 0, 0}));
  EXPECT_TRUE(near(PixelAt(*image, 2, 0), Rgb{255, 0, 0}));
}

// TIFF can hold sample layouts no photo uses; they must decode to something
// (or fail cleanly), never crash or mislabel.
TEST(Conversion, UnusualTiffLayoutsDecode) {
  struct Case {
    const char* what;
    int bands;
    VipsBandFormat format;
    VipsInterpretation interpretation;
  };
  for (const Case& c : {Case{"5-band uchar", 5, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_MULTIBAND},
                        Case{"2-band uchar", 2, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_MULTIBAND},
                        Case{"3-band float", 3, VIPS_FORMAT_FLOAT, VIPS_INTERPRETATION_MULTIBAND},
                        Case{"1-band int", 1, VIPS_FORMAT_INT, VIPS_INTERPRETATION_B_W},
                        Case{"3-band float sRGB", 3, VIPS_FORMAT_FLOAT, VIPS_INTERPRETATION_sRGB},
                        Case{"4-band ushort", 4, VIPS_FORMAT_USHORT, VIPS_INTERPRETATION_RGB16},
                        Case{"CMYK ushort", 4, VIPS_FORMAT_USHORT, VIPS_INTERPRETATION_CMYK}}) {
    SCOPED_TRACE(c.what);
    std::vector<double> values(size_t(4 * 3 * c.bands));
    for (size_t i = 0; i < values.size(); ++i) values[i] = double(i * 7 % 200);
    VImage doubles = MakeImage(values.data(), 4, 3, c.bands, VIPS_FORMAT_DOUBLE, c.interpretation);
    VipsImage* cast = nullptr;
    ASSERT_EQ(vips_cast(doubles.get(), &cast, c.format, nullptr), 0) << vips_error_buffer();
    VImage img(cast);
    const Bytes tiff = Encode(img.get(), ".tif");
    ASSERT_FALSE(tiff.empty());
    Result<RgbImage> image = Decode(tiff);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->width, 4);
    EXPECT_EQ(image->height, 3);
    EXPECT_EQ(image->format, "tiff");
  }
}

TEST(Conversion, TooManyBandsIsALimit) {
  std::vector<uint8_t> px(2 * 2 * 9, 7);
  VImage img = MakeImage(px.data(), 2, 2, 9, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_MULTIBAND);
  const Bytes tiff = Encode(img.get(), ".tif");
  ASSERT_FALSE(tiff.empty());
  Result<RgbImage> image = Decode(tiff, {}, "bands.tif");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(image.status().message().find("9 bands"), std::string::npos)
      << image.status().message();
}

TEST(Conversion, LosslessWebpIsExact) {
  std::vector<uint8_t> px;
  for (int i = 0; i < 6 * 4; ++i) px.insert(px.end(), {uint8_t(i * 10), uint8_t(i), uint8_t(200)});
  VImage img = MakeImage(px.data(), 6, 4, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  Result<RgbImage> image = Decode(Encode(img.get(), ".webp[lossless]"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->format, "webp");
  EXPECT_EQ(image->pixels, px);
}

TEST(Conversion, HeifAndAvif) {
  const std::vector<std::string> formats = SupportedImageFormats();
  if (std::find(formats.begin(), formats.end(), "heif") == formats.end()) {
    GTEST_SKIP() << "this libvips has no HEIF loader";
  }
  std::vector<uint8_t> px;
  for (int i = 0; i < 64 * 64; ++i) px.insert(px.end(), {30, 140, 220});
  VImage img = MakeImage(px.data(), 64, 64, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  int tried = 0;
  for (const char* suffix : {".heic[Q=90]", ".heic[Q=90,compression=av1]"}) {
    SCOPED_TRACE(suffix);
    const Bytes bytes = Encode(img.get(), suffix);
    if (bytes.empty()) continue;  // no encoder for this codec here
    ++tried;
    EXPECT_EQ(SniffImageFormat(bytes.data(), bytes.size()), "heif");
    Result<RgbImage> image = Decode(bytes);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->format, "heif");
    EXPECT_EQ(image->width, 64);
    EXPECT_EQ(image->height, 64);
    const Rgb p = PixelAt(*image, 32, 32);
    EXPECT_NEAR(p[0], 30, 8);
    EXPECT_NEAR(p[1], 140, 8);
    EXPECT_NEAR(p[2], 220, 8);
  }
  if (tried == 0) GTEST_SKIP() << "no HEIF encoder available to make the input";
}

// A 2x2 24-bit BMP, written by hand.
Bytes TinyBmp() {
  Bytes b(54 + 16, 0);
  b[0] = 'B';
  b[1] = 'M';
  b[2] = static_cast<uint8_t>(b.size());
  b[10] = 54;  // pixel data offset
  b[14] = 40;  // BITMAPINFOHEADER
  b[18] = 2;   // width
  b[22] = 2;   // height
  b[26] = 1;   // planes
  b[28] = 24;  // bits per pixel
  b[34] = 16;  // image size: 2 rows of 6 bytes padded to 8
  return b;
}

TEST(Conversion, BmpDecodesBottomUpBgrRows) {
  Bytes bmp = TinyBmp();
  // Rows are stored bottom-up, pixels as B, G, R, each row padded to 4 bytes.
  const uint8_t bottom[6] = {1, 2, 3, 4, 5, 6};
  const uint8_t top[6] = {10, 20, 30, 40, 50, 60};
  std::memcpy(&bmp[54], bottom, 6);
  std::memcpy(&bmp[62], top, 6);
  EXPECT_EQ(SniffImageFormat(bmp.data(), bmp.size()), "bmp");
  Result<RgbImage> image = Decode(bmp, {}, "x.bmp");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->format, "bmp");
  ASSERT_EQ(image->width, 2);
  ASSERT_EQ(image->height, 2);
  EXPECT_EQ(PixelAt(*image, 0, 0), (Rgb{30, 20, 10}));
  EXPECT_EQ(PixelAt(*image, 1, 0), (Rgb{60, 50, 40}));
  EXPECT_EQ(PixelAt(*image, 0, 1), (Rgb{3, 2, 1}));

  // Truncated pixel data and an over-limit header are refused, naming the file.
  Bytes cut(bmp.begin(), bmp.begin() + 58);
  Result<RgbImage> truncated = Decode(cut, {}, "cut.bmp");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(truncated.status().message().find("cut.bmp"), std::string::npos);
  Bytes huge = bmp;
  huge[18] = 0x60;  // width 60000 (0xEA60)
  huge[19] = 0xEA;
  huge[22] = 0x60;
  huge[23] = 0xEA;
  Result<RgbImage> bomb = Decode(huge, {}, "bomb.bmp");
  ASSERT_FALSE(bomb.ok());
  EXPECT_EQ(bomb.status().code(), ErrorCode::kLimitExceeded);
}

// ---------------------------------------------------------------------------
// Errors and limits.

class DecodeErrors : public testing::Test {
 protected:
  TempDir tmp_;
};

TEST_F(DecodeErrors, TruncatedJpegIsCorruptAndNamesTheFile) {
  REQUIRE_TESTDATA();
  Bytes jpeg = ReadFile(Pdq("bridge-mods/aaa-orig.jpg"));
  jpeg.resize(jpeg.size() / 2);
  const std::string path = tmp_.File("half.jpg");
  WriteFile(path, jpeg);
  Result<RgbImage> image = DecodeImageFile(path, {});
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(image.status().message().rfind(path + ": ", 0), 0u) << image.status().message();
  EXPECT_NE(image.status().message().find("JPEG"), std::string::npos);
}

TEST_F(DecodeErrors, TruncatedPngAndGifAreCorrupt) {
  REQUIRE_TESTDATA();
  Bytes png = ReadFile(Pdq("misc-images/c.png"));
  png.resize(png.size() / 2);
  Result<RgbImage> image = Decode(png, {}, "half.png");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kCorrupt) << image.status().ToString();

  std::vector<uint8_t> px(64 * 64 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7919 % 251);
  VImage img = MakeImage(px.data(), 64, 64, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
  Bytes gif = Encode(img.get(), ".gif");
  ASSERT_FALSE(gif.empty());
  gif.resize(gif.size() / 2);
  image = Decode(gif, {}, "half.gif");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kCorrupt) << image.status().ToString();
}

TEST_F(DecodeErrors, TruncatedWebpIsCorrupt) {
  REQUIRE_TESTDATA();
  Bytes webp = ReadFile(Pdq("misc-images/modes/F.webp"));
  webp.resize(webp.size() / 2);
  Result<RgbImage> image = Decode(webp, {}, "half.webp");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kCorrupt) << image.status().ToString();
}

TEST_F(DecodeErrors, RandomBytesAreUnsupported) {
  std::mt19937 rng(42);
  Bytes noise(4096);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  noise[0] = 'x';  // not by chance a signature
  Result<RgbImage> image = Decode(noise, {}, "noise.bin");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(image.status().message().find("noise.bin"), std::string::npos);

  // Behind a JPEG signature, noise is a corrupt JPEG.
  noise[0] = 0xFF;
  noise[1] = 0xD8;
  noise[2] = 0xFF;
  image = Decode(noise, {}, "noise.jpg");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kCorrupt) << image.status().ToString();
}

TEST_F(DecodeErrors, EmptyFileIsUnsupported) {
  const std::string path = tmp_.File("empty.jpg");
  WriteFile(path, {});
  Result<RgbImage> image = DecodeImageFile(path, {});
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(image.status().message().find(path), std::string::npos);
}

TEST_F(DecodeErrors, MissingFileIsNotFound) {
  const std::string path = tmp_.File("no-such-file.jpg");
  Result<RgbImage> image = DecodeImageFile(path, {});
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(image.status().message().find(path), std::string::npos);
}

TEST_F(DecodeErrors, DirectoryIsInvalidArgument) {
  Result<RgbImage> image = DecodeImageFile(tmp_.File(""), {});
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kInvalidArgument);
}

// A few hundred bytes claiming 60000x60000 (10.8 GB of RGB) are refused from
// the header, at once, without allocating the pixels.
TEST_F(DecodeErrors, DecompressionBombRefusedFromHeader) {
  const Bytes bomb = PngClaiming(60000, 60000);
  DecodeOptions options;
  options.limits.max_dimension = 100000;  // let the pixel limit be the one that trips
  const auto start = std::chrono::steady_clock::now();
  Result<RgbImage> image = Decode(bomb, options, "bomb.png");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(
      image.status().message().find("60000x60000 = 3600000000 pixels exceeds max_pixels 100000000"),
      std::string::npos)
      << image.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(2));

  // With default limits the side limit trips first.
  image = Decode(bomb, {}, "bomb.png");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(image.status().message().find("max_dimension 30000"), std::string::npos)
      << image.status().message();
}

TEST_F(DecodeErrors, DimensionAndPixelLimits) {
  REQUIRE_TESTDATA();
  const Bytes jpeg = ReadFile(Pdq("bridge-mods/aaa-orig.jpg"));  // 1600x1004
  DecodeOptions options;
  options.limits.max_dimension = 1600;
  EXPECT_TRUE(Decode(jpeg, options).ok());
  options.limits.max_dimension = 1599;
  Result<RgbImage> image = Decode(jpeg, options);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(image.status().message().find("1600x1004"), std::string::npos);

  options = {};
  options.limits.max_pixels = 1600 * 1004;
  EXPECT_TRUE(Decode(jpeg, options).ok());
  options.limits.max_pixels = 1600 * 1004 - 1;
  image = Decode(jpeg, options);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(image.status().message().find("max_pixels 1606399"), std::string::npos)
      << image.status().message();
}

TEST_F(DecodeErrors, FileSizeLimit) {
  REQUIRE_TESTDATA();
  const std::string path = Pdq("bridge-mods/aaa-orig.jpg");
  const uint64_t size = fs::file_size(path);
  DecodeOptions options;
  options.limits.max_file_bytes = size;
  EXPECT_TRUE(DecodeImageFile(path, options).ok());
  options.limits.max_file_bytes = size - 1;
  Result<RgbImage> image = DecodeImageFile(path, options);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(image.status().message().find("max_file_bytes"), std::string::npos);

  const Bytes jpeg = ReadFile(path);
  image = Decode(jpeg, options);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kLimitExceeded);
}

// ---------------------------------------------------------------------------
// Sniffing and the format list.

Bytes Magic(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(Sniff, RecognisesEachSignature) {
  using namespace std::string_view_literals;  // "..."sv keeps embedded NULs
  auto sniff = [](std::string_view s) {
    const Bytes b = Magic(s);
    return SniffImageFormat(b.data(), b.size());
  };
  EXPECT_EQ(sniff("\xFF\xD8\xFF\xE0"sv), "jpeg");
  EXPECT_EQ(sniff("\x89PNG\r\n\x1A\n"sv), "png");
  EXPECT_EQ(sniff("GIF87a"sv), "gif");
  EXPECT_EQ(sniff("GIF89a"sv), "gif");
  EXPECT_EQ(sniff("RIFF\x10\0\0\0WEBPVP8 "sv), "webp");
  EXPECT_EQ(sniff("II*\0\x08\0\0\0"sv), "tiff");
  EXPECT_EQ(sniff("MM\0*\0\0\0\x08"sv), "tiff");
  EXPECT_EQ(sniff("II+\0\x08\0\0\0"sv), "tiff");  // BigTIFF
  // ISO-BMFF: box size, "ftyp", major brand, minor version, compatible brands.
  EXPECT_EQ(sniff("\0\0\0\x18"
                  "ftypheic\0\0\0\0mif1heic"sv),
            "heif");
  EXPECT_EQ(sniff("\0\0\0\x18"
                  "ftypavif\0\0\0\0mif1miaf"sv),
            "heif");
  EXPECT_EQ(sniff("\0\0\0\x18"
                  "ftypmiaf\0\0\0\0avifmif1"sv),
            "heif");
  // Not images, or not ours.
  EXPECT_EQ(sniff("\0\0\0\x18"
                  "ftypisom\0\0\0\0isomiso2"sv),
            "");  // MP4
  EXPECT_EQ(sniff("RIFF\x10\0\0\0WAVEfmt "sv), "");
  EXPECT_EQ(sniff("BM"sv), "");  // text can start "BM": a BMP needs a known DIB header size
  EXPECT_EQ(sniff("BMP is a format\n"sv), "");
  EXPECT_EQ(sniff("%PDF-1.7"sv), "");
  EXPECT_EQ(sniff("<svg xmlns"sv), "");
  EXPECT_EQ(sniff("\xFF\xD8"sv), "");  // too short to tell
  EXPECT_EQ(sniff(""sv), "");
  EXPECT_EQ(SniffImageFormat(nullptr, 0), "");
}

TEST(Sniff, SupportedFormatsListTheCoreFormats) {
  ASSERT_TRUE(InitializeImageDecoding().ok());
  const std::vector<std::string> formats = SupportedImageFormats();
  for (const char* f : {"jpeg", "png", "webp", "gif", "tiff"}) {
    EXPECT_NE(std::find(formats.begin(), formats.end(), f), formats.end()) << f;
  }
  EXPECT_EQ(std::find(formats.begin(), formats.end(), "bmp"), formats.end());
}

// Loaders libvips marks untrusted (here: SVG) are never reached, even for
// input that one of them would accept.
TEST(Sniff, UntrustedLoadersAreNotReached) {
  const Bytes svg = Magic(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
      "<rect width=\"10\" height=\"10\" fill=\"red\"/></svg>");
  Result<RgbImage> image = Decode(svg, {}, "x.svg");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kUnsupported);
}

// ---------------------------------------------------------------------------
// Concurrency.

TEST(Concurrency, ParallelDecodesAgree) {
  REQUIRE_TESTDATA();
  const std::vector<Bytes> inputs = {
      ReadFile(Pdq("bridge-mods/aaa-orig.jpg")), ReadFile(Pdq("misc-images/c.png")),
      ReadFile(Pdq("misc-images/modes/F.webp")), ReadFile(Pdq("misc-images/modes/CMYK.jpg"))};
  std::vector<RgbImage> expected;
  for (const Bytes& b : inputs) {
    Result<RgbImage> image = Decode(b);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    expected.push_back(*image);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        const size_t i = size_t(t + round) % inputs.size();
        Result<RgbImage> image = Decode(inputs[i]);
        if (!image.ok() || image->pixels != expected[i].pixels) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace safeguard
