#include "matcher.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace safeguard::text {
namespace {

// FNV-1a: tokens are short, so a simple byte loop is as fast as anything.
uint64_t HashToken(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t MixEdge(uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  return key;
}

}  // namespace

std::string_view Vocabulary::Text(uint32_t id) const {
  const auto [offset, size] = offsets_[id - 1];
  return std::string_view(pool_).substr(offset, size);
}

uint32_t Vocabulary::Find(std::string_view token) const {
  if (slots_.empty()) return 0;
  const uint64_t h = HashToken(token);
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint32_t id = slots_[i];
    if (id == 0) return 0;
    if (slot_hash_[i] == tag && Text(id) == token) return id;
  }
}

void Vocabulary::Grow() {
  const size_t capacity = std::max<size_t>(16, slots_.size() * 2);
  slots_.assign(capacity, 0);
  slot_hash_.assign(capacity, 0);
  for (uint32_t id = 1; id <= offsets_.size(); ++id) {
    const uint64_t h = HashToken(Text(id));
    size_t i = h & (capacity - 1);
    while (slots_[i] != 0) i = (i + 1) & (capacity - 1);
    slots_[i] = id;
    slot_hash_[i] = static_cast<uint32_t>(h >> 32);
  }
}

uint32_t Vocabulary::Add(std::string_view token) {
  if (const uint32_t id = Find(token); id != 0) return id;
  if ((offsets_.size() + 1) * 2 > slots_.size()) Grow();
  offsets_.emplace_back(static_cast<uint32_t>(pool_.size()), static_cast<uint32_t>(token.size()));
  pool_.append(token);
  const uint32_t id = static_cast<uint32_t>(offsets_.size());
  const uint64_t h = HashToken(token);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = id;
  slot_hash_[i] = static_cast<uint32_t>(h >> 32);
  return id;
}

Matcher::Matcher(Vocabulary vocabulary, std::vector<CompiledPattern> patterns)
    : vocabulary_(std::move(vocabulary)), patterns_(std::move(patterns)) {
  nodes_.emplace_back();
  std::vector<std::vector<uint32_t>> outs(1);
  std::unordered_map<uint64_t, uint32_t> edges;
  auto new_node = [&]() {
    nodes_.emplace_back();
    outs.emplace_back();
    return static_cast<uint32_t>(nodes_.size() - 1);
  };
  for (const CompiledPattern& p : patterns_) {
    uint32_t node = 0;
    for (const PatternElem& e : p.elems) {
      switch (e.kind) {
        case ElemKind::kWord: {
          const uint64_t key = (static_cast<uint64_t>(node) << 32) | e.word;
          auto it = edges.find(key);
          if (it == edges.end()) it = edges.emplace(key, new_node()).first;
          node = it->second;
          break;
        }
        case ElemKind::kAny:
          if (nodes_[node].any_child == 0) {
            const uint32_t child = new_node();
            nodes_[node].any_child = child;
          }
          node = nodes_[node].any_child;
          break;
        case ElemKind::kNumber:
          if (nodes_[node].number_child == 0) {
            const uint32_t child = new_node();
            nodes_[node].number_child = child;
          }
          node = nodes_[node].number_child;
          break;
      }
    }
    outs[node].push_back(p.indicator);
    max_length_ = std::max(max_length_, p.elems.size());
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    std::vector<uint32_t>& o = outs[n];
    std::sort(o.begin(), o.end());
    o.erase(std::unique(o.begin(), o.end()), o.end());
    nodes_[n].out_begin = static_cast<uint32_t>(outputs_.size());
    outputs_.insert(outputs_.end(), o.begin(), o.end());
    nodes_[n].out_end = static_cast<uint32_t>(outputs_.size());
  }
  size_t capacity = 16;
  while (capacity < edges.size() * 2) capacity *= 2;
  edge_keys_.assign(capacity, 0);
  edge_children_.assign(capacity, 0);
  edge_mask_ = capacity - 1;
  for (const auto& [key, child] : edges) {
    size_t i = MixEdge(key) & edge_mask_;
    while (edge_children_[i] != 0) i = (i + 1) & edge_mask_;
    edge_keys_[i] = key;
    edge_children_[i] = child;
  }
}

uint32_t Matcher::Child(uint32_t node, uint32_t word) const {
  const uint64_t key = (static_cast<uint64_t>(node) << 32) | word;
  for (size_t i = MixEdge(key) & edge_mask_;; i = (i + 1) & edge_mask_) {
    const uint32_t child = edge_children_[i];
    if (child == 0) return 0;
    if (edge_keys_[i] == key) return child;
  }
}

void Matcher::Find(const NormalizedText& text, std::vector<Match>* out,
                   MatchScratch* scratch) const {
  out->clear();
  const size_t n = text.tokens.size();
  std::vector<uint32_t>& ids = scratch->ids;
  ids.resize(n);
  const bool root_number = nodes_[0].number_child != 0;
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    ids[i] = vocabulary_.Find(text.TokenText(i));
    any = any || ids[i] != 0 || (root_number && text.tokens[i].numeric);
  }
  if (!any) return;
  std::vector<uint32_t>& frontier = scratch->frontier;
  std::vector<uint32_t>& next = scratch->next;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] == 0 && !(root_number && text.tokens[i].numeric)) continue;
    frontier.assign(1, 0);
    const size_t end = std::min(n, i + max_length_);
    for (size_t j = i; j < end && !frontier.empty(); ++j) {
      next.clear();
      for (const uint32_t node : frontier) {
        const Node& nd = nodes_[node];
        if (ids[j] != 0) {
          if (const uint32_t c = Child(node, ids[j]); c != 0) next.push_back(c);
        }
        if (nd.number_child != 0 && text.tokens[j].numeric) next.push_back(nd.number_child);
        if (nd.any_child != 0) next.push_back(nd.any_child);
      }
      for (const uint32_t node : next) {
        for (uint32_t k = nodes_[node].out_begin; k < nodes_[node].out_end; ++k) {
          out->push_back({outputs_[k], static_cast<uint32_t>(i), static_cast<uint32_t>(j)});
        }
      }
      std::swap(frontier, next);
    }
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

void FindOracle(const Vocabulary& vocabulary, const std::vector<CompiledPattern>& patterns,
                const NormalizedText& text, std::vector<Match>* out) {
  out->clear();
  const size_t n = text.tokens.size();
  for (size_t i = 0; i < n; ++i) {
    for (const CompiledPattern& p : patterns) {
      if (i + p.elems.size() > n) continue;
      bool ok = true;
      for (size_t k = 0; k < p.elems.size() && ok; ++k) {
        const PatternElem& e = p.elems[k];
        if (e.kind == ElemKind::kWord) {
          ok = vocabulary.Find(text.TokenText(i + k)) == e.word;
        } else if (e.kind == ElemKind::kNumber) {
          ok = text.tokens[i + k].numeric;
        }
      }
      if (ok) {
        out->push_back(
            {p.indicator, static_cast<uint32_t>(i), static_cast<uint32_t>(i + p.elems.size() - 1)});
      }
    }
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

}  // namespace safeguard::text
