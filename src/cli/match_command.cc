#include "match_command.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "hash_command.h"

namespace safeguard::cli {
namespace {

using Json = nlohmann::ordered_json;

// Longest line of a --hashes file.
constexpr size_t kMaxHashLineBytes = 1024;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json LabelsJson(const Labels& labels) {
  Json j = Json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

Json HitsJson(const std::vector<BankHit>& hits, bool dihedral) {
  Json a = Json::array();
  for (const BankHit& h : hits) {
    Json j;
    j["bank"] = h.bank;
    j["entry"] = h.entry_id;
    j["signal"] = std::string(SignalTypeName(h.signal));
    j["distance"] = h.distance;
    if (dihedral && h.signal == SignalType::kPdq) j["variant"] = h.variant;
    for (const auto& [name, score] : HitScores(h)) j[name] = score;
    j["labels"] = LabelsJson(h.bank_labels);
    j["entry_labels"] = LabelsJson(h.entry_labels);
    a.push_back(std::move(j));
  }
  return a;
}

void Merge(MatchResult from, MatchResult* into) {
  for (BankHit& h : from.matches) into->matches.push_back(std::move(h));
  for (BankHit& h : from.allow) into->allow.push_back(std::move(h));
}

bool Nearest(const BankHit& a, const BankHit& b) {
  if (a.distance != b.distance) return a.distance < b.distance;
  return a.entry_id < b.entry_id;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

int Fail(std::ostream& err, const Status& s) {
  err << "safeguard: " << s.ToString() << "\n";
  return 2;
}

}  // namespace

std::string FileMatchJson(const std::string& path, const Result<FileSignals>& signals,
                          const BankMatcher& matcher, bool dihedral) {
  Json j;
  j["path"] = path;
  if (!signals.ok()) {
    j["error"] = signals.status().message();
    j["error_code"] = std::string(ErrorCodeName(signals.status().code()));
    return Dump(j);
  }
  const FileSignals& s = *signals;
  j["type"] = s.is_image ? "image" : s.is_video ? "video" : "file";
  MatchResult all;
  auto error = [&](const Status& why) {
    j["error"] = why.message();
    j["error_code"] = std::string(ErrorCodeName(why.code()));
  };
  if (s.is_video && s.video_status.ok()) {
    j["vpdq_frames"] = s.vpdq.size();
    Result<MatchResult> r = matcher.MatchVpdq(s.vpdq);
    if (!r.ok()) {
      error(r.status());
    } else {
      Merge(std::move(*r), &all);
    }
    if (s.tmk) {
      j["tmk_frames"] = s.tmk->frame_count;
      Result<MatchResult> tmk = matcher.MatchTmk(*s.tmk);
      if (!tmk.ok()) {
        error(tmk.status());
      } else {
        Merge(std::move(*tmk), &all);
      }
    }
  } else if (s.is_video) {
    error(s.video_status);
  }
  if (s.is_image && s.image_status.ok()) {
    j["pdq"] = s.pdq.hash.ToHex();
    j["pdq_quality"] = s.pdq.quality;
    std::span<const Hash256> queries(&s.pdq.hash, 1);
    if (dihedral && s.pdq.has_dihedral) queries = s.pdq.dihedral;
    Result<MatchResult> r = matcher.MatchPdq(queries, s.pdq.quality);
    if (!r.ok()) {
      error(r.status());
    } else {
      Merge(std::move(*r), &all);
    }
  } else if (s.is_image) {
    error(s.image_status);
  }
  Merge(matcher.MatchDigest(SignalType::kMd5, s.digests.md5), &all);
  Merge(matcher.MatchDigest(SignalType::kSha1, s.digests.sha1), &all);
  Merge(matcher.MatchDigest(SignalType::kSha256, s.digests.sha256), &all);
  std::stable_sort(all.matches.begin(), all.matches.end(), Nearest);
  std::stable_sort(all.allow.begin(), all.allow.end(), Nearest);
  j["matches"] = HitsJson(all.matches, dihedral);
  j["allow"] = HitsJson(all.allow, dihedral);
  return Dump(j);
}

MatchCommand::MatchCommand(CLI::App* app, const std::string* store_url) : store_url_(store_url) {
  match_ = app->add_subcommand(
      "match", "Match files, or PDQ hashes (--hashes), against every enabled bank.");
  match_->add_option("paths", paths_, "Files and folders (folders are walked recursively)");
  match_->add_option("--hashes", hashes_, "PDQ hashes, one per line ('-' for standard input)");
  match_->add_flag("--dihedral", dihedral_,
                   "Also match the eight rotations and flips of each image's PDQ hash");
  match_->add_option("-j,--jobs", jobs_, "Files hashed at once (0: one per core)")
      ->check(CLI::NonNegativeNumber);
}

int MatchCommand::Run(std::istream& in, std::ostream& out, std::ostream& err) {
  if (paths_.empty() == hashes_.empty()) {
    return Fail(err, Status::InvalidArgument("give PATH... or --hashes FILE (one of them)"));
  }
  // Matching only reads: a missing store is an error, not a new empty one.
  Result<std::unique_ptr<Store>> store = OpenExistingStore(*store_url_);
  if (!store.ok()) return Fail(err, store.status());
  Result<BankMatcher> matcher = BankMatcher::Build(**store);
  if (!matcher.ok()) return Fail(err, matcher.status());
  int rc = 0;
  if (!hashes_.empty()) {
    std::ifstream file;
    std::istream* input = &in;
    if (hashes_ != "-") {
      file.open(hashes_, std::ios::binary);
      if (!file) return Fail(err, Status::NotFound(hashes_ + ": cannot open"));
      input = &file;
    }
    std::string line;
    int64_t number = 0;
    while (std::getline(*input, line)) {
      ++number;
      std::string_view text = Trim(line);
      if (text.empty() || text.front() == '#') continue;
      Json j;
      Result<Hash256> hash = text.size() <= kMaxHashLineBytes
                                 ? Hash256::FromHex(text)
                                 : Result<Hash256>(Status::LimitExceeded("line too long"));
      Result<MatchResult> r =
          hash.ok() ? matcher->MatchPdq(std::span(&*hash, 1)) : Result<MatchResult>(hash.status());
      if (!r.ok()) {
        j["line"] = number;
        j["error"] = r.status().message();
        j["error_code"] = std::string(ErrorCodeName(r.status().code()));
        rc = 1;
      } else {
        j["pdq"] = hash->ToHex();
        j["matches"] = HitsJson(r->matches, false);
        j["allow"] = HitsJson(r->allow, false);
      }
      out << Dump(j) << "\n";
    }
    if (input->bad()) return Fail(err, Status::IoError(hashes_ + ": read error"));
    return rc;
  }
  SignalOptions options;
  options.dihedral = dihedral_;
  const std::vector<std::string> files = ExpandPaths(paths_);
  // Hashing dominates; BankMatcher's Match* may run on many threads at once.
  return PrintInOrder(
      files.size(), jobs_,
      [&](size_t i) {
        Result<FileSignals> signals = ComputeFileSignals(files[i], options);
        return OrderedLine{FileMatchJson(files[i], signals, *matcher, dihedral_),
                           !signals.ok() || !signals->complete()};
      },
      out);
}

}  // namespace safeguard::cli
