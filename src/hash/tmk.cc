// TMK+PDQF: frame features, the streamed Fourier sums, the .tmk format and
// the two scores. The arithmetic follows the reference (tmk/cpp/algo/tmkfv.cpp,
// tmk/cpp/lib/vec.cpp) type for type, so scores agree with its tools.

#include "safeguard/hash/tmk.h"

#include <cmath>
#include <cstring>

#include "pdq_internal.h"
#include "safeguard/core/file.h"

namespace safeguard {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr char kProjectMagic[4] = {'T', 'M', 'K', '1'};
constexpr char kVectorMagic[4] = {'F', 'V', 'E', 'C'};
constexpr char kPdqfMagic[4] = {'P', 'D', 'Q', 'F'};
constexpr size_t kHeaderBytes = 32;

// The reference's vector helpers: float accumulators, in index order.
float Norm(const float* v, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += v[i] * v[i];
  return std::sqrt(sum);
}

float Dot(const float* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void Normalize(float* v, size_t n) {
  const float norm = Norm(v, n);
  if (norm > 0.0f) {
    for (size_t i = 0; i < n; ++i) v[i] /= norm;
  }
}

float PairScoreNormalizer(const std::vector<float>& c) {
  if (c.empty()) return 1.0f;
  float s = c[0];
  for (size_t j = 1; j < c.size(); ++j) s = static_cast<float>(s + 2.0 * c[j]);
  return s;
}

void PutI32(std::vector<uint8_t>* out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(u >> (8 * i)));
}

void PutF32(std::vector<uint8_t>* out, float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(u >> (8 * i)));
}

uint32_t GetU32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

float GetF32(const uint8_t* p) {
  const uint32_t u = GetU32(p);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

const std::vector<float>& TmkFourierCoefficients() {
  // I_j(32) / sinh(32) for j >= 1 and (I_0(32) - e^-32) / (2 sinh(32)) for
  // j = 0, as the reference tabulates them (to float).
  static const std::vector<float> c = {
      0.0708041893112f,   0.13937789309f,     0.132897260304f,    0.122765735552f,
      0.109878684888f,    0.09529606433f,     0.0800986647852f,   0.0652590650356f,
      0.0515478238322f,   0.0394851531195f,   0.0293374252025f,   0.0211492623679f,
      0.0147973073245f,   0.0100512818746f,   0.0066306408014f,   0.00424947117334f,
      0.0026467615764f,   0.00160270959695f,  0.000943882629639f, 0.000540841638603f,
      0.000301633183798f, 0.000163800158855f, 8.66454753015e-05f, 4.46626303151e-05f,
      2.24429442235e-05f, 1.09982139799e-05f, 5.25823487999e-06f, 2.45358229988e-06f,
      1.11781474895e-06f, 4.97406489221e-07f, 2.16265487234e-07f, 9.19087006565e-08f};
  return c;
}

TmkBuilder::TmkBuilder()
    : periods_(kTmkPeriods.begin(), kTmkPeriods.end()),
      coefficients_(TmkFourierCoefficients()),
      average_(kTmkFeatureDimension, 0.0f),
      cos_(periods_.size() * coefficients_.size() * kTmkFeatureDimension, 0.0f),
      sin_(cos_.size(), 0.0f) {}

void TmkBuilder::AddFrame(const float* feature) {
  constexpr size_t d = kTmkFeatureDimension;
  for (size_t k = 0; k < d; ++k) average_[k] += feature[k];
  float normalized[d];
  std::memcpy(normalized, feature, sizeof(normalized));
  Normalize(normalized, d);
  const size_t nc = coefficients_.size();
  const double t = frame_count_;
  for (size_t i = 0; i < periods_.size(); ++i) {
    const double period = periods_[i];
    float* c0 = &cos_[(i * nc) * d];
    for (size_t k = 0; k < d; ++k) c0[k] += normalized[k];
    for (size_t j = 1; j < nc; ++j) {
      const double arg = 2.0 * kPi * static_cast<double>(j) * t / period;
      const double ca = std::cos(arg);
      const double sa = std::sin(arg);
      float* cv = &cos_[(i * nc + j) * d];
      float* sv = &sin_[(i * nc + j) * d];
      // float += float * double: the sum is formed in double and rounded to
      // float, as in the reference.
      for (size_t k = 0; k < d; ++k) {
        cv[k] = static_cast<float>(cv[k] + normalized[k] * ca);
        sv[k] = static_cast<float>(sv[k] + normalized[k] * sa);
      }
    }
  }
  ++frame_count_;
}

TmkSignature TmkBuilder::Finish() const {
  TmkSignature sig;
  sig.frames_per_second = kTmkFramesPerSecond;
  sig.frame_count = frame_count_;
  sig.periods = periods_;
  sig.coefficients = coefficients_;
  sig.average = average_;
  sig.cos_features = cos_;
  sig.sin_features = sin_;
  if (frame_count_ > 0) {
    const auto count = static_cast<float>(frame_count_);
    for (float& v : sig.average) v /= count;
    constexpr size_t d = kTmkFeatureDimension;
    const size_t nc = coefficients_.size();
    for (size_t i = 0; i < periods_.size(); ++i) {
      for (size_t j = 0; j < nc; ++j) {
        const float scale = std::sqrt(coefficients_[j]);
        for (std::vector<float>* v : {&sig.cos_features, &sig.sin_features}) {
          float* x = &(*v)[(i * nc + j) * d];
          Normalize(x, d);
          for (size_t k = 0; k < d; ++k) x[k] *= scale;
        }
      }
    }
  }
  return sig;
}

void PdqfFeature(const uint8_t* rgb, std::ptrdiff_t row_stride, float out[256]) {
  const pdq_internal::LumaTables& luma = pdq_internal::Luma();
  float buffer[64][64];
  for (int y = 0; y < 64; ++y) {
    const uint8_t* p = rgb + y * row_stride;
    for (int x = 0; x < 64; ++x, p += 3) buffer[y][x] = luma.r[p[0]] + luma.g[p[1]] + luma.b[p[2]];
  }
  float dct[16][16];
  int quality = 0;
  pdq_internal::PdqFloatFromDownsampled(buffer, dct, &quality);
  std::memcpy(out, &dct[0][0], 256 * sizeof(float));
}

void TmkBuilder::AddVideoFrame(const VideoFrame& f) {
  float feature[kTmkFeatureDimension];
  PdqfFeature(f.rgb, f.row_stride, feature);
  AddFrame(feature);
}

FrameSampling TmkSampling(const TmkOptions& options) {
  FrameSampling sampling =
      FrameSampling::Resampled(kTmkFramesPerSecond, kTmkFrameSize, kTmkFrameSize);
  sampling.exact_fast_scaler = options.exact_fast_scaler;
  return sampling;
}

Result<TmkSignature> TmkHashVideo(VideoDecoder& video, const TmkOptions& options) {
  TmkBuilder builder;
  Status s = video.Sample(TmkSampling(options), [&](const VideoFrame& f) {
    builder.AddVideoFrame(f);
    return true;
  });
  if (!s.ok()) return s;
  if (builder.frames() == 0) return Status::Corrupt(video.info().codec + ": no frames to hash");
  return builder.Finish();
}

Result<TmkSignature> TmkHashFile(const std::string& path, const TmkOptions& options) {
  Result<std::unique_ptr<VideoDecoder>> video = VideoDecoder::OpenFile(path, options.open);
  if (!video.ok()) return video.status();
  return TmkHashVideo(**video, options);
}

std::vector<uint8_t> TmkToBytes(const TmkSignature& sig) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + 4 * (sig.periods.size() + sig.coefficients.size() +
                                  sig.average.size() + 2 * sig.cos_features.size()));
  for (const char* magic : {kProjectMagic, kVectorMagic, kPdqfMagic}) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(magic[i]));
  }
  PutI32(&out, sig.frames_per_second);
  PutI32(&out, static_cast<int32_t>(sig.periods.size()));
  PutI32(&out, static_cast<int32_t>(sig.coefficients.size()));
  PutI32(&out, sig.dimension());
  PutI32(&out, sig.frame_count);
  for (int32_t p : sig.periods) PutI32(&out, p);
  for (float c : sig.coefficients) PutF32(&out, c);
  for (float v : sig.average) PutF32(&out, v);
  for (float v : sig.cos_features) PutF32(&out, v);
  for (float v : sig.sin_features) PutF32(&out, v);
  return out;
}

Result<TmkSignature> ParseTmk(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes)
    return Status::Corrupt("TMK: " + std::to_string(size) + " bytes is too short");
  if (std::memcmp(data, kProjectMagic, 4) != 0 || std::memcmp(data + 4, kVectorMagic, 4) != 0) {
    return Status::InvalidArgument("TMK: not a TMK1 FVEC file");
  }
  if (std::memcmp(data + 8, kPdqfMagic, 4) != 0) {
    return Status::InvalidArgument("TMK: frame algorithm is not PDQF");
  }
  const auto fps = static_cast<int32_t>(GetU32(data + 12));
  const auto np = static_cast<int32_t>(GetU32(data + 16));
  const auto nc = static_cast<int32_t>(GetU32(data + 20));
  const auto d = static_cast<int32_t>(GetU32(data + 24));
  const auto count = static_cast<int32_t>(GetU32(data + 28));
  if (np < 0 || nc < 0 || d < 0 || np > kTmkMaxPeriods || nc > kTmkMaxCoefficients ||
      d > kTmkMaxDimension) {
    return Status::LimitExceeded("TMK: header claims " + std::to_string(np) + " periods, " +
                                 std::to_string(nc) + " coefficients, dimension " +
                                 std::to_string(d));
  }
  const size_t cells = static_cast<size_t>(np) * static_cast<size_t>(nc) * static_cast<size_t>(d);
  const size_t expected = kHeaderBytes + 4 * (static_cast<size_t>(np) + static_cast<size_t>(nc) +
                                              static_cast<size_t>(d) + 2 * cells);
  if (size != expected) {
    return Status::Corrupt("TMK: " + std::to_string(size) + " bytes, header implies " +
                           std::to_string(expected));
  }
  TmkSignature sig;
  sig.frames_per_second = fps;
  sig.frame_count = count;
  const uint8_t* p = data + kHeaderBytes;
  sig.periods.resize(static_cast<size_t>(np));
  for (int32_t& v : sig.periods) {
    v = static_cast<int32_t>(GetU32(p));
    p += 4;
    if (v <= 0 || v > (1 << 24)) return Status::Corrupt("TMK: period out of range");
  }
  auto floats = [&](std::vector<float>* v, size_t n) {
    v->resize(n);
    for (float& f : *v) {
      f = GetF32(p);
      p += 4;
    }
  };
  floats(&sig.coefficients, static_cast<size_t>(nc));
  floats(&sig.average, static_cast<size_t>(d));
  floats(&sig.cos_features, cells);
  floats(&sig.sin_features, cells);
  return sig;
}

Result<TmkSignature> ReadTmkFile(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, 64ull << 20);
  if (!bytes.ok()) return bytes.status();
  Result<TmkSignature> sig = ParseTmk(bytes->data(), bytes->size());
  if (!sig.ok()) return Status::Error(sig.status().code(), path + ": " + sig.status().message());
  return sig;
}

bool TmkCompatible(const TmkSignature& a, const TmkSignature& b) {
  if (a.frames_per_second != b.frames_per_second || a.periods != b.periods ||
      a.dimension() != b.dimension() || a.coefficients.size() != b.coefficients.size()) {
    return false;
  }
  for (size_t i = 0; i < a.coefficients.size(); ++i) {
    const float ca = a.coefficients[i], cb = b.coefficients[i];
    const float m = std::fmax(std::fabs(ca), std::fabs(cb));
    if (m > 0 && std::fabs((ca - cb) / m) > 1e-6f) return false;
  }
  const size_t cells = a.periods.size() * a.coefficients.size() * a.average.size();
  return a.cos_features.size() == cells && b.cos_features.size() == cells &&
         a.sin_features.size() == cells && b.sin_features.size() == cells;
}

double TmkLevel1(const TmkSignature& a, const TmkSignature& b) {
  const size_t d = a.average.size();
  const float na = Norm(a.average.data(), d);
  const float nb = Norm(b.average.data(), d);
  if (na == 0.0f && nb == 0.0f) return 0.0;
  return Dot(a.average.data(), b.average.data(), d) / (na * nb);
}

double TmkLevel2(const TmkSignature& a, const TmkSignature& b) {
  const size_t np = a.periods.size();
  const size_t nc = a.coefficients.size();
  const size_t d = a.average.size();
  if (np == 0 || nc == 0) return 0.0;
  float best_over_periods = 0.0f;
  for (size_t i = 0; i < np; ++i) {
    std::vector<float> cc(nc), ss(nc), sc(nc), cs(nc);
    for (size_t j = 0; j < nc; ++j) {
      const float* ac = &a.cos_features[(i * nc + j) * d];
      const float* as = &a.sin_features[(i * nc + j) * d];
      const float* bc = &b.cos_features[(i * nc + j) * d];
      const float* bs = &b.sin_features[(i * nc + j) * d];
      cc[j] = Dot(ac, bc, d);
      ss[j] = Dot(as, bs, d);
      sc[j] = Dot(as, bc, d);
      cs[j] = Dot(ac, bs, d);
    }
    const int period = a.periods[i];
    float best = 0.0f;
    for (int offset = 0; offset < period; ++offset) {
      // The kernel at this offset, cos(j delta) and sin(j delta) advanced by
      // the reference's incremental rotation (in float).
      const auto delta =
          static_cast<float>(2.0 * kPi * static_cast<float>(offset) / static_cast<float>(period));
      float k_delta = cc[0];
      float cos_jd = 1.0f;
      float sin_jd = 0.0f;
      const auto beta = static_cast<float>(std::sin(static_cast<double>(delta)));
      auto alpha = static_cast<float>(std::sin(static_cast<double>(delta) / 2));
      alpha = 2 * alpha * alpha;
      for (size_t j = 1; j < nc; ++j) {
        const float n_cos = (alpha * cos_jd) + (beta * sin_jd);
        const float n_sin = (alpha * sin_jd) - (beta * cos_jd);
        cos_jd -= n_cos;
        sin_jd -= n_sin;
        k_delta += cos_jd * (cc[j] + ss[j]);
        k_delta += sin_jd * (sc[j] - cs[j]);
      }
      if (offset == 0 || k_delta > best) best = k_delta;
    }
    if (i == 0 || best > best_over_periods) best_over_periods = best;
  }
  return best_over_periods / PairScoreNormalizer(a.coefficients);
}

TmkScores TmkCompare(const TmkSignature& a, const TmkSignature& b, const TmkMatchOptions& options) {
  TmkScores s;
  if (!TmkCompatible(a, b)) return s;
  s.level1 = TmkLevel1(a, b);
  if (s.level1 < options.level1_threshold) return s;
  s.level2 = TmkLevel2(a, b);
  s.match = s.level2 >= options.level2_threshold;
  return s;
}

}  // namespace safeguard
