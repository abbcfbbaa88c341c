#include "fasttext_model_check.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace safeguard::text {
namespace {

constexpr int32_t kMagic = 793712314;  // FASTTEXT_FILEFORMAT_MAGIC_INT32
constexpr int32_t kVersion = 12;       // FASTTEXT_VERSION of fastText 0.9
constexpr int32_t kModelSupervised = 3;
constexpr int32_t kLossSoftmax = 3;
constexpr size_t kMaxWordBytes = 1 << 16;

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <typename T>
  bool Read(T* out) {
    if (size_ - pos_ < sizeof(T)) return false;
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // A NUL-terminated word; false if none within kMaxWordBytes.
  bool SkipWord() {
    const size_t limit = std::min(size_ - pos_, kMaxWordBytes + 1);
    const void* nul = std::memchr(data_ + pos_, 0, limit);
    if (nul == nullptr) return false;
    pos_ = static_cast<size_t>(static_cast<const uint8_t*>(nul) - data_) + 1;
    return true;
  }
  bool Skip(uint64_t bytes) {
    if (size_ - pos_ < bytes) return false;
    pos_ += static_cast<size_t>(bytes);
    return true;
  }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

Status Truncated(const char* where) {
  return Status::Corrupt(std::string("truncated fastText model (in the ") + where + ")");
}

// A dense matrix: int64 rows, int64 cols, rows * cols floats.
Status CheckMatrix(Reader* r, int64_t rows, int64_t cols, const char* name) {
  int64_t m = 0, n = 0;
  if (!r->Read(&m) || !r->Read(&n)) return Truncated(name);
  if (m != rows || n != cols) {
    return Status::Corrupt(std::string("fastText model: the ") + name + " is " + std::to_string(m) +
                           "x" + std::to_string(n) + ", expected " + std::to_string(rows) + "x" +
                           std::to_string(cols));
  }
  const uint64_t bytes = static_cast<uint64_t>(m) * static_cast<uint64_t>(n) * sizeof(float);
  if (!r->Skip(bytes)) return Truncated(name);
  return Status::Ok();
}

}  // namespace

Result<FastTextModelShape> CheckFastTextModel(const uint8_t* data, size_t size, int max_dim) {
  Reader r(data, size);
  int32_t magic = 0, version = 0;
  if (!r.Read(&magic) || magic != kMagic) return Status::Corrupt("not a fastText model");
  if (!r.Read(&version)) return Truncated("header");
  if (version != kVersion) {
    return Status::Unsupported("fastText model file version " + std::to_string(version) +
                               " (this build reads version " + std::to_string(kVersion) + ")");
  }
  // Args: dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket,
  // minn, maxn, lrUpdateRate (int32 each), t (double).
  int32_t a[12];
  double t = 0;
  for (int32_t& v : a) {
    if (!r.Read(&v)) return Truncated("arguments");
  }
  if (!r.Read(&t)) return Truncated("arguments");
  FastTextModelShape shape;
  shape.dim = a[0];
  shape.word_ngrams = a[5];
  shape.bucket = a[8];
  if (a[7] != kModelSupervised || a[6] != kLossSoftmax) {
    return Status::Unsupported("fastText model is not a supervised softmax classifier");
  }
  if (shape.dim < 1) return Status::Corrupt("fastText model: dim " + std::to_string(shape.dim));
  if (shape.dim > max_dim) {
    return Status::LimitExceeded("fastText model: dim " + std::to_string(shape.dim) +
                                 " exceeds max_dim " + std::to_string(max_dim));
  }
  if (shape.bucket < 0 || shape.word_ngrams < 1 || shape.word_ngrams > 32) {
    return Status::Corrupt("fastText model: bad bucket or wordNgrams");
  }
  // Dictionary: size, nwords, nlabels (int32), ntokens, pruneidx_size
  // (int64), then per entry a NUL-terminated word, int64 count, int8 type.
  int32_t entries = 0;
  int64_t ntokens = 0, pruneidx_size = 0;
  if (!r.Read(&entries) || !r.Read(&shape.words) || !r.Read(&shape.labels) || !r.Read(&ntokens) ||
      !r.Read(&pruneidx_size)) {
    return Truncated("dictionary");
  }
  if (entries < 0 || shape.words < 0 || shape.labels < 0 || entries != shape.words + shape.labels ||
      static_cast<uint64_t>(entries) > r.remaining() / 10) {  // each entry takes >= 10 bytes
    return Status::Corrupt("fastText model: inconsistent dictionary sizes");
  }
  for (int32_t i = 0; i < entries; ++i) {
    int64_t count = 0;
    int8_t type = 0;
    if (!r.SkipWord() || !r.Read(&count) || !r.Read(&type)) return Truncated("dictionary");
    if (type != 0 && type != 1) return Status::Corrupt("fastText model: bad dictionary entry");
  }
  if (pruneidx_size != 0 && pruneidx_size != -1) {
    return Status::Unsupported("pruned (quantized) fastText models are not supported");
  }
  uint8_t quant_input = 0;
  if (!r.Read(&quant_input)) return Truncated("input matrix");
  if (quant_input != 0) return Status::Unsupported("quantized fastText models are not supported");
  if (Status s = CheckMatrix(&r, static_cast<int64_t>(shape.words) + shape.bucket, shape.dim,
                             "input matrix");
      !s.ok()) {
    return s;
  }
  uint8_t quant_output = 0;
  if (!r.Read(&quant_output)) return Truncated("output matrix");
  if (quant_output != 0) return Status::Unsupported("quantized fastText models are not supported");
  if (Status s = CheckMatrix(&r, shape.labels, shape.dim, "output matrix"); !s.ok()) return s;
  if (r.remaining() != 0) return Status::Corrupt("fastText model: trailing bytes");
  return shape;
}

}  // namespace safeguard::text
