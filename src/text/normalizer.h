// Text normalisation for indicator matching: one pass per message that undoes
// common obfuscation and splits the text into tokens, each remembering the
// span of original characters it came from (so reasons can point into the
// message a reviewer sees).
//
// What it undoes, in order (docs/text.md, "Normalisation"):
//   1. NFKC with case folding (ICU's NFKC_Casefold), per code point: fullwidth
//      forms, mathematical letters, circled letters, ligatures, case; default
//      ignorables (zero-width spaces, soft hyphens) vanish;
//   2. diacritics: canonical decomposition, combining marks dropped;
//   3. confusables: a small table of Latin lookalikes (Cyrillic, Greek, small
//      capitals, regional indicators...) mapped to the Latin letter;
//   4. tokens are runs of letters, digits and leet symbols (@ $ ! |);
//      apostrophes vanish inside words ("don't" == "dont");
//   5. spelled-out words: three or more one-character tokens separated by one
//      or two separators ("s e c r e t", "s.e.c.r.e.t") become one token;
//   6. leetspeak: in a token with letters, symbols and (when letters outnumber
//      digits, so "13yo" keeps its digits) the digits 0 1 3 4 5 7 8 become
//      o i e a s t b; trailing symbols are dropped;
//   7. a skeleton: 'l' becomes 'i' (1, l, I and | look alike) and runs of one
//      letter collapse to one ("sooo" == "so", and also "meet" == "met").
// Patterns are normalised by the same function, so both sides always agree;
// the skeleton trades a few collisions for robustness (docs/text.md).
//
// Offsets are Unicode code points of the original UTF-8 text, [begin, end).
// An invalid UTF-8 byte counts as one code point and separates tokens.
//
// Thread safety: Normalize is safe to call from many threads at once (each
// with its own NormalizedText). Non-ASCII code points go through tables built
// lazily, 256 code points at a time, under a lock, then read lock-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace safeguard::text {

struct Token {
  uint32_t text_begin = 0;  // byte offset of the token's text in NormalizedText::chars
  uint32_t text_size = 0;   // bytes
  uint32_t orig_begin = 0;  // first original code point
  uint32_t orig_end = 0;    // one past the last original code point
  bool numeric = false;     // only ASCII digits (matches `#` in patterns)
};

// The tokens of one text. Reuse one object across calls: Normalize clears it
// and keeps its capacity, so steady-state normalisation does not allocate.
struct NormalizedText {
  std::string chars;          // the tokens' texts, back to back (UTF-8)
  std::vector<Token> tokens;  // in text order

  std::string_view TokenText(size_t i) const {
    return std::string_view(chars).substr(tokens[i].text_begin, tokens[i].text_size);
  }

  // Internal scratch (one entry per kept character), reused between calls.
  struct Unit {
    char32_t c;
    uint32_t orig_begin;
    uint32_t orig_end;
    uint8_t cls;
  };
  std::vector<Unit> units;
  struct RawToken {
    uint32_t unit_begin;
    uint32_t unit_end;
    uint32_t gap_before;  // separator code points since the previous token
  };
  std::vector<RawToken> raw;
};

// Normalises `utf8` into `out` (cleared first). Never fails.
// Example:
//   NormalizedText n;
//   Normalize("Don't tell ＡＮＹＯＮＥ, s.e.c.r.e.t", &n);
//   // tokens: "dont" [0,5) "tei" [6,10) "anyone" [11,17) "secret" [19,30)
void Normalize(std::string_view utf8, NormalizedText* out);

// The test oracle: the same rules written the slow, obvious way (ICU on the
// whole string, std::u32string splitting). Returns the token texts only.
// REQUIRES: `utf8` is valid UTF-8 (invalid bytes are replaced differently).
std::vector<std::string> NormalizeOracle(std::string_view utf8);

// The confusables table: the Latin letter a lookalike stands for, or `c`
// itself. Applied after case folding, so it sees lowercase forms.
char32_t MapConfusable(char32_t c);

}  // namespace safeguard::text
