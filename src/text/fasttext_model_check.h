// A structural check of a fastText model file before fastText reads it.
// fastText's loader trusts the sizes written in the file: a truncated or
// hostile file makes it allocate whatever the header says and read past the
// data. This walks the same layout (fastText 0.9.2, file format version 12:
// magic, version, Args, Dictionary, input matrix, output matrix) and checks
// every size against the bytes actually present.
//
// Thread safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>

#include "safeguard/core/status.h"

namespace safeguard::text {

struct FastTextModelShape {
  int dim = 0;
  int32_t words = 0;
  int32_t labels = 0;
  int bucket = 0;
  int word_ngrams = 0;
};

// Errors: kCorrupt (not a fastText model, truncated, inconsistent sizes,
// trailing bytes); kUnsupported (another file format version, quantized or
// pruned, not a supervised softmax model); kLimitExceeded (dim > max_dim).
Result<FastTextModelShape> CheckFastTextModel(const uint8_t* data, size_t size, int max_dim);

}  // namespace safeguard::text
