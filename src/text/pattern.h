// The pattern syntax of pattern packs (docs/text.md, "Patterns"):
//
//   words      literal words, normalised like message text ("dont", "don't"
//              and "DON'T" are the same pattern)
//   (a|b c)    alternatives, each a sequence; nest freely
//   [a b]      optional sequence
//   *          any one token (not first or last in a pattern)
//   #          any number ("im #" matches "im 13")
//
// ExpandPattern turns one pattern into the plain sequences it stands for.
// CompilePattern then normalises the words into vocabulary ids.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "matcher.h"
#include "safeguard/core/status.h"

namespace safeguard::text {

struct PatternPiece {
  enum Kind { kWord, kAny, kNumber } kind = kWord;
  std::string word;  // for kWord, as written
};
using PatternExpansion = std::vector<PatternPiece>;

// Every sequence `pattern` stands for. Errors (kInvalidArgument, naming the
// 1-based column): unbalanced brackets, '|' outside parentheses, an empty
// alternative, '*' or '#' inside a word, nothing to match; kLimitExceeded
// past max_expansions.
Result<std::vector<PatternExpansion>> ExpandPattern(std::string_view pattern,
                                                    size_t max_expansions);

// One expansion as vocabulary ids: each run of words is normalised as one
// text (so spelled-out joining applies across words, as in messages).
// Errors (kInvalidArgument): no tokens, '*' first or last, more than
// max_tokens tokens.
Result<std::vector<PatternElem>> CompilePattern(const PatternExpansion& expansion,
                                                size_t max_tokens, Vocabulary* vocabulary,
                                                NormalizedText* scratch);

}  // namespace safeguard::text
