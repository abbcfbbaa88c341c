// UTF-8 validation: text that goes into JSON answers, stored records and
// policy documents must be well-formed, or it breaks every later reader.
#pragma once

#include <cstddef>
#include <string_view>

namespace safeguard {

// The byte offset of the first byte that does not start a well-formed UTF-8
// sequence (truncated, overlong, a surrogate, past U+10FFFF), or
// std::string_view::npos when all of `s` is well-formed.
size_t FirstInvalidUtf8(std::string_view s);

inline bool IsUtf8(std::string_view s) { return FirstInvalidUtf8(s) == std::string_view::npos; }

}  // namespace safeguard
