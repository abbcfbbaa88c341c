// Normalisation: each obfuscation it undoes, offsets back into the original
// text, and the fast path against the ICU whole-string oracle.

#include "normalizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

namespace safeguard::text {
namespace {

struct Tok {
  std::string text;
  uint32_t begin;
  uint32_t end;
  friend bool operator==(const Tok&, const Tok&) = default;
};

void PrintTo(const Tok& t, std::ostream* os) {
  *os << "\"" << t.text << "\" [" << t.begin << "," << t.end << ")";
}

std::vector<Tok> Tokens(std::string_view s) {
  NormalizedText n;
  Normalize(s, &n);
  std::vector<Tok> out;
  for (size_t i = 0; i < n.tokens.size(); ++i) {
    out.push_back({std::string(n.TokenText(i)), n.tokens[i].orig_begin, n.tokens[i].orig_end});
  }
  return out;
}

std::vector<std::string> Texts(std::string_view s) {
  std::vector<std::string> out;
  for (const Tok& t : Tokens(s)) out.push_back(t.text);
  return out;
}

using V = std::vector<std::string>;

// Byte offset of each code point, plus the end.
std::vector<size_t> CodePointOffsets(std::string_view s) {
  std::vector<size_t> offs;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offs.push_back(i);
  }
  offs.push_back(s.size());
  return offs;
}

TEST(Normalizer, PlainAsciiWordsAndTheSkeleton) {
  EXPECT_EQ(Tokens("How old are you?"),
            (std::vector<Tok>{{"how", 0, 3}, {"oid", 4, 7}, {"are", 8, 11}, {"you", 12, 15}}));
  EXPECT_EQ(Texts("hello   WORLD"), (V{"heio", "worid"}));  // l -> i, runs collapse
  EXPECT_EQ(Texts(""), V{});
  EXPECT_EQ(Texts("  ... !!! ??? "), V{});
}

TEST(Normalizer, CaseAndNfkc) {
  EXPECT_EQ(Texts("SeCrEt"), V{"secret"});
  EXPECT_EQ(Tokens("ＳＥＣＲＥＴ"), (std::vector<Tok>{{"secret", 0, 6}}));             // fullwidth
  EXPECT_EQ(Tokens("𝐬𝐞𝐜𝐫𝐞𝐭 ok"), (std::vector<Tok>{{"secret", 0, 6}, {"ok", 7, 9}}));  // math bold
  EXPECT_EQ(Texts("ⓢⓔⓒⓡⓔⓣ"), V{"secret"});                                             // circled
  EXPECT_EQ(Texts("Straße"), V{"strase"});  // case folding: ss, then runs collapse
  EXPECT_EQ(Texts("ﬁnd"), V{"find"});       // ligature
}

TEST(Normalizer, ConfusablesAndDiacritics) {
  // Cyrillic es, ie, and dze among Latin letters.
  EXPECT_EQ(Texts("\u0455\u0435\u0441r\u0435t"), V{"secret"});
  // Uppercase Cyrillic and Greek by their uppercase shapes.
  EXPECT_EQ(Texts("\u0421\u0415\u0421R\u0415\u0422"), V{"cecret"});
  EXPECT_EQ(Texts("\u039D\u039F"), V{"no"});
  EXPECT_EQ(Texts("\u03BD"), V{"v"});  // small nu looks like v
  EXPECT_EQ(Texts("s\u00E9cr\u00E8t"), V{"secret"});
  // Combining acute: the mark belongs to the token's span.
  EXPECT_EQ(Tokens("se\u0301cret"), (std::vector<Tok>{{"secret", 0, 7}}));
  EXPECT_EQ(Texts("\U0001F1F8\U0001F1EA\U0001F1E8"), V{"sec"});  // regional indicators
  EXPECT_EQ(Texts("\u1D0F\u1D0B"), V{"ok"});                     // small capitals
}

TEST(Normalizer, InvisibleCharactersAndApostrophes) {
  EXPECT_EQ(Tokens("sec\u200Bret"), (std::vector<Tok>{{"secret", 0, 7}}));  // zero-width space
  EXPECT_EQ(Texts("sec\u00ADret"), V{"secret"});                            // soft hyphen
  EXPECT_EQ(Tokens("don't tell"), (std::vector<Tok>{{"dont", 0, 5}, {"tei", 6, 10}}));
  EXPECT_EQ(Texts("don\u2019t"), V{"dont"});
  EXPECT_EQ(Texts("DON'T"), V{"dont"});
}

TEST(Normalizer, Leetspeak) {
  EXPECT_EQ(Texts("s3cr3t"), V{"secret"});
  EXPECT_EQ(Texts("$ecret"), V{"secret"});
  EXPECT_EQ(Texts("sn@p"), V{"snap"});
  EXPECT_EQ(Texts("ph0t0"), V{"photo"});
  EXPECT_EQ(Texts("h1"), V{"h1"});       // as many digits as letters: digits stay
  EXPECT_EQ(Texts("13yo"), V{"13yo"});   // an age, not leetspeak
  EXPECT_EQ(Texts("stop!"), V{"stop"});  // trailing symbols are punctuation
  EXPECT_EQ(Texts("hi!!!"), V{"hi"});
  EXPECT_EQ(Tokens("$100"), (std::vector<Tok>{{"100", 1, 4}}));
  NormalizedText n;
  Normalize("im 13 ok", &n);
  ASSERT_EQ(n.tokens.size(), 3u);
  EXPECT_FALSE(n.tokens[0].numeric);
  EXPECT_TRUE(n.tokens[1].numeric);
  EXPECT_EQ(n.TokenText(1), "13");
}

TEST(Normalizer, SpelledOutWords) {
  EXPECT_EQ(Tokens("a s e c r e t b"), (std::vector<Tok>{{"asecretb", 0, 15}}));
  EXPECT_EQ(Tokens("its s.e.c.r.e.t ok"),
            (std::vector<Tok>{{"its", 0, 3}, {"secret", 4, 15}, {"ok", 16, 18}}));
  EXPECT_EQ(Texts("s-e-c-r-e-t"), V{"secret"});
  EXPECT_EQ(Texts("s. e. c. r. e. t."), V{"secret"});
  EXPECT_EQ(Texts("s 3 c r 3 t"), V{"secret"});       // leetspeak after joining
  EXPECT_EQ(Texts("r u ok"), (V{"r", "u", "ok"}));    // two letters are not a word
  EXPECT_EQ(Texts("s . e . c"), (V{"s", "e", "c"}));  // gaps of three separators
  EXPECT_EQ(Texts("a\nb\nc"), (V{"a", "b", "c"}));    // lines do not join
}

TEST(Normalizer, RepeatedLetters) {
  EXPECT_EQ(Texts("sooooo"), V{"so"});
  EXPECT_EQ(Texts("meeeeeet"), V{"met"});
  EXPECT_EQ(Texts("SSSSecret"), V{"secret"});
  EXPECT_EQ(Texts("2000"), V{"2000"});  // numbers keep their digits
}

TEST(Normalizer, InvalidUtf8SeparatesAndCountsOneCharacterPerByte) {
  EXPECT_EQ(Tokens("ab\xFF"
                   "cd"),
            (std::vector<Tok>{{"ab", 0, 2}, {"cd", 3, 5}}));
  EXPECT_EQ(Tokens("\xC3"), std::vector<Tok>{});  // truncated sequence
  EXPECT_EQ(Tokens("a\xE0\x80\x80z"), (std::vector<Tok>{{"a", 0, 1}, {"z", 4, 5}}));  // overlong
  EXPECT_EQ(Tokens("\xED\xA0\x80x"), (std::vector<Tok>{{"x", 3, 4}}));                // surrogate
}

TEST(Normalizer, ReusesItsBuffers) {
  NormalizedText n;
  Normalize("one two three", &n);
  Normalize("four", &n);
  ASSERT_EQ(n.tokens.size(), 1u);
  EXPECT_EQ(n.TokenText(0), "four");
}

// Characters chosen to exercise every rule: ASCII, fullwidth, math letters,
// Cyrillic and Greek lookalikes in both cases, marks, invisible characters,
// apostrophes, leet symbols, digits of two scripts, separators, newlines.
const std::vector<std::string>& Alphabet() {
  static const std::vector<std::string> a = {
      "a",  "e",  "s", "t", "l", "i",      "o", "E", "S", "L", "1", "3",      "0",      "5",
      "9",  "@",  "$", "!", "|", " ",      " ", " ", ".", "-", ",", "'",      "\n",     "?",
      "ｓ", "Ｅ", "𝐭", "ⓔ", "ѕ", "е",      "С", "Α", "ν", "Ν", "é", "\u0301", "\u200B", "\u00AD",
      "’",  "ß",  "ﬁ", "٣", "²", "\u3000", "д", "ж", "ü", "Ö", "x"};
  return a;
}

std::string RandomText(std::mt19937& rng, size_t max_chars) {
  const auto& a = Alphabet();
  std::uniform_int_distribution<size_t> len(0, max_chars);
  std::uniform_int_distribution<size_t> pick(0, a.size() - 1);
  std::string s;
  const size_t n = len(rng);
  for (size_t i = 0; i < n; ++i) s += a[pick(rng)];
  return s;
}

TEST(Normalizer, MatchesTheIcuWholeStringOracleOnRandomText) {
  std::mt19937 rng(20240521);
  for (int iter = 0; iter < 3000; ++iter) {
    const std::string s = RandomText(rng, 24);
    ASSERT_EQ(Texts(s), NormalizeOracle(s)) << "text: \"" << s << "\"";
  }
  for (const char* s : {"Don't tell ＡＮＹＯＮＥ, s.e.c.r.e.t", "ѕесrеt", "s 3 c r 3 t",
                        "hi!!! $100 13yo", "𝐬𝐞𝐜𝐫𝐞𝐭"}) {
    EXPECT_EQ(Texts(s), NormalizeOracle(s)) << s;
  }
}

TEST(Normalizer, EveryTokenSpanNormalisesBackToItsToken) {
  // The offsets are right if the original characters they point at give the
  // same token when normalised alone.
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    const std::string s = RandomText(rng, 30);
    const std::vector<size_t> cp = CodePointOffsets(s);
    for (const Tok& t : Tokens(s)) {
      ASSERT_LT(t.begin, t.end);
      ASSERT_LT(t.end, cp.size());
      const std::string span = s.substr(cp[t.begin], cp[t.end] - cp[t.begin]);
      ASSERT_EQ(Texts(span), V{t.text}) << "text: \"" << s << "\" span: \"" << span << "\"";
    }
  }
}

TEST(Normalizer, ConcurrentFirstUseOfTablesIsSafe) {
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> results(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &results] {
      for (int i = 0; i < 50; ++i) results[t] = Texts("ΑΒΓ ѕесrеt ｓｅｃ 𝐬𝐞𝐜 ⓢ ﬁ ٣٤");
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 1; t < 4; ++t) EXPECT_EQ(results[t], results[0]);
}

TEST(Normalizer, ConfusablesTableIsSortedAndMapsToLatin) {
  EXPECT_EQ(MapConfusable(U'a'), U'a');
  EXPECT_EQ(MapConfusable(0x0430), U'a');
  EXPECT_EQ(MapConfusable(0x1F1E6), U'a');
  EXPECT_EQ(MapConfusable(0x1F1FF), U'z');
  EXPECT_EQ(MapConfusable(0x4E00), 0x4E00u);
}

}  // namespace
}  // namespace safeguard::text
