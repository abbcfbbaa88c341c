// The token trie against two oracles: every pattern at every position
// (FindOracle), and plain substring search over the normalised text.

#include "matcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pattern.h"

namespace safeguard::text {
namespace {

std::vector<Match> FindAll(const Matcher& m, std::string_view text) {
  NormalizedText n;
  Normalize(text, &n);
  std::vector<Match> out;
  MatchScratch scratch;
  m.Find(n, &out, &scratch);
  return out;
}

// Builds a matcher from pattern strings, one indicator per pattern.
Matcher Build(const std::vector<std::string>& patterns) {
  Vocabulary vocab;
  std::vector<CompiledPattern> compiled;
  NormalizedText scratch;
  for (size_t i = 0; i < patterns.size(); ++i) {
    Result<std::vector<PatternExpansion>> ex = ExpandPattern(patterns[i], 256);
    EXPECT_TRUE(ex.ok()) << ex.status().ToString();
    for (const PatternExpansion& e : *ex) {
      Result<std::vector<PatternElem>> elems = CompilePattern(e, 16, &vocab, &scratch);
      EXPECT_TRUE(elems.ok()) << elems.status().ToString();
      compiled.push_back({static_cast<uint32_t>(i), *elems});
    }
  }
  return Matcher(std::move(vocab), std::move(compiled));
}

// Word(i) trips GCC 12's -Wrestrict false positive at -O3.
std::string Word(int i) {
  std::string s = "w";
  s += std::to_string(i);
  return s;
}

TEST(Vocabulary, AddFindAndGrow) {
  Vocabulary v;
  EXPECT_EQ(v.Find("x"), 0u);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(v.Add(Word(i)));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(v.Find(Word(i)), ids[static_cast<size_t>(i)]);
    EXPECT_EQ(v.Add(Word(i)), ids[static_cast<size_t>(i)]);
  }
  EXPECT_EQ(v.size(), 1000u);
  EXPECT_EQ(v.Find(Word(1000)), 0u);
  EXPECT_EQ(v.Text(ids[5]), "w5");
}

TEST(Matcher, PhrasesWildcardsAndNumbers) {
  const Matcher m = Build({"dont tell anyone", "add me on (snap|kik)", "how old * you", "im #"});
  EXPECT_EQ(FindAll(m, "ok but DON'T tell anyone"), (std::vector<Match>{{0, 2, 4}}));
  EXPECT_EQ(FindAll(m, "add me on kik or add me on snap"),
            (std::vector<Match>{{1, 0, 3}, {1, 5, 8}}));
  EXPECT_EQ(FindAll(m, "how old are you, how old r you"),
            (std::vector<Match>{{2, 0, 3}, {2, 4, 7}}));
  EXPECT_EQ(FindAll(m, "im 13"), (std::vector<Match>{{3, 0, 1}}));
  EXPECT_EQ(FindAll(m, "im thirteen"), std::vector<Match>{});
  EXPECT_EQ(FindAll(m, "dont tell"), std::vector<Match>{});  // a prefix is not a match
  EXPECT_EQ(FindAll(m, ""), std::vector<Match>{});
}

TEST(Matcher, OverlappingPatternsOfOneIndicatorAreReportedPerSpan) {
  const Matcher m = Build({"(our secret|our little secret|secret)"});
  EXPECT_EQ(FindAll(m, "our little secret"), (std::vector<Match>{{0, 0, 2}, {0, 2, 2}}));
}

// Random patterns over a small vocabulary of skeleton words (no 'l', no
// doubled letters, two letters or more, so normalisation keeps them as is).
struct RandomCase {
  std::vector<std::string> words = {"ab", "cd", "ef", "gh", "ij", "km", "no", "pq", "rs", "tu"};

  std::string RandomPattern(std::mt19937& rng) {
    std::uniform_int_distribution<int> len(1, 4), kind(0, 9),
        pick(0, static_cast<int>(words.size()) - 1);
    const int n = len(rng);
    std::string p;
    for (int i = 0; i < n; ++i) {
      const int k = kind(rng);
      const bool edge = i == 0 || i == n - 1;
      std::string piece;
      if (k == 0 && !edge) {
        piece = "*";
      } else if (k == 1) {
        piece = "#";
      } else if (k == 2) {
        piece = "(" + words[static_cast<size_t>(pick(rng))] + "|" +
                words[static_cast<size_t>(pick(rng))] + ")";
      } else {
        piece = words[static_cast<size_t>(pick(rng))];
      }
      p += (i ? " " : "") + piece;
    }
    return p;
  }

  std::string RandomText(std::mt19937& rng) {
    std::uniform_int_distribution<int> len(0, 14), kind(0, 9),
        pick(0, static_cast<int>(words.size()) - 1);
    const int n = len(rng);
    std::string t;
    for (int i = 0; i < n; ++i) {
      const int k = kind(rng);
      std::string w = k == 0   ? "zz"
                      : k == 1 ? std::to_string(rng() % 100)
                               : words[static_cast<size_t>(pick(rng))];
      if (k == 2) {
        for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      t += (i ? (k == 3 ? ", " : " ") : "") + w;
    }
    return t;
  }
};

TEST(Matcher, AgreesWithTheBruteForceOracleOnRandomPatternsAndTexts) {
  std::mt19937 rng(12345);
  RandomCase rc;
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> patterns;
    const int count = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < count; ++i) patterns.push_back(rc.RandomPattern(rng));
    const Matcher m = Build(patterns);
    NormalizedText n;
    std::vector<Match> fast, slow;
    MatchScratch scratch;
    for (int t = 0; t < 50; ++t) {
      const std::string text = rc.RandomText(rng);
      Normalize(text, &n);
      m.Find(n, &fast, &scratch);
      FindOracle(m.vocabulary(), m.patterns(), n, &slow);
      ASSERT_EQ(fast, slow) << "text: " << text;
    }
  }
}

// Literal patterns only: every occurrence of " w1 w2 " in " t1 t2 ... ".
std::vector<Match> SubstringOracle(const std::vector<std::vector<std::string>>& patterns,
                                   const NormalizedText& n) {
  std::string padded = " ";
  for (size_t i = 0; i < n.tokens.size(); ++i) padded += std::string(n.TokenText(i)) + " ";
  std::vector<Match> out;
  for (size_t pi = 0; pi < patterns.size(); ++pi) {
    std::string needle = " ";
    for (const std::string& w : patterns[pi]) needle += w + " ";
    for (size_t pos = padded.find(needle); pos != std::string::npos;
         pos = padded.find(needle, pos + 1)) {
      const uint32_t first = static_cast<uint32_t>(
          std::count(padded.begin(), padded.begin() + static_cast<std::ptrdiff_t>(pos), ' '));
      out.push_back({static_cast<uint32_t>(pi), first,
                     first + static_cast<uint32_t>(patterns[pi].size()) - 1});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Matcher, AgreesWithSubstringSearchOverNormalisedText) {
  std::mt19937 rng(99);
  RandomCase rc;
  for (int round = 0; round < 100; ++round) {
    std::vector<std::vector<std::string>> literal;
    std::vector<std::string> patterns;
    const int count = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < count; ++i) {
      std::vector<std::string> words;
      const int len = 1 + static_cast<int>(rng() % 3);
      std::string p;
      for (int k = 0; k < len; ++k) {
        words.push_back(rc.words[rng() % rc.words.size()]);
        p += (k ? " " : "") + words.back();
      }
      literal.push_back(words);
      patterns.push_back(p);
    }
    const Matcher m = Build(patterns);
    NormalizedText n;
    std::vector<Match> fast;
    MatchScratch scratch;
    for (int t = 0; t < 50; ++t) {
      const std::string text = rc.RandomText(rng);
      Normalize(text, &n);
      m.Find(n, &fast, &scratch);
      ASSERT_EQ(fast, SubstringOracle(literal, n)) << "text: " << text;
    }
  }
}

TEST(Pattern, ExpandsAlternativesAndOptionalParts) {
  Result<std::vector<PatternExpansion>> ex = ExpandPattern("a (b|c d) [e]", 256);
  ASSERT_TRUE(ex.ok());
  std::set<std::string> seen;
  for (const PatternExpansion& e : *ex) {
    std::string s;
    for (const PatternPiece& p : e) s += (s.empty() ? "" : " ") + p.word;
    seen.insert(s);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"a b", "a b e", "a c d", "a c d e"}));
  Result<std::vector<PatternExpansion>> nested = ExpandPattern("((a|b) (c|d)|e)", 256);
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->size(), 5u);
}

TEST(Pattern, SyntaxErrorsNameTheColumn) {
  auto err = [](std::string_view p) { return ExpandPattern(p, 256).status(); };
  EXPECT_EQ(err("a (b c").message(), "unbalanced '(' at column 3");
  EXPECT_EQ(err("a [b").message(), "unbalanced '[' at column 3");
  EXPECT_EQ(err("a b)").message(), "unexpected ')' at column 4");
  EXPECT_EQ(err("a | b").message(), "'|' outside parentheses at column 3");
  EXPECT_EQ(err("(a||b)").message(), "empty alternative at column 4");
  EXPECT_EQ(err("[]").message(), "empty optional part at column 1");
  EXPECT_NE(err("secret*").message().find("must stand alone"), std::string::npos);
  EXPECT_EQ(err(std::string(40, '(') + "a" + std::string(40, ')')).code(),
            ErrorCode::kInvalidArgument);  // too deep
  EXPECT_EQ(err("(a|b) (a|b) (a|b) (a|b) (a|b) (a|b) (a|b) (a|b) (a|b)").code(),
            ErrorCode::kLimitExceeded);  // 512 > 256
}

TEST(Pattern, CompileRefusesEdgesAndEmptyPatterns) {
  Vocabulary vocab;
  NormalizedText scratch;
  auto compile = [&](std::string_view p) {
    Result<std::vector<PatternExpansion>> ex = ExpandPattern(p, 256);
    EXPECT_TRUE(ex.ok());
    return CompilePattern((*ex)[0], 4, &vocab, &scratch).status();
  };
  EXPECT_TRUE(compile("a * b").ok());
  EXPECT_TRUE(compile("# years").ok());
  EXPECT_EQ(compile("* b").message(), "'*' cannot start or end a pattern");
  EXPECT_EQ(compile("b *").message(), "'*' cannot start or end a pattern");
  EXPECT_EQ(compile("?? !!").message(), "nothing to match (no letters or digits)");
  EXPECT_NE(compile("ab cd ef gh ij").message().find("max_pattern_tokens"), std::string::npos);
}

}  // namespace
}  // namespace safeguard::text
