#include "pattern.h"

#include <cctype>

namespace safeguard::text {
namespace {

// Deeper nesting than this is refused rather than recursed into.
constexpr int kMaxNesting = 16;

bool IsSpecial(char c) { return c == '(' || c == ')' || c == '[' || c == ']' || c == '|'; }
bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

class Parser {
 public:
  Parser(std::string_view s, size_t max_expansions) : s_(s), max_(max_expansions) {}

  Result<std::vector<PatternExpansion>> Run() {
    std::vector<PatternExpansion> all;
    if (Status st = Sequence(0, &all); !st.ok()) return st;
    if (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '|') return Error("'|' outside parentheses");
      return Error(std::string("unexpected '") + c + "'");
    }
    return all;
  }

 private:
  Status Error(const std::string& what) const { return ErrorAt(what, pos_); }
  Status ErrorAt(const std::string& what, size_t pos) const {
    return Status::InvalidArgument(what + " at column " + std::to_string(pos + 1));
  }

  void SkipSpace() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }

  // acc := every a + b for a in acc, b in item.
  Status Product(std::vector<PatternExpansion>* acc, const std::vector<PatternExpansion>& item) {
    if (acc->size() * item.size() > max_) {
      return Status::LimitExceeded("more than " + std::to_string(max_) +
                                   " expansions (max_expansions_per_pattern)");
    }
    std::vector<PatternExpansion> out;
    out.reserve(acc->size() * item.size());
    for (const PatternExpansion& a : *acc) {
      for (const PatternExpansion& b : item) {
        PatternExpansion e = a;
        e.insert(e.end(), b.begin(), b.end());
        out.push_back(std::move(e));
      }
    }
    *acc = std::move(out);
    return Status::Ok();
  }

  // Items up to ')' ']' '|' or the end.
  Status Sequence(int depth, std::vector<PatternExpansion>* out) {
    if (depth > kMaxNesting) {
      return Error("nested more than " + std::to_string(kMaxNesting) + " deep");
    }
    std::vector<PatternExpansion> acc(1);
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size()) break;
      const char c = s_[pos_];
      if (c == ')' || c == ']' || c == '|') break;
      std::vector<PatternExpansion> item;
      if (c == '(') {
        const size_t open = pos_++;
        while (true) {
          std::vector<PatternExpansion> alt;
          const size_t alt_start = pos_;
          if (Status st = Sequence(depth + 1, &alt); !st.ok()) return st;
          if (alt.size() == 1 && alt[0].empty()) return ErrorAt("empty alternative", alt_start);
          item.insert(item.end(), alt.begin(), alt.end());
          if (item.size() > max_) {
            return Status::LimitExceeded("more than " + std::to_string(max_) +
                                         " expansions (max_expansions_per_pattern)");
          }
          if (pos_ < s_.size() && s_[pos_] == '|') {
            ++pos_;
            continue;
          }
          break;
        }
        if (pos_ >= s_.size() || s_[pos_] != ')') return ErrorAt("unbalanced '('", open);
        ++pos_;
      } else if (c == '[') {
        const size_t open = pos_++;
        if (Status st = Sequence(depth + 1, &item); !st.ok()) return st;
        if (pos_ >= s_.size() || s_[pos_] != ']') return ErrorAt("unbalanced '['", open);
        if (item.size() == 1 && item[0].empty()) return ErrorAt("empty optional part", open);
        ++pos_;
        item.emplace_back();  // the part left out
      } else {
        const size_t start = pos_;
        while (pos_ < s_.size() && !IsSpace(s_[pos_]) && !IsSpecial(s_[pos_])) ++pos_;
        const std::string_view word = s_.substr(start, pos_ - start);
        PatternPiece piece;
        if (word == "*") {
          piece.kind = PatternPiece::kAny;
        } else if (word == "#") {
          piece.kind = PatternPiece::kNumber;
        } else if (word.find_first_of("*#") != std::string_view::npos) {
          return ErrorAt("'*' and '#' must stand alone (write alternatives: (secret|secrets))",
                         start);
        } else {
          piece.word = std::string(word);
        }
        item.push_back({piece});
      }
      if (Status st = Product(&acc, item); !st.ok()) return st;
    }
    *out = std::move(acc);
    return Status::Ok();
  }

  std::string_view s_;
  size_t max_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<PatternExpansion>> ExpandPattern(std::string_view pattern,
                                                    size_t max_expansions) {
  return Parser(pattern, max_expansions).Run();
}

Result<std::vector<PatternElem>> CompilePattern(const PatternExpansion& expansion,
                                                size_t max_tokens, Vocabulary* vocabulary,
                                                NormalizedText* scratch) {
  std::vector<PatternElem> elems;
  std::string run;
  auto flush = [&] {
    if (run.empty()) return;
    Normalize(run, scratch);
    for (size_t i = 0; i < scratch->tokens.size(); ++i) {
      elems.push_back({ElemKind::kWord, vocabulary->Add(scratch->TokenText(i))});
    }
    run.clear();
  };
  for (const PatternPiece& piece : expansion) {
    switch (piece.kind) {
      case PatternPiece::kWord:
        if (!run.empty()) run.push_back(' ');
        run += piece.word;
        break;
      case PatternPiece::kAny:
        flush();
        elems.push_back({ElemKind::kAny, 0});
        break;
      case PatternPiece::kNumber:
        flush();
        elems.push_back({ElemKind::kNumber, 0});
        break;
    }
  }
  flush();
  if (elems.empty()) return Status::InvalidArgument("nothing to match (no letters or digits)");
  if (elems.front().kind == ElemKind::kAny || elems.back().kind == ElemKind::kAny) {
    return Status::InvalidArgument("'*' cannot start or end a pattern");
  }
  if (elems.size() > max_tokens) {
    return Status::InvalidArgument(std::to_string(elems.size()) + " tokens, more than " +
                                   std::to_string(max_tokens) + " (max_pattern_tokens)");
  }
  return elems;
}

}  // namespace safeguard::text
