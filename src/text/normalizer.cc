#include "normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <mutex>

namespace safeguard::text {
namespace {

// What a character is to the tokeniser. Not persisted.
enum Class : uint8_t {
  kSeparator = 0,  // ends a token
  kLetter = 1,
  kDigit = 2,    // ASCII '0'..'9' after normalisation (other scripts' digits mapped)
  kLeet = 3,     // @ $ ! | : a letter inside a word, punctuation elsewhere
  kJoiner = 4,   // vanishes without ending a token: apostrophes, marks, ignorables
  kNewline = 5,  // a separator that also stops spelled-out joining
};

// Spelled-out words: at least kMinSpelledOut one-character tokens, each gap
// between them 1..kMaxJoinGap separators ("s e c r e t", "s. e. c. r. e. t").
constexpr size_t kMinSpelledOut = 3;
constexpr uint32_t kMaxJoinGap = 2;
constexpr uint32_t kNoJoin = 0xFFFFFFFFu;

struct ConfusablePair {
  char32_t from;
  char32_t to;
};

// Lookalikes of Latin letters, a subset of Unicode's confusables.txt. The
// table is applied twice: to each original code point before case folding
// (so uppercase Greek and Cyrillic letters map by their uppercase shape:
// Greek capital nu looks like N, small nu like v) and to what folding and
// decomposition leave. Sorted by `from`.
constexpr ConfusablePair kConfusables[] = {
    {0x0131, U'i'},  // dotless i
    {0x0138, U'k'},  // kra
    {0x01C0, U'i'},  // dental click (looks like l; l folds to i)
    {0x0251, U'a'},  // alpha (Latin)
    {0x0261, U'g'},  // script g
    {0x0262, U'g'},  // small capital G
    {0x0269, U'i'},  // iota (Latin)
    {0x026A, U'i'},  // small capital I
    {0x0274, U'n'},  // small capital N
    {0x0280, U'r'},  // small capital R
    {0x028F, U'y'},  // small capital Y
    {0x0299, U'b'},  // small capital B
    {0x029C, U'h'},  // small capital H
    {0x029F, U'i'},  // small capital L (l folds to i)
    {0x0391, U'a'},  // Greek capitals that look like Latin capitals
    {0x0392, U'b'}, {0x0395, U'e'}, {0x0396, U'z'}, {0x0397, U'h'}, {0x0399, U'i'},
    {0x039A, U'k'}, {0x039C, U'm'}, {0x039D, U'n'}, {0x039F, U'o'}, {0x03A1, U'p'},
    {0x03A4, U't'}, {0x03A5, U'y'}, {0x03A7, U'x'}, {0x03B1, U'a'},  // Greek alpha
    {0x03B2, U'b'},                                                  // beta
    {0x03B3, U'y'},                                                  // gamma
    {0x03B5, U'e'},                                                  // epsilon
    {0x03B6, U'z'},                                                  // zeta
    {0x03B7, U'n'},                                                  // eta
    {0x03B9, U'i'},                                                  // iota
    {0x03BA, U'k'},                                                  // kappa
    {0x03BC, U'u'},                                                  // mu
    {0x03BD, U'v'},                                                  // nu
    {0x03BF, U'o'},                                                  // omicron
    {0x03C1, U'p'},                                                  // rho
    {0x03C3, U'o'},                                                  // sigma
    {0x03C4, U't'},                                                  // tau
    {0x03C5, U'u'},                                                  // upsilon
    {0x03C7, U'x'},                                                  // chi
    {0x03C9, U'w'},                                                  // omega
    {0x03F2, U'c'},                                                  // lunate sigma
    {0x03F3, U'j'},                                                  // yot
    {0x0405, U's'},  // Cyrillic capitals that look like Latin capitals
    {0x0406, U'i'}, {0x0408, U'j'}, {0x0410, U'a'}, {0x0412, U'b'}, {0x0415, U'e'},
    {0x041A, U'k'}, {0x041C, U'm'}, {0x041D, U'h'}, {0x041E, U'o'}, {0x0420, U'p'},
    {0x0421, U'c'}, {0x0422, U't'}, {0x0423, U'y'}, {0x0425, U'x'}, {0x0430, U'a'},  // Cyrillic a
    {0x0432, U'b'},  // ve (uppercase looks like B)
    {0x0433, U'r'},  // ghe
    {0x0435, U'e'},  // ie
    {0x043A, U'k'},  // ka
    {0x043C, U'm'},  // em
    {0x043D, U'h'},  // en (uppercase looks like H)
    {0x043E, U'o'},  // o
    {0x0440, U'p'},  // er
    {0x0441, U'c'},  // es
    {0x0442, U't'},  // te
    {0x0443, U'y'},  // u
    {0x0445, U'x'},  // ha
    {0x044C, U'b'},  // soft sign
    {0x0455, U's'},  // dze
    {0x0456, U'i'},  // Byelorussian-Ukrainian i
    {0x0458, U'j'},  // je
    {0x04AF, U'y'},  // straight u
    {0x04BB, U'h'},  // shha
    {0x04CF, U'i'},  // palochka (looks like l)
    {0x0501, U'd'},  // komi de
    {0x051B, U'q'},  // qa
    {0x051D, U'w'},  // we
    {0x0570, U'h'},  // Armenian ho
    {0x0578, U'n'},  // vo
    {0x057D, U'u'},  // seh
    {0x0585, U'o'},  // oh
    {0x1D00, U'a'},  // small capitals
    {0x1D04, U'c'}, {0x1D05, U'd'}, {0x1D07, U'e'}, {0x1D0A, U'j'}, {0x1D0B, U'k'},
    {0x1D0D, U'm'}, {0x1D0F, U'o'}, {0x1D18, U'p'}, {0x1D1B, U't'}, {0x1D1C, U'u'},
    {0x1D20, U'v'}, {0x1D21, U'w'}, {0x1D22, U'z'}, {0xA731, U's'},  // small capital S
};

// Leetspeak: the letter a digit or symbol stands for inside a word, or 0.
constexpr char32_t LeetLetter(char32_t c) {
  switch (c) {
    case U'0':
      return U'o';
    case U'1':
    case U'!':
    case U'|':
      return U'i';
    case U'3':
      return U'e';
    case U'4':
    case U'@':
      return U'a';
    case U'5':
    case U'$':
      return U's';
    case U'7':
      return U't';
    case U'8':
      return U'b';
    default:
      return 0;
  }
}

bool IsApostrophe(char32_t c) {
  return c == 0x27 || c == 0x60 || c == 0x2018 || c == 0x2019 || c == 0x02BC;
}

struct AsciiEntry {
  char32_t c;
  uint8_t cls;
};

constexpr std::array<AsciiEntry, 128> kAscii = [] {
  std::array<AsciiEntry, 128> t{};
  for (int b = 0; b < 128; ++b) {
    char32_t c = static_cast<char32_t>(b);
    uint8_t cls = kSeparator;
    if (c >= U'A' && c <= U'Z') {
      c = c - U'A' + U'a';
      cls = kLetter;
    } else if (c >= U'a' && c <= U'z') {
      cls = kLetter;
    } else if (c >= U'0' && c <= U'9') {
      cls = kDigit;
    } else if (c == U'@' || c == U'$' || c == U'!' || c == U'|') {
      cls = kLeet;
    } else if (c == U'\'' || c == U'`') {
      cls = kJoiner;
    } else if (c == U'\n' || c == U'\r' || c == U'\v' || c == U'\f') {
      cls = kNewline;
    }
    t[static_cast<size_t>(b)] = {c, cls};
  }
  return t;
}();

// The class of a code point that has been case folded, decomposed and mapped
// through the confusables; *out receives the character to keep.
uint8_t ClassifyFolded(char32_t c, char32_t* out) {
  *out = c;
  if (c < 0x80) {
    *out = kAscii[c].c;
    return kAscii[c].cls;
  }
  if (IsApostrophe(c)) return kJoiner;
  const UChar32 u = static_cast<UChar32>(c);
  if (u_charType(u) == U_DECIMAL_DIGIT_NUMBER) {
    *out = U'0' + static_cast<char32_t>(u_charDigitValue(u));
    return kDigit;
  }
  if (c == 0x85 || c == 0x2028 || c == 0x2029) return kNewline;
  if (u_hasBinaryProperty(u, UCHAR_ALPHABETIC)) return kLetter;
  return kSeparator;
}

bool IsDroppedMark(UChar32 c) {
  const int8_t t = u_charType(c);
  return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK;
}

// The normalisation of every code point in a block of 256, computed once.
// entry[i] = (offset << 8) | count into pool; count 0 means the code point
// vanishes (a joiner). Each pool item is (class << 24) | character.
struct Page {
  std::array<uint32_t, 256> entry{};
  std::vector<uint32_t> pool;
};

constexpr size_t kPageCount = 0x110000 >> 8;
std::atomic<const Page*> g_pages[kPageCount];  // never freed: process lifetime
std::mutex g_pages_mu;

std::unique_ptr<Page> BuildPage(uint32_t page_index) {
  auto page = std::make_unique<Page>();
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(err);
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
  const bool have_icu = U_SUCCESS(err);
  for (uint32_t i = 0; i < 256; ++i) {
    const char32_t cp = (page_index << 8) | i;
    const uint32_t offset = static_cast<uint32_t>(page->pool.size());
    auto push = [&](char32_t c) {
      char32_t kept = 0;
      const uint8_t cls = ClassifyFolded(MapConfusable(c), &kept);
      if (cls != kJoiner) page->pool.push_back((static_cast<uint32_t>(cls) << 24) | kept);
    };
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      page->pool.push_back(static_cast<uint32_t>(kSeparator) << 24);
    } else if (MapConfusable(cp) != cp || !have_icu) {
      push(cp);  // a lookalike by its original shape (or no ICU data: classify as is)
    } else {
      err = U_ZERO_ERROR;
      const icu::UnicodeString folded =
          nfkc_cf->normalize(icu::UnicodeString(static_cast<UChar32>(cp)), err);
      const icu::UnicodeString decomposed = nfd->normalize(folded, err);
      if (U_FAILURE(err)) {
        push(cp);
      } else {
        for (int32_t k = 0; k < decomposed.length();) {
          const UChar32 c = decomposed.char32At(k);
          k += U16_LENGTH(c);
          if (!IsDroppedMark(c)) push(static_cast<char32_t>(c));
        }
      }
    }
    const uint32_t count = static_cast<uint32_t>(page->pool.size()) - offset;
    page->entry[i] = (offset << 8) | std::min<uint32_t>(count, 255);
  }
  return page;
}

const Page& GetPage(uint32_t page_index) {
  const Page* p = g_pages[page_index].load(std::memory_order_acquire);
  if (p != nullptr) return *p;
  std::lock_guard lock(g_pages_mu);
  p = g_pages[page_index].load(std::memory_order_relaxed);
  if (p == nullptr) {
    p = BuildPage(page_index).release();
    g_pages[page_index].store(p, std::memory_order_release);
  }
  return *p;
}

// Decodes one UTF-8 sequence at s[i] (i < size). Returns its length, or 0
// for an invalid byte (overlong forms, surrogates and values past U+10FFFF
// are invalid too).
size_t DecodeUtf8(const unsigned char* s, size_t size, size_t i, char32_t* cp) {
  const unsigned char b = s[i];
  size_t len;
  char32_t c;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
    c = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    c = b & 0x0F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    c = b & 0x07;
  } else {
    return 0;
  }
  if (size - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char x = s[i + k];
    if ((x & 0xC0) != 0x80) return 0;
    c = (c << 6) | (x & 0x3F);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
      (c >= 0xD800 && c <= 0xDFFF)) {
    return 0;
  }
  *cp = c;
  return len;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Rules 6 and 7 for one token's characters: which to keep and what they
// become. `cls` and `c` are parallel; returns the kept characters, or an
// empty string when nothing is left. *first and *last receive the indexes of
// the first and last kept input characters; *numeric whether only digits.
// Shared by Normalize (over units) and the oracle (over u32strings) through
// this one small function, so that the two can only differ in how they find
// characters and tokens, which is what the oracle checks.
template <typename At>
std::u32string FinishToken(size_t n, At at, size_t* first, size_t* last, bool* numeric) {
  std::u32string out;
  // Trailing symbols are punctuation ("stop!"), not letters.
  while (n > 0 && at(n - 1).second == kLeet) --n;
  size_t letters = 0, digits = 0;
  for (size_t i = 0; i < n; ++i) {
    letters += at(i).second == kLetter;
    digits += at(i).second == kDigit;
  }
  *numeric = letters == 0;
  bool any = false;
  if (letters == 0) {
    for (size_t i = 0; i < n; ++i) {
      if (at(i).second != kDigit) continue;
      if (!any) *first = i;
      *last = i;
      any = true;
      out.push_back(at(i).first);
    }
    return out;
  }
  const bool map_digits = letters > digits;
  for (size_t i = 0; i < n; ++i) {
    char32_t c = at(i).first;
    const uint8_t cls = at(i).second;
    if (cls == kLeet || (cls == kDigit && map_digits)) {
      const char32_t l = LeetLetter(c);
      if (l != 0) c = l;
    }
    if (c == U'l') c = U'i';
    if (!any) *first = i;
    *last = i;
    any = true;
    if (out.empty() || out.back() != c) out.push_back(c);
  }
  return out;
}

}  // namespace

char32_t MapConfusable(char32_t c) {
  if (c >= 0x1F1E6 && c <= 0x1F1FF) return U'a' + (c - 0x1F1E6);  // regional indicators
  if (c >= 0x1F170 && c <= 0x1F189) return U'a' + (c - 0x1F170);  // negative squared
  if (c >= 0x1F150 && c <= 0x1F169) return U'a' + (c - 0x1F150);  // negative circled
  if (c < kConfusables[0].from) return c;
  const auto* end = std::end(kConfusables);
  const auto* it = std::lower_bound(std::begin(kConfusables), end, c,
                                    [](const ConfusablePair& p, char32_t x) { return p.from < x; });
  return it != end && it->from == c ? it->to : c;
}

void Normalize(std::string_view utf8, NormalizedText* out) {
  out->chars.clear();
  out->tokens.clear();
  std::vector<NormalizedText::Unit>& units = out->units;
  std::vector<NormalizedText::RawToken>& raw = out->raw;
  units.clear();
  raw.clear();

  // Pass 1: characters to units, grouped into raw tokens.
  bool in_token = false;
  uint32_t gap = kNoJoin;
  auto close = [&] {
    if (in_token) {
      raw.back().unit_end = static_cast<uint32_t>(units.size());
      in_token = false;
      gap = 0;
    }
  };
  auto add = [&](char32_t c, uint8_t cls, uint32_t orig) {
    switch (cls) {
      case kLetter:
      case kDigit:
      case kLeet:
        if (!in_token) {
          raw.push_back({static_cast<uint32_t>(units.size()), 0, gap});
          in_token = true;
        }
        units.push_back({c, orig, orig + 1, cls});
        break;
      case kJoiner:
        if (in_token) units.back().orig_end = orig + 1;
        break;
      case kNewline:
        close();
        gap = kNoJoin;
        break;
      default:
        close();
        if (gap != kNoJoin) ++gap;
        break;
    }
  };
  const auto* s = reinterpret_cast<const unsigned char*>(utf8.data());
  const size_t size = utf8.size();
  uint32_t orig = 0;
  for (size_t i = 0; i < size; ++orig) {
    const unsigned char b = s[i];
    if (b < 0x80) {  // the fast path: no tables beyond this one
      add(kAscii[b].c, kAscii[b].cls, orig);
      ++i;
      continue;
    }
    char32_t cp = 0;
    const size_t len = DecodeUtf8(s, size, i, &cp);
    if (len == 0) {
      add(0xFFFD, kSeparator, orig);
      ++i;
      continue;
    }
    i += len;
    const Page& page = GetPage(cp >> 8);
    const uint32_t e = page.entry[cp & 0xFF];
    const uint32_t count = e & 0xFF;
    if (count == 0) {
      add(0, kJoiner, orig);
      continue;
    }
    for (uint32_t k = 0; k < count; ++k) {
      const uint32_t item = page.pool[(e >> 8) + k];
      add(item & 0x1FFFFF, static_cast<uint8_t>(item >> 24), orig);
    }
  }
  close();

  // Pass 2: spelled-out words. Units of consecutive tokens are adjacent (no
  // separators are stored), so joining only widens the unit range.
  size_t w = 0;
  for (size_t r = 0; r < raw.size();) {
    size_t e = r + 1;
    if (raw[r].unit_end - raw[r].unit_begin == 1) {
      while (e < raw.size() && raw[e].unit_end - raw[e].unit_begin == 1 && raw[e].gap_before >= 1 &&
             raw[e].gap_before <= kMaxJoinGap) {
        ++e;
      }
      // A lone symbol ending the run is punctuation ("s e c r e t !").
      while (e > r + 1 && units[raw[e - 1].unit_begin].cls == kLeet) --e;
    }
    if (e - r >= kMinSpelledOut) {
      raw[w++] = {raw[r].unit_begin, raw[e - 1].unit_end, raw[r].gap_before};
    } else {
      for (size_t k = r; k < e; ++k) raw[w++] = raw[k];
    }
    r = e;
  }
  raw.resize(w);

  // Pass 3: leetspeak and the skeleton, per token.
  for (const NormalizedText::RawToken& t : raw) {
    const NormalizedText::Unit* u = units.data() + t.unit_begin;
    size_t first = 0, last = 0;
    bool numeric = false;
    const std::u32string kept = FinishToken(
        t.unit_end - t.unit_begin,
        [u](size_t i) {
          return std::pair{u[i].c, u[i].cls};
        },
        &first, &last, &numeric);
    if (kept.empty()) continue;
    Token token;
    token.text_begin = static_cast<uint32_t>(out->chars.size());
    for (char32_t c : kept) AppendUtf8(c, &out->chars);
    token.text_size = static_cast<uint32_t>(out->chars.size()) - token.text_begin;
    token.orig_begin = u[first].orig_begin;
    token.orig_end = u[last].orig_end;
    token.numeric = numeric;
    out->tokens.push_back(token);
  }
}

std::vector<std::string> NormalizeOracle(std::string_view utf8) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(err);
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
  const icu::UnicodeString original = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  icu::UnicodeString text;
  for (int32_t k = 0; k < original.length();) {
    const UChar32 c = original.char32At(k);
    k += U16_LENGTH(c);
    text.append(static_cast<UChar32>(MapConfusable(static_cast<char32_t>(c))));
  }
  const icu::UnicodeString decomposed = nfd->normalize(nfkc_cf->normalize(text, err), err);

  // The whole text as (character, class), marks and joiners gone.
  std::u32string chars;
  std::basic_string<uint8_t> classes;
  for (int32_t k = 0; k < decomposed.length();) {
    const UChar32 c = decomposed.char32At(k);
    k += U16_LENGTH(c);
    if (IsDroppedMark(c)) continue;
    const char32_t m = MapConfusable(static_cast<char32_t>(c));
    char32_t kept = m;
    uint8_t cls;
    if (IsApostrophe(m)) {
      cls = kJoiner;
    } else if (u_charType(static_cast<UChar32>(m)) == U_DECIMAL_DIGIT_NUMBER) {
      cls = kDigit;
      kept = U'0' + static_cast<char32_t>(u_charDigitValue(static_cast<UChar32>(m)));
    } else if (m == U'@' || m == U'$' || m == U'!' || m == U'|') {
      cls = kLeet;
    } else if (m == U'\n' || m == U'\r' || m == U'\v' || m == U'\f' || m == 0x85 || m == 0x2028 ||
               m == 0x2029) {
      cls = kNewline;
    } else if (u_hasBinaryProperty(static_cast<UChar32>(m), UCHAR_ALPHABETIC)) {
      cls = kLetter;
      if (m >= U'A' && m <= U'Z') kept = m - U'A' + U'a';
    } else {
      cls = kSeparator;
    }
    if (cls == kJoiner) continue;
    chars.push_back(kept);
    classes.push_back(cls);
  }

  // Words and the separators before each.
  struct Word {
    std::u32string c;
    std::basic_string<uint8_t> cls;
    uint32_t gap;
  };
  std::vector<Word> words;
  uint32_t gap = kNoJoin;
  for (size_t i = 0; i < chars.size();) {
    if (classes[i] == kNewline) {
      gap = kNoJoin;
      ++i;
    } else if (classes[i] == kSeparator) {
      if (gap != kNoJoin) ++gap;
      ++i;
    } else {
      Word word{{}, {}, gap};
      while (i < chars.size() && classes[i] != kSeparator && classes[i] != kNewline) {
        word.c.push_back(chars[i]);
        word.cls.push_back(classes[i]);
        ++i;
      }
      words.push_back(std::move(word));
      gap = 0;
    }
  }

  std::vector<std::string> result;
  auto finish = [&](const Word& word) {
    size_t first = 0, last = 0;
    bool numeric = false;
    const std::u32string kept = FinishToken(
        word.c.size(),
        [&word](size_t i) {
          return std::pair{word.c[i], word.cls[i]};
        },
        &first, &last, &numeric);
    if (kept.empty()) return;
    std::string s;
    for (char32_t c : kept) AppendUtf8(c, &s);
    result.push_back(std::move(s));
  };
  for (size_t r = 0; r < words.size();) {
    size_t e = r + 1;
    if (words[r].c.size() == 1) {
      while (e < words.size() && words[e].c.size() == 1 && words[e].gap >= 1 &&
             words[e].gap <= kMaxJoinGap) {
        ++e;
      }
      while (e > r + 1 && words[e - 1].cls[0] == kLeet) --e;
    }
    if (e - r >= kMinSpelledOut) {
      Word joined{{}, {}, words[r].gap};
      for (size_t k = r; k < e; ++k) {
        joined.c += words[k].c;
        joined.cls += words[k].cls;
      }
      finish(joined);
    } else {
      for (size_t k = r; k < e; ++k) finish(words[k]);
    }
    r = e;
  }
  return result;
}

}  // namespace safeguard::text
