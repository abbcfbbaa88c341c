// Phrase matching over normalised tokens: a token trie walked from every
// token, with `*` (any one token) and `#` (any number) edges. Alternatives
// and optional parts of patterns are expanded before compiling, so the trie
// has no other kind of edge. Patterns are short (at most a few tokens) and
// almost every token of ordinary chat is not a pattern word, so most walks
// stop at the first token after one hash lookup.
//
// Beside it, FindOracle: every pattern compared at every position, the
// simple and obviously right version the property tests hold it to.
//
// Thread safety: a Matcher is immutable after construction; Find is const
// and uses only the caller's scratch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "normalizer.h"

namespace safeguard::text {

// Token text -> id (1-based; 0 means "no pattern uses this token").
// Open addressing over a string pool: one hash and usually one comparison.
class Vocabulary {
 public:
  // The id of `token`, adding it if new.
  uint32_t Add(std::string_view token);
  // The id of `token`, or 0.
  uint32_t Find(std::string_view token) const;
  size_t size() const { return offsets_.size(); }
  std::string_view Text(uint32_t id) const;

 private:
  void Grow();

  std::string pool_;
  std::vector<std::pair<uint32_t, uint32_t>> offsets_;  // (offset, size) per id - 1
  std::vector<uint32_t> slots_;                         // id or 0
  std::vector<uint32_t> slot_hash_;                     // low bits of the hash, per slot
};

enum class ElemKind : uint8_t { kWord, kAny, kNumber };

struct PatternElem {
  ElemKind kind = ElemKind::kWord;
  uint32_t word = 0;  // vocabulary id, for kWord

  friend bool operator==(const PatternElem&, const PatternElem&) = default;
};

// One expanded pattern. REQUIRES: non-empty, first and last not kAny.
struct CompiledPattern {
  uint32_t indicator = 0;
  std::vector<PatternElem> elems;
};

// tokens [first, last] of a text match a pattern of `indicator`.
struct Match {
  uint32_t indicator = 0;
  uint32_t first = 0;
  uint32_t last = 0;

  friend bool operator==(const Match&, const Match&) = default;
  friend bool operator<(const Match& a, const Match& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.last != b.last) return a.last < b.last;
    return a.indicator < b.indicator;
  }
};

// Reused between calls so that matching does not allocate.
struct MatchScratch {
  std::vector<uint32_t> ids;
  std::vector<uint32_t> frontier;
  std::vector<uint32_t> next;
};

class Matcher {
 public:
  Matcher(Vocabulary vocabulary, std::vector<CompiledPattern> patterns);

  // Replaces *out with the matches in `text`, sorted (by first token, last
  // token, indicator) and without duplicates.
  void Find(const NormalizedText& text, std::vector<Match>* out, MatchScratch* scratch) const;

  const Vocabulary& vocabulary() const { return vocabulary_; }
  const std::vector<CompiledPattern>& patterns() const { return patterns_; }
  size_t node_count() const { return nodes_.size(); }

 private:
  struct Node {
    uint32_t any_child = 0;  // 0: none (the root is never a child)
    uint32_t number_child = 0;
    uint32_t out_begin = 0;  // indicators ending here: outputs_[out_begin, out_end)
    uint32_t out_end = 0;
  };
  uint32_t Child(uint32_t node, uint32_t word) const;

  Vocabulary vocabulary_;
  std::vector<CompiledPattern> patterns_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> outputs_;
  size_t max_length_ = 0;
  // Word edges: open addressing on (node << 32 | word) -> child.
  std::vector<uint64_t> edge_keys_;
  std::vector<uint32_t> edge_children_;  // 0 = empty slot
  uint64_t edge_mask_ = 0;
};

// The oracle: same contract as Matcher::Find, by brute force.
void FindOracle(const Vocabulary& vocabulary, const std::vector<CompiledPattern>& patterns,
                const NormalizedText& text, std::vector<Match>* out);

}  // namespace safeguard::text
