#include "safeguard/engine/engine.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "review_media.h"
#include "safeguard/bank/formats.h"
#include "safeguard/bank/matcher.h"
#include "safeguard/bank/signatures.h"
#include "safeguard/core/hash256.h"
#include "safeguard/core/utf8.h"
#include "safeguard/hash/file_signals.h"
#include "safeguard/policy/policy.h"
#include "safeguard/store/records.h"
#include "safeguard/store/store.h"
#include "safeguard/text/indicators.h"
#include "safeguard/text/json.h"
#include "safeguard/text/message.h"
#include "safeguard/text/risk_engine.h"
#include "webhook.h"

namespace safeguard {
namespace {

using nlohmann::json;

// The media type kept with a video's review item, from the demuxer's name
// (e.g. "mov,mp4,m4a,3gp,3g2,mj2").
std::string VideoMediaType(std::string_view container) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"mp4", "video/mp4"},      {"matroska", "video/x-matroska"},
      {"webm", "video/webm"},    {"avi", "video/x-msvideo"},
      {"flv", "video/x-flv"},    {"mpegts", "video/mp2t"},
      {"mpeg", "video/mpeg"},    {"ogg", "video/ogg"},
      {"asf", "video/x-ms-asf"}, {"ivf", "video/x-ivf"}};
  for (const auto& [name, type] : kTypes) {
    if (container.find(name) != std::string_view::npos) return std::string(type);
  }
  return "application/octet-stream";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return {};
  }
  return BytesToHex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

std::string Sha256Hex(std::string_view a, std::string_view b) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  return BytesToHex(digest, length);
}

// Key tokens: "sgk_<id>_<32 hex digits>". The id finds the stored record;
// the secret is checked against its salted hash.
constexpr std::string_view kTokenPrefix = "sgk_";

struct ParsedToken {
  int64_t id = 0;
  std::string_view secret;
};

std::optional<ParsedToken> ParseToken(std::string_view token) {
  if (token.size() > 128 || token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return std::nullopt;
  }
  token.remove_prefix(kTokenPrefix.size());
  const size_t sep = token.find('_');
  if (sep == std::string_view::npos || sep == 0 || sep > 18) return std::nullopt;
  ParsedToken t;
  for (char c : token.substr(0, sep)) {
    if (c < '0' || c > '9') return std::nullopt;
    t.id = t.id * 10 + (c - '0');
  }
  t.secret = token.substr(sep + 1);
  if (t.secret.size() != 32) return std::nullopt;
  return t;
}

json LabelsJson(const Labels& labels) {
  json j = json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

Status Invalid(std::string m) { return Status::InvalidArgument(std::move(m)); }

// Optional string field of a request object, bounded.
Result<std::string> OptionalString(const json& j, const char* key, size_t max_length) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Invalid(std::string("\"") + key + "\" must be a string");
  std::string v = it->get<std::string>();
  if (v.size() > max_length) {
    return Invalid(std::string("\"") + key + "\" is longer than " + std::to_string(max_length) +
                   " bytes");
  }
  return v;
}

Status CheckMeta(const ContentMeta& meta) {
  if (!IsUtf8(meta.content_id) || !IsUtf8(meta.uploader_id) || !IsUtf8(meta.surface)) {
    return Invalid("content_id, uploader_id and surface must be UTF-8 text");
  }
  if (meta.content_id.size() > 256) return Invalid("content_id is longer than 256 bytes");
  if (meta.uploader_id.size() > 256) return Invalid("uploader_id is longer than 256 bytes");
  if (meta.surface.size() > 64) return Invalid("surface is longer than 64 bytes");
  return Status::Ok();
}

// What one signal matched.
struct SignalMatches {
  MatchResult result;
  size_t signal_index = 0;
};

}  // namespace

Result<uint32_t> ParseScopes(std::string_view text) {
  uint32_t scopes = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view name = text.substr(start, end - start);
    if (name == "submit") {
      scopes |= kScopeSubmit;
    } else if (name == "review") {
      scopes |= kScopeReview;
    } else if (name == "admin") {
      scopes |= kScopeAdmin;
    } else {
      return Invalid("unknown scope \"" + std::string(name) + "\" (submit, review, admin)");
    }
    start = end + 1;
  }
  return scopes;
}

std::string ScopesToString(uint32_t scopes) {
  std::string out;
  auto add = [&](uint32_t bit, const char* name) {
    if ((scopes & bit) == 0) return;
    if (!out.empty()) out += ",";
    out += name;
  };
  add(kScopeSubmit, "submit");
  add(kScopeReview, "review");
  add(kScopeAdmin, "admin");
  return out;
}

struct Engine::Impl {
  ServiceConfig config;
  SignalOptions signal_options;

  std::mutex store_mu;  // the bank store: one thread at a time
  std::unique_ptr<Store> store;
  std::mutex records_mu;  // the records: one thread at a time
  std::unique_ptr<RecordStore> records;

  mutable std::shared_mutex matcher_mu;  // Match* shared, Refresh exclusive
  std::optional<BankMatcher> matcher;
  // A second connection to the bank store, from which the matcher reads the
  // TMK signatures that pass level 1 (it holds only their level-1 vectors).
  // Its own lock: a match holds matcher_mu, and Refresh takes store_mu then
  // matcher_mu, so the matcher must never wait for store_mu.
  std::mutex tmk_store_mu;
  std::unique_ptr<Store> tmk_store;

  std::mutex policy_mu;
  std::shared_ptr<const Policy> policy;

  // Conversation risk: one engine (one shard) with the built-in pattern
  // packs; its state holds ids and scores, never message text.
  std::shared_ptr<const text::IndicatorSet> indicators;
  std::mutex text_mu;
  std::unique_ptr<text::RiskEngine> risk;

  struct CachedKey {
    Principal who;
    std::string hash_hex;
    std::string salt_hex;
    int64_t checked_ms = 0;
  };
  std::shared_mutex keys_mu;
  std::unordered_map<int64_t, CachedKey> keys;

  std::mutex counters_mu;
  std::map<std::string, int64_t> matches_per_bank;

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread follower;
  std::thread deliverer;

  // Group commit: submissions wait here and one thread commits all that are
  // waiting in one transaction (one fsync for many). Each still gets its own
  // outcome, and none is answered before its transaction has committed.
  struct PendingSubmit {
    RecordStore::SubmitRequest request;
    std::promise<Result<SubmitOutcome>> done;
  };
  static constexpr size_t kMaxBatch = 64;
  std::mutex commit_mu;
  std::condition_variable commit_cv;
  std::deque<PendingSubmit*> pending;
  bool commit_stopping = false;
  std::thread committer;

  Result<SubmitOutcome> SubmitGrouped(RecordStore::SubmitRequest request) {
    PendingSubmit p{std::move(request), {}};
    std::future<Result<SubmitOutcome>> result = p.done.get_future();
    {
      std::lock_guard lock(commit_mu);
      if (commit_stopping) return Status::FailedPrecondition("the engine is shutting down");
      pending.push_back(&p);
    }
    commit_cv.notify_one();
    return result.get();
  }

  void CommitLoop() {
    std::unique_lock lock(commit_mu);
    for (;;) {
      commit_cv.wait(lock, [&] { return commit_stopping || !pending.empty(); });
      if (pending.empty()) return;  // stopping, and everything is answered
      std::vector<PendingSubmit*> batch;
      while (!pending.empty() && batch.size() < kMaxBatch) {
        batch.push_back(pending.front());
        pending.pop_front();
      }
      lock.unlock();
      std::vector<RecordStore::SubmitRequest> requests;
      requests.reserve(batch.size());
      for (PendingSubmit* p : batch) requests.push_back(std::move(p->request));
      Result<std::vector<Result<SubmitOutcome>>> outcomes = [&] {
        std::lock_guard records_lock(records_mu);
        return records->SubmitBatch(requests);
      }();
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!outcomes.ok()) {
          batch[i]->done.set_value(outcomes.status());
        } else if (i < outcomes->size()) {
          batch[i]->done.set_value((*outcomes)[i]);
        } else {
          batch[i]->done.set_value(Status::Internal("group commit lost a submission"));
        }
      }
      lock.lock();
    }
  }
  WebhookSender sender;

  std::shared_ptr<const Policy> LivePolicy() {
    std::lock_guard lock(policy_mu);
    return policy;
  }

  Status Refresh() {
    std::lock_guard store_lock(store_mu);
    {
      std::unique_lock lock(matcher_mu);
      if (Status s = matcher->Refresh(*store); !s.ok()) return s;
    }
    // A compaction rebuilds an index (seconds at 10^7 entries): lookups go on
    // meanwhile; store_mu keeps the next Refresh out.
    std::shared_lock lock(matcher_mu);
    return matcher->CompactGrownIndexes();
  }

  void CountMatches(const std::vector<BankHit>& hits) {
    if (hits.empty()) return;
    std::lock_guard lock(counters_mu);
    for (const BankHit& h : hits) ++matches_per_bank[h.bank];
  }

  // Matches a set of signals; facts for policy in the same order as the
  // JSON matches (block matches first, then allow hits).
  struct Matched {
    json matches = json::array();
    json allow = json::array();
    std::vector<MatchFact> facts;
  };

  static void AddHits(const std::vector<BankHit>& hits, std::optional<int> quality,
                      std::optional<size_t> signal_index, json* out,
                      std::vector<MatchFact>* facts) {
    for (const BankHit& h : hits) {
      json m = {{"bank", h.bank},
                {"bank_kind", BankKindName(h.kind)},
                {"entry", h.entry_id},
                {"signal", SignalTypeName(h.signal)},
                {"distance", h.distance},
                {"bank_labels", LabelsJson(h.bank_labels)},
                {"entry_labels", LabelsJson(h.entry_labels)}};
      if (h.signal == SignalType::kPdq) m["variant"] = h.variant;
      for (const auto& [name, score] : HitScores(h)) m[name] = score;
      if (signal_index) m["signal_index"] = *signal_index;
      out->push_back(std::move(m));
      MatchFact f;
      f.signal = h.signal;
      f.bank = h.bank;
      f.bank_kind = h.kind;
      f.bank_labels = h.bank_labels;
      f.entry_labels = h.entry_labels;
      f.entry_id = h.entry_id;
      f.distance = h.distance;
      f.quality = h.signal == SignalType::kPdq ? quality.value_or(-1) : -1;
      facts->push_back(std::move(f));
    }
  }

  // Runs policy and shapes the common part of an answer.
  struct Decided {
    Decision decision;
    json explanation;
    PolicyInput input;
  };
  Decided Decide(std::string content_kind, std::string surface, std::vector<MatchFact> facts,
                 std::optional<double> text_risk = std::nullopt) {
    std::shared_ptr<const Policy> p = LivePolicy();
    Decided d;
    d.input.content_kind = std::move(content_kind);
    d.input.surface = std::move(surface);
    d.input.matches = std::move(facts);
    d.input.text_risk = text_risk;
    d.decision = Evaluate(*p, d.input);
    d.decision.policy_version = p->version;
    d.explanation = DecisionToJson(d.decision, d.input);
    return d;
  }

  std::vector<WebhookInput> Webhooks(const Decision& decision, const json& body) {
    std::vector<WebhookInput> out;
    if (decision.webhooks.empty()) return out;
    std::shared_ptr<const Policy> p = LivePolicy();
    for (const std::string& name : decision.webhooks) {
      auto it = p->webhooks.find(name);
      if (it == p->webhooks.end()) continue;
      out.push_back(WebhookInput{name, it->second,
                                 body.dump(-1, ' ', false, json::error_handler_t::replace)});
    }
    return out;
  }

  // Commits a decided submission. Fills the answer's submission/review ids.
  Status Commit(const Principal& who, const ContentMeta& meta, const std::string& content_kind,
                const json& signals, const Decided& d, const json& matches, const json& allow,
                std::string dedupe_key, std::string media_type, std::string_view media,
                json* answer) {
    SubmissionInput in;
    in.content_id = meta.content_id;
    in.uploader_id = meta.uploader_id;
    in.surface = meta.surface;
    in.content_kind = content_kind;
    in.content_time_ms = meta.content_time_ms;
    in.received_ms = NowMs();
    in.actor = who.name;
    in.signals_json = signals.dump(-1, ' ', false, json::error_handler_t::replace);
    in.matches_json = json{{"matches", matches}, {"allow", allow}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    in.decision_json = d.explanation.dump(-1, ' ', false, json::error_handler_t::replace);
    in.action = std::string(ActionName(d.decision.action));
    in.policy_version = d.decision.policy_version;
    std::optional<ReviewInput> review;
    if (d.decision.review_priority) {
      ReviewInput r;
      r.priority = *d.decision.review_priority;
      r.dedupe_key = std::move(dedupe_key);
      r.signals_json = signals.dump(-1, ' ', false, json::error_handler_t::replace);
      if (config.keep_review_media && !media.empty()) {
        r.media_type = std::move(media_type);
        r.media = std::string(media);
      }
      review = std::move(r);
    }
    json hook = {{"event", "decision"},
                 {"content_id", meta.content_id},
                 {"surface", meta.surface},
                 {"decision", d.explanation}};
    std::vector<AuditInput> audit = {
        AuditInput{who.name, "decision", "content:" + meta.content_id,
                   json{{"action", in.action},
                        {"policy_version", in.policy_version},
                        {"matches", matches.size()},
                        {"allow", allow.size()},
                        {"review", review.has_value()}}
                       .dump(-1, ' ', false, json::error_handler_t::replace),
                   in.received_ms}};
    Result<SubmitOutcome> out = SubmitGrouped(RecordStore::SubmitRequest{
        std::move(in), std::move(review), Webhooks(d.decision, hook), std::move(audit)});
    if (!out.ok()) return out.status();
    (*answer)["submission_id"] = out->submission_id;
    if (out->review_id != 0) {
      (*answer)["review"] = {{"id", out->review_id}, {"priority", *d.decision.review_priority}};
    } else if (out->already_confirmed_review != 0) {
      (*answer)["review"] = {{"already_confirmed_by", out->already_confirmed_review}};
    } else {
      (*answer)["review"] = nullptr;
    }
    return Status::Ok();
  }

  // Adds a reviewed item's hashes to one of the platform's own banks.
  Status Feedback(const ReviewItem& item, const std::string& bank_name, const std::string& who) {
    json signals = json::parse(item.signals_json, nullptr, false);
    if (signals.is_discarded()) return Status::Corrupt("review item signals are not JSON");
    std::vector<std::pair<SignalType, std::string>> values;
    std::vector<Entry> videos;  // vPDQ signatures (TMK is not kept with the item)
    auto take = [&](const json& s) {
      if (!s.is_object()) return;
      if (auto v = s.find("vpdq"); v != s.end() && v->is_string()) {
        if (Result<Entry> e = SignatureEntry(SignalType::kVpdq, v->get<std::string>()); e.ok()) {
          videos.push_back(std::move(*e));
        }
      }
      for (auto [key, type] :
           {std::pair{"pdq", SignalType::kPdq}, std::pair{"md5", SignalType::kMd5},
            std::pair{"sha1", SignalType::kSha1}, std::pair{"sha256", SignalType::kSha256}}) {
        auto it = s.find(key);
        if (it != s.end() && it->is_string()) values.emplace_back(type, it->get<std::string>());
      }
      auto t = s.find("type");
      auto v = s.find("value");
      if (t != s.end() && v != s.end() && t->is_string() && v->is_string()) {
        if (Result<SignalType> st = ParseSignalType(t->get<std::string>()); st.ok()) {
          values.emplace_back(*st, v->get<std::string>());
        }
      }
    };
    if (signals.is_array()) {
      for (const json& s : signals) take(s);
    } else {
      take(signals);
    }
    std::lock_guard lock(store_mu);
    Result<Bank> bank = store->GetBank(bank_name);
    if (!bank.ok()) return bank.status();
    Result<std::unique_ptr<EntryWriter>> writer = store->BeginWrite(bank->id);
    if (!writer.ok()) return writer.status();
    const int64_t now_s = NowMs() / 1000;
    for (const auto& [type, value] : values) {
      Result<std::string> canonical = NormalizeSignalValue(type, value);
      if (!canonical.ok()) continue;
      Entry e;
      e.signal = type;
      e.value = *canonical;
      e.provenance.source = "review";
      e.provenance.source_id = "review:" + std::to_string(item.id);
      e.provenance.added_at = now_s;
      e.provenance.added_by = who;
      if (Result<AddOutcome> r = (*writer)->Add(e); !r.ok()) return r.status();
    }
    for (Entry& e : videos) {
      e.provenance.source = "review";
      e.provenance.source_id = "review:" + std::to_string(item.id);
      e.provenance.added_at = now_s;
      e.provenance.added_by = who;
      if (Result<AddOutcome> r = (*writer)->Add(e); !r.ok()) return r.status();
    }
    return (*writer)->Commit();
  }

  void Follow() {
    std::unique_lock lock(stop_mu);
    while (!stopping) {
      stop_cv.wait_for(lock, std::chrono::milliseconds(config.index_refresh_ms));
      if (stopping) break;
      lock.unlock();
      (void)Refresh();
      lock.lock();
    }
  }

  Result<int> Deliver() {
    Result<std::vector<OutboxMessage>> due = [&] {
      std::lock_guard lock(records_mu);
      return records->DueOutbox(NowMs(), 32);
    }();
    if (!due.ok()) return due.status();
    int attempted = 0;
    for (const OutboxMessage& m : *due) {
      ++attempted;
      Status sent = sender.Send(m, config.webhook_secret, config.webhook_timeout_ms);
      std::lock_guard lock(records_mu);
      if (sent.ok()) {
        if (Status s = records->MarkDelivered(m.id, NowMs()); !s.ok()) return s;
        continue;
      }
      const int attempts = m.attempts + 1;
      const bool dead = attempts >= config.webhook_max_attempts;
      const int64_t delay = std::min<int64_t>(
          int64_t{config.webhook_backoff_ms} << std::min(attempts - 1, 20), 3600 * 1000);
      if (Status s = records->MarkFailed(m.id, NowMs() + delay, sent.message(), dead); !s.ok()) {
        return s;
      }
    }
    return attempted;
  }

  void DeliverLoop() {
    std::unique_lock lock(stop_mu);
    while (!stopping) {
      stop_cv.wait_for(lock, std::chrono::milliseconds(250));
      if (stopping) break;
      lock.unlock();
      (void)Deliver();
      lock.lock();
    }
  }

  // Audit events of administrative changes (banks, keys). They follow the
  // change itself in a separate transaction: the bank change log is the
  // record of the change, the audit event says who asked for it.
  Status Audit(const Principal& who, std::string kind, std::string subject, const json& details) {
    std::lock_guard lock(records_mu);
    return records->AppendAudit(
        {AuditInput{who.name, std::move(kind), std::move(subject),
                    details.dump(-1, ' ', false, json::error_handler_t::replace), NowMs()}});
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  if (impl_->follower.joinable()) impl_->follower.join();
  if (impl_->deliverer.joinable()) impl_->deliverer.join();
  {
    std::lock_guard lock(impl_->commit_mu);
    impl_->commit_stopping = true;
  }
  impl_->commit_cv.notify_all();
  if (impl_->committer.joinable()) impl_->committer.join();
}

const ServiceConfig& Engine::config() const { return impl_->config; }

Result<std::unique_ptr<Engine>> Engine::Open(const ServiceConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->signal_options.pdq_mode = config.pdq_mode;
  impl->signal_options.dihedral = config.pdq_dihedral;
  impl->signal_options.video = config.video;
  impl->signal_options.tmk = config.video_tmk;
  impl->signal_options.vpdq.seconds_per_hash = config.vpdq_seconds;
  impl->signal_options.vpdq.open.limits.max_duration_seconds = config.max_video_seconds;
  Result<std::unique_ptr<Store>> store = OpenStore(config.store_url);
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  Result<std::unique_ptr<RecordStore>> records = OpenRecordStore(config.store_url);
  if (!records.ok()) return records.status();
  impl->records = std::move(*records);

  // The platform's own banks, fed by review decisions.
  const int64_t now_s = NowMs() / 1000;
  for (auto [name, kind] : {std::pair{config.own_block_bank, BankKind::kBlock},
                            std::pair{config.own_allow_bank, BankKind::kAllow}}) {
    Result<Bank> bank = impl->store->GetBank(name);
    if (bank.ok()) {
      if (bank->spec.kind != kind) {
        return Invalid("bank \"" + name + "\" exists but is not a" +
                       (kind == BankKind::kBlock ? " block" : "n allow") + " bank");
      }
      continue;
    }
    if (bank.status().code() != ErrorCode::kNotFound) return bank.status();
    BankSpec spec;
    spec.name = name;
    spec.kind = kind;
    spec.source = "review";
    spec.description = kind == BankKind::kBlock ? "Items confirmed by this platform's reviewers"
                                                : "False positives found by this platform's "
                                                  "reviewers";
    if (Result<Bank> made = impl->store->CreateBank(spec, now_s); !made.ok()) {
      return made.status();
    }
  }

  MatcherOptions matcher_options;
  if (impl->config.store_url.find(":memory:") == std::string::npos) {
    Result<std::unique_ptr<Store>> second = OpenStore(impl->config.store_url);
    if (!second.ok()) return second.status();
    impl->tmk_store = std::move(*second);
    Impl* self = impl.get();
    matcher_options.tmk_loader = [self](int64_t entry_id) -> Result<std::string> {
      std::lock_guard lock(self->tmk_store_mu);
      Result<Entry> e = self->tmk_store->GetEntry(entry_id);
      if (!e.ok()) return e.status();
      return std::move(e->payload);
    };
  }
  Result<BankMatcher> matcher = BankMatcher::Build(*impl->store, std::move(matcher_options));
  if (!matcher.ok()) return matcher.status();
  impl->matcher.emplace(std::move(*matcher));

  Result<std::optional<PolicyRecord>> stored = impl->records->GetPolicy(0);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    Result<Policy> p = ParsePolicy((*stored)->text);
    if (!p.ok()) {
      return Status::Corrupt("stored policy version " + std::to_string((*stored)->version) +
                             " no longer parses: " + p.status().message());
    }
    p->version = (*stored)->version;
    impl->policy = std::make_shared<const Policy>(std::move(*p));
  } else {
    impl->policy = std::make_shared<const Policy>(DefaultPolicy());
  }

  std::vector<text::PackSource> packs;
  for (const std::string& language : text::BuiltinPackLanguages()) {
    if (std::optional<text::PackSource> pack = text::BuiltinPack(language)) {
      packs.push_back(std::move(*pack));
    }
  }
  Result<std::shared_ptr<const text::IndicatorSet>> indicators = text::IndicatorSet::Load(packs);
  if (!indicators.ok()) return indicators.status();
  impl->indicators = std::move(*indicators);
  impl->risk = std::make_unique<text::RiskEngine>(impl->indicators, nullptr, text::RiskOptions{});

  Impl* raw = impl.get();
  impl->follower = std::thread([raw] { raw->Follow(); });
  impl->deliverer = std::thread([raw] { raw->DeliverLoop(); });
  impl->committer = std::thread([raw] { raw->CommitLoop(); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

// --- keys --------------------------------------------------------------------

Result<std::string> MintApiKey(RecordStore& records, std::string_view name, uint32_t scopes,
                               std::string_view actor) {
  if (name.empty() || name.size() > 128) return Invalid("key name must be 1..128 characters");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return Invalid("key name may use letters, digits, '-', '_' and '.' only");
  }
  if (scopes == 0 || (scopes & ~uint32_t{kScopeSubmit | kScopeReview | kScopeAdmin}) != 0) {
    return Invalid("a key needs one or more of the scopes submit, review, admin");
  }
  // Tokens carry 128 random bits, so one salted SHA-256 is enough to store
  // them (a slow password hash protects guessable secrets, not random ones)
  // and checking a key costs microseconds per request.
  const std::string secret = RandomHex(16);
  const std::string salt = RandomHex(16);
  if (secret.empty() || salt.empty()) return Status::Internal("no randomness for a new key");
  ApiKeyRecord key;
  key.name = std::string(name);
  key.scopes = scopes;
  key.salt_hex = salt;
  key.hash_hex = Sha256Hex(salt, secret);
  key.created_ms = NowMs();
  Result<int64_t> id =
      records.CreateApiKey(key, {AuditInput{std::string(actor), "key.create", "key:" + key.name,
                                            json{{"scopes", ScopesToString(scopes)}}.dump(
                                                -1, ' ', false, json::error_handler_t::replace),
                                            key.created_ms}});
  if (!id.ok()) return id.status();
  return std::string(kTokenPrefix) + std::to_string(*id) + "_" + secret;
}

Result<std::string> Engine::CreateKey(std::string_view name, uint32_t scopes,
                                      std::string_view actor) {
  std::lock_guard lock(impl_->records_mu);
  return MintApiKey(*impl_->records, name, scopes, actor);
}

Status Engine::RevokeKey(int64_t id, std::string_view actor) {
  {
    std::lock_guard lock(impl_->records_mu);
    if (Status s = impl_->records->RevokeApiKey(
            id, {AuditInput{std::string(actor), "key.revoke", "key:" + std::to_string(id), "{}",
                            NowMs()}});
        !s.ok()) {
      return s;
    }
  }
  std::unique_lock lock(impl_->keys_mu);
  impl_->keys.erase(id);
  return Status::Ok();
}

Result<Principal> Engine::Authenticate(std::string_view token) {
  const Status denied = Status::PermissionDenied("missing or invalid API key");
  std::optional<ParsedToken> t = ParseToken(token);
  if (!t) return denied;
  // Keys are cached for a few seconds so that a revocation made by another
  // process (safeguard keys revoke) takes effect soon without a database
  // read per request.
  constexpr int64_t kCacheMs = 5000;
  const int64_t now = NowMs();
  Impl::CachedKey cached;
  bool hit = false;
  {
    std::shared_lock lock(impl_->keys_mu);
    auto it = impl_->keys.find(t->id);
    if (it != impl_->keys.end() && now - it->second.checked_ms < kCacheMs) {
      cached = it->second;
      hit = true;
    }
  }
  if (!hit) {
    Result<ApiKeyRecord> record = [&] {
      std::lock_guard lock(impl_->records_mu);
      return impl_->records->GetApiKey(t->id);
    }();
    if (!record.ok()) {
      if (record.status().code() == ErrorCode::kNotFound) return denied;
      return record.status();
    }
    if (record->revoked) {
      std::unique_lock lock(impl_->keys_mu);
      impl_->keys.erase(t->id);
      return denied;
    }
    cached.who = Principal{record->id, record->name, record->scopes};
    cached.hash_hex = record->hash_hex;
    cached.salt_hex = record->salt_hex;
    cached.checked_ms = now;
    std::unique_lock lock(impl_->keys_mu);
    if (impl_->keys.size() > 100000) impl_->keys.clear();
    impl_->keys[t->id] = cached;
  }
  const std::string hash = Sha256Hex(cached.salt_hex, t->secret);
  if (hash.size() != cached.hash_hex.size() ||
      CRYPTO_memcmp(hash.data(), cached.hash_hex.data(), hash.size()) != 0) {
    return denied;
  }
  return cached.who;
}

// --- content -----------------------------------------------------------------

Result<nlohmann::json> Engine::SubmitContent(const Principal& who, std::string_view bytes,
                                             const ContentMeta& meta) {
  if (!who.Has(kScopeSubmit)) return Status::PermissionDenied("this key may not submit");
  if (Status s = CheckMeta(meta); !s.ok()) return s;
  if (bytes.empty()) return Invalid("empty body: send the content's bytes");
  Result<FileSignals> computed = ComputeSignals(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                bytes.size(), impl_->signal_options, "content");
  if (!computed.ok()) return computed.status();
  const FileSignals& fs = *computed;
  if (fs.is_image && !fs.image_status.ok()) return fs.image_status;
  if (fs.is_video && !fs.video_status.ok()) return fs.video_status;

  json signals = {
      {"md5", fs.digests.md5}, {"sha1", fs.digests.sha1}, {"sha256", fs.digests.sha256}};
  std::vector<MatchResult> results;
  std::optional<int> quality;
  if (fs.is_image) {
    quality = fs.pdq.quality;
    signals["pdq"] = fs.pdq.hash.ToHex();
    signals["quality"] = fs.pdq.quality;
    signals["format"] = fs.format;
    signals["width"] = fs.width;
    signals["height"] = fs.height;
  } else if (fs.is_video) {
    signals["format"] = fs.format;
    signals["codec"] = fs.video.codec;
    signals["width"] = fs.video.width;
    signals["height"] = fs.video.height;
    signals["duration"] = fs.video.duration_seconds;
    signals["vpdq_frames"] = fs.vpdq.size();
    // Kept with a review item, so that a confirmation adds it to the
    // platform's bank.
    signals["vpdq"] = FormatVpdq(fs.vpdq);
    if (fs.tmk) signals["tmk_frames"] = fs.tmk->frame_count;
  }
  {
    std::shared_lock lock(impl_->matcher_mu);
    if (fs.is_video) {
      Result<MatchResult> r = impl_->matcher->MatchVpdq(fs.vpdq);
      if (!r.ok()) return r.status();
      results.push_back(std::move(*r));
      if (fs.tmk) {
        Result<MatchResult> tmk = impl_->matcher->MatchTmk(*fs.tmk);
        if (!tmk.ok()) return tmk.status();
        results.push_back(std::move(*tmk));
      }
    }
    if (fs.is_image) {
      std::span<const Hash256> hashes = fs.pdq.has_dihedral
                                            ? std::span<const Hash256>(fs.pdq.dihedral)
                                            : std::span<const Hash256>(&fs.pdq.hash, 1);
      Result<MatchResult> r = impl_->matcher->MatchPdq(hashes, fs.pdq.quality);
      if (!r.ok()) return r.status();
      results.push_back(std::move(*r));
    }
    results.push_back(impl_->matcher->MatchDigest(SignalType::kMd5, fs.digests.md5));
    results.push_back(impl_->matcher->MatchDigest(SignalType::kSha1, fs.digests.sha1));
    results.push_back(impl_->matcher->MatchDigest(SignalType::kSha256, fs.digests.sha256));
  }
  Impl::Matched m;
  for (const MatchResult& r : results) {
    Impl::AddHits(r.matches, quality, std::nullopt, &m.matches, &m.facts);
    impl_->CountMatches(r.matches);
  }
  for (const MatchResult& r : results) {
    Impl::AddHits(r.allow, quality, std::nullopt, &m.allow, &m.facts);
  }
  const std::string kind = fs.is_image ? "image" : fs.is_video ? "video" : "file";
  Impl::Decided d = impl_->Decide(kind, meta.surface, std::move(m.facts));
  json answer = {{"content_id", meta.content_id}, {"kind", kind},     {"signals", signals},
                 {"matches", m.matches},          {"allow", m.allow}, {"decision", d.explanation}};
  const std::string media_type = fs.is_image   ? "image/" + fs.format
                                 : fs.is_video ? VideoMediaType(fs.format)
                                               : "application/octet-stream";
  if (Status s = impl_->Commit(who, meta, kind, signals, d, m.matches, m.allow,
                               "sha256:" + fs.digests.sha256, media_type, bytes, &answer);
      !s.ok()) {
    return s;
  }
  return answer;
}

Result<nlohmann::json> Engine::Lookup(const Principal& who, const nlohmann::json& request) {
  if (!who.Has(kScopeSubmit)) return Status::PermissionDenied("this key may not look up");
  if (!request.is_object()) return Invalid("the body must be a JSON object");
  ContentMeta meta;
  for (auto [key, field, max] : {std::tuple{"content_id", &meta.content_id, size_t{256}},
                                 std::tuple{"uploader_id", &meta.uploader_id, size_t{256}},
                                 std::tuple{"surface", &meta.surface, size_t{64}}}) {
    Result<std::string> v = OptionalString(request, key, max);
    if (!v.ok()) return v.status();
    *field = std::move(*v);
  }
  if (Status s = CheckMeta(meta); !s.ok()) return s;
  auto list = request.find("signals");
  if (list == request.end() || !list->is_array() || list->empty()) {
    return Invalid("\"signals\" must be a non-empty list of {\"type\", \"value\"}");
  }
  if (list->size() > static_cast<size_t>(impl_->config.max_lookup_signals)) {
    return Status::LimitExceeded("more than " + std::to_string(impl_->config.max_lookup_signals) +
                                 " signals in one lookup");
  }
  struct Parsed {
    SignalType type;
    std::string value;
    std::optional<int> quality;
  };
  std::vector<Parsed> parsed;
  json echo = json::array();
  for (size_t i = 0; i < list->size(); ++i) {
    const json& s = (*list)[i];
    const std::string where = "signals[" + std::to_string(i) + "]";
    if (!s.is_object()) return Invalid(where + ": must be an object");
    auto t = s.find("type");
    auto v = s.find("value");
    if (t == s.end() || !t->is_string() || v == s.end() || !v->is_string()) {
      return Invalid(where + ": needs string \"type\" and \"value\"");
    }
    Result<SignalType> type = ParseSignalType(t->get<std::string>());
    if (!type.ok()) return Invalid(where + ": " + type.status().message());
    if (SignalHasPayload(*type)) {
      return Invalid(where + ": " + std::string(SignalTypeName(*type)) +
                     " is matched from the video itself: POST /v1/content");
    }
    Result<std::string> value = NormalizeSignalValue(*type, v->get<std::string>());
    if (!value.ok()) return Invalid(where + ": " + value.status().message());
    Parsed p{*type, std::move(*value), std::nullopt};
    if (auto q = s.find("quality"); q != s.end() && !q->is_null()) {
      if (!q->is_number_integer() || q->get<int64_t>() < 0 || q->get<int64_t>() > 100) {
        return Invalid(where + ": \"quality\" must be an integer 0..100");
      }
      p.quality = q->get<int>();
    }
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (it.key() != "type" && it.key() != "value" && it.key() != "quality") {
        return Invalid(where + ": unknown key \"" + it.key() + "\"");
      }
    }
    json e = {{"type", SignalTypeName(p.type)}, {"value", p.value}};
    if (p.quality) e["quality"] = *p.quality;
    echo.push_back(std::move(e));
    parsed.push_back(std::move(p));
  }
  Impl::Matched m;
  std::vector<std::pair<MatchResult, size_t>> results;
  {
    std::shared_lock lock(impl_->matcher_mu);
    for (size_t i = 0; i < parsed.size(); ++i) {
      const Parsed& p = parsed[i];
      if (p.type == SignalType::kPdq) {
        Result<Hash256> h = Hash256::FromHex(p.value);
        if (!h.ok()) return h.status();
        Result<MatchResult> r =
            impl_->matcher->MatchPdq(std::span<const Hash256>(&*h, 1), p.quality);
        if (!r.ok()) return r.status();
        results.emplace_back(std::move(*r), i);
      } else {
        results.emplace_back(impl_->matcher->MatchDigest(p.type, p.value), i);
      }
    }
  }
  for (const auto& [r, i] : results) {
    Impl::AddHits(r.matches, parsed[i].quality, i, &m.matches, &m.facts);
    impl_->CountMatches(r.matches);
  }
  for (const auto& [r, i] : results) {
    Impl::AddHits(r.allow, parsed[i].quality, i, &m.allow, &m.facts);
  }
  Impl::Decided d = impl_->Decide("hashes", meta.surface, std::move(m.facts));
  json answer = {{"content_id", meta.content_id},
                 {"signals", echo},
                 {"matches", m.matches},
                 {"allow", m.allow},
                 {"decision", d.explanation}};
  if (d.decision.action == Action::kAllow && !d.decision.review_priority &&
      d.decision.webhooks.empty()) {
    answer["submission_id"] = nullptr;  // nothing to keep: see Engine::Lookup
    answer["review"] = nullptr;
    return answer;
  }
  const std::string dedupe =
      std::string(SignalTypeName(parsed.front().type)) + ":" + parsed.front().value;
  if (Status s =
          impl_->Commit(who, meta, "hashes", echo, d, m.matches, m.allow, dedupe, "", "", &answer);
      !s.ok()) {
    return s;
  }
  return answer;
}

Result<nlohmann::json> Engine::SubmitMessage(const Principal& who, std::string_view body) {
  if (!who.Has(kScopeSubmit)) return Status::PermissionDenied("this key may not submit");
  text::Message message;
  if (Status s = text::ParseMessageJson(body, text::MessageLimits{}, &message); !s.ok()) return s;
  ContentMeta meta{message.message_id, message.sender_id, "", message.timestamp_ms.value_or(0)};
  if (Status s = CheckMeta(meta); !s.ok()) return s;
  if (!IsUtf8(message.conversation_id)) return Invalid("conversation must be UTF-8 text");
  json assessment;
  text::RiskLevel level = text::RiskLevel::kNone;
  text::RiskLevel previous = text::RiskLevel::kNone;
  double score = 0;
  {
    std::lock_guard lock(impl_->text_mu);
    text::Assessment a;
    impl_->risk->Process(message, &a);
    assessment = json::parse(text::AssessmentJson(message, a, *impl_->indicators), nullptr, false);
    level = a.conversation.level;
    previous = a.conversation.previous_level;
    score = a.conversation.score;
  }
  if (assessment.is_discarded()) return Status::Internal("assessment JSON did not parse");
  Impl::Decided d = impl_->Decide("message", "", {}, score);
  json answer = {{"content_id", message.message_id},
                 {"conversation", message.conversation_id},
                 {"kind", "message"},
                 {"assessment", assessment},
                 {"matches", json::array()},
                 {"allow", json::array()},
                 {"decision", d.explanation}};
  const bool rose = static_cast<int>(level) > static_cast<int>(previous);
  const bool keep =
      d.decision.action == Action::kBlock || (d.decision.review_priority.has_value() && rose);
  if (!keep) {
    answer["submission_id"] = nullptr;
    answer["review"] = nullptr;
    return answer;
  }
  const json signals = {{"conversation", message.conversation_id},
                        {"message", message.message_id},
                        {"sender", message.sender_id},
                        {"text_risk", assessment.value("score", score)},
                        {"level", text::RiskLevelName(level)}};
  const std::string dedupe =
      "conversation:" + message.conversation_id + ":" + std::string(text::RiskLevelName(level));
  if (Status s = impl_->Commit(who, meta, "message", signals, d, json::array(), json::array(),
                               dedupe, "", "", &answer);
      !s.ok()) {
    return s;
  }
  return answer;
}

namespace {

json SubmissionJson(const SubmissionRecord& r) {
  auto parse = [](const std::string& text) {
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json(text) : j;
  };
  json matches = parse(r.in.matches_json);
  return {{"id", r.id},
          {"content_id", r.in.content_id},
          {"uploader_id", r.in.uploader_id},
          {"surface", r.in.surface},
          {"kind", r.in.content_kind},
          {"content_time_ms", r.in.content_time_ms},
          {"received_ms", r.in.received_ms},
          {"submitted_by", r.in.actor},
          {"signals", parse(r.in.signals_json)},
          {"matches", matches.is_object() ? matches.value("matches", json::array()) : matches},
          {"allow", matches.is_object() ? matches.value("allow", json::array()) : json::array()},
          {"decision", parse(r.in.decision_json)},
          {"policy_version", r.in.policy_version},
          {"review_id", r.review_id == 0 ? json(nullptr) : json(r.review_id)}};
}

json ReviewJson(const ReviewItem& item) {
  json signals = json::parse(item.signals_json, nullptr, false);
  return {{"id", item.id},
          {"submission_id", item.submission_id},
          {"priority", item.priority},
          {"state", ReviewStateName(item.state)},
          {"verdict", ReviewVerdictName(item.verdict)},
          {"lease_owner", item.lease_owner},
          {"lease_until_ms", item.lease_until_ms},
          {"created_ms", item.created_ms},
          {"decided_ms", item.decided_ms},
          {"reviewer", item.reviewer},
          {"note", item.note},
          {"signals", signals.is_discarded() ? json(nullptr) : signals},
          {"has_media", item.has_media},
          {"media_url",
           item.has_media ? json("/v1/review/" + std::to_string(item.id) + "/media") : json()}};
}

}  // namespace

Result<nlohmann::json> Engine::GetSubmission(int64_t id) {
  std::lock_guard lock(impl_->records_mu);
  Result<SubmissionRecord> r = impl_->records->GetSubmission(id);
  if (!r.ok()) return r.status();
  return SubmissionJson(*r);
}

// --- review ------------------------------------------------------------------

Result<nlohmann::json> Engine::NextReview(const Principal& who) {
  if (!who.Has(kScopeReview)) return Status::PermissionDenied("this key may not review");
  const int64_t now = NowMs();
  std::lock_guard lock(impl_->records_mu);
  Result<std::optional<ReviewItem>> item = impl_->records->LeaseNextReview(
      who.name, now, int64_t{impl_->config.review_lease_s} * 1000,
      {AuditInput{who.name, "review.lease", "", "{}", now}});  // subject: the item
  if (!item.ok()) return item.status();
  if (!item->has_value()) return json(nullptr);
  json out = ReviewJson(**item);
  Result<SubmissionRecord> sub = impl_->records->GetSubmission((*item)->submission_id);
  if (sub.ok()) out["submission"] = SubmissionJson(*sub);
  return out;
}

Result<nlohmann::json> Engine::DecideReview(const Principal& who, int64_t id,
                                            std::string_view verdict_name, std::string_view note) {
  if (!who.Has(kScopeReview)) return Status::PermissionDenied("this key may not review");
  Result<ReviewVerdict> verdict = ParseReviewVerdict(verdict_name);
  if (!verdict.ok() || *verdict == ReviewVerdict::kNone) {
    return Invalid("decision must be confirm, false_positive or escalate");
  }
  if (note.size() > 4096) return Invalid("note is longer than 4096 bytes");
  // Held across the check, the bank feedback and the decision, so that no
  // other request of this process decides the item in between. A crash after
  // the feedback and before the decision leaves the hashes in the bank and
  // the item leased: its lease expires, it returns to the queue, and a
  // second decision finds the entries already there (adds are idempotent).
  std::lock_guard lock(impl_->records_mu);
  const int64_t now = NowMs();
  Result<ReviewItem> item = impl_->records->GetReview(id);
  if (!item.ok()) return item.status();
  if (item->state != ReviewState::kLeased || item->lease_owner != who.name ||
      item->lease_until_ms < now) {
    return Status::FailedPrecondition("review item " + std::to_string(id) +
                                      " is not leased to you (take it with GET /v1/review/next)");
  }
  if (*verdict == ReviewVerdict::kConfirm || *verdict == ReviewVerdict::kFalsePositive) {
    const std::string& bank = *verdict == ReviewVerdict::kConfirm ? impl_->config.own_block_bank
                                                                  : impl_->config.own_allow_bank;
    if (Status s = impl_->Feedback(*item, bank, who.name); !s.ok()) return s;
  }
  Result<ReviewItem> decided = impl_->records->DecideReview(
      id, who.name, *verdict, note, now, {},
      {AuditInput{
          who.name, "review.decision", "review:" + std::to_string(id),
          json{{"verdict", ReviewVerdictName(*verdict)}, {"submission_id", item->submission_id}}
              .dump(-1, ' ', false, json::error_handler_t::replace),
          now}});
  if (!decided.ok()) return decided.status();
  if (*verdict != ReviewVerdict::kEscalate) (void)impl_->Refresh();
  return ReviewJson(*decided);
}

Result<std::pair<std::string, std::string>> Engine::ReviewMedia(const Principal& who, int64_t id,
                                                                bool original) {
  if (!who.Has(kScopeReview)) return Status::PermissionDenied("this key may not review");
  Result<std::pair<std::string, std::string>> media =
      [&]() -> Result<std::pair<std::string, std::string>> {
    std::lock_guard lock(impl_->records_mu);
    Result<ReviewItem> item = impl_->records->GetReview(id);
    if (!item.ok()) return item.status();
    // Media is shown to the reviewer who holds the item (or decided it),
    // never to every key with the review scope: exposure stays with the
    // person doing the work, and counts are per item actually reviewed.
    const bool holds = item->state == ReviewState::kLeased && item->lease_owner == who.name &&
                       item->lease_until_ms >= NowMs();
    const bool decided = item->state == ReviewState::kDecided && item->reviewer == who.name;
    if (!holds && !decided) {
      return Status::FailedPrecondition("review item " + std::to_string(id) +
                                        " is not leased to you (take it with GET /v1/review/next)");
    }
    // Only images have a rendition: refuse other media before the view is
    // counted or audited (nothing was shown).
    if (!original && item->has_media && !item->media_type.starts_with("image/")) {
      return Status::Unsupported("review item " + std::to_string(id) +
                                 " is not an image: only ?original=true shows it");
    }
    return impl_->records->ViewReviewMedia(
        id, who.name, original,
        {AuditInput{who.name, original ? "media.view_original" : "media.view",
                    "review:" + std::to_string(id), "{}", NowMs()}});
  }();
  if (!media.ok()) return media;
  if (original) return media;
  Result<std::string> jpeg =
      engine_internal::RenderForReview(media->second, impl_->config.review_blur_sigma);
  if (!jpeg.ok()) return jpeg.status();
  return std::pair<std::string, std::string>("image/jpeg", std::move(*jpeg));
}

Result<nlohmann::json> Engine::ReviewerExposure() {
  std::lock_guard lock(impl_->records_mu);
  Result<std::vector<ExposureRecord>> e = impl_->records->ReviewerExposure();
  if (!e.ok()) return e.status();
  json out = json::array();
  for (const ExposureRecord& r : *e) {
    out.push_back({{"reviewer", r.reviewer},
                   {"items_seen", r.items_seen},
                   {"originals_viewed", r.originals_viewed}});
  }
  return out;
}

// --- banks -------------------------------------------------------------------

Result<nlohmann::json> Engine::ListBanks() {
  std::lock_guard lock(impl_->store_mu);
  Result<std::vector<Bank>> banks = impl_->store->ListBanks();
  if (!banks.ok()) return banks.status();
  json out = json::array();
  for (const Bank& b : *banks) {
    Result<Store::EntryCounts> counts = impl_->store->CountEntries(b.id);
    if (!counts.ok()) return counts.status();
    out.push_back({{"name", b.spec.name},
                   {"kind", BankKindName(b.spec.kind)},
                   {"description", b.spec.description},
                   {"source", b.spec.source},
                   {"labels", LabelsJson(b.spec.labels)},
                   {"enabled", b.spec.enabled},
                   {"pdq_max_distance", b.spec.pdq_max_distance},
                   {"pdq_min_quality", b.spec.pdq_min_quality},
                   {"created_at", b.created_at},
                   {"entries", counts->live},
                   {"removed_entries", counts->removed}});
  }
  return out;
}

Result<nlohmann::json> Engine::CreateBank(const Principal& who, const nlohmann::json& j) {
  if (!who.Has(kScopeAdmin)) return Status::PermissionDenied("this key may not manage banks");
  if (!j.is_object()) return Invalid("the body must be a JSON object");
  BankSpec spec;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    auto need_string = [&]() -> Result<std::string> {
      if (!v.is_string()) return Invalid("\"" + k + "\" must be a string");
      return v.get<std::string>();
    };
    if (k == "name" || k == "description" || k == "source" || k == "kind") {
      Result<std::string> s = need_string();
      if (!s.ok()) return s.status();
      if (k == "name") spec.name = *s;
      if (k == "description") spec.description = *s;
      if (k == "source") spec.source = *s;
      if (k == "kind") {
        Result<BankKind> kind = ParseBankKind(*s);
        if (!kind.ok()) return kind.status();
        spec.kind = *kind;
      }
    } else if (k == "labels") {
      if (!v.is_object()) return Invalid("\"labels\" must be an object of strings");
      for (auto l = v.begin(); l != v.end(); ++l) {
        if (!l.value().is_string()) return Invalid("label \"" + l.key() + "\" must be a string");
        spec.labels[l.key()] = l.value().get<std::string>();
      }
    } else if (k == "enabled") {
      if (!v.is_boolean()) return Invalid("\"enabled\" must be true or false");
      spec.enabled = v.get<bool>();
    } else if (k == "pdq_max_distance" || k == "pdq_min_quality") {
      if (!v.is_number_integer()) return Invalid("\"" + k + "\" must be an integer");
      const int64_t n = v.get<int64_t>();
      if (n < 0 || n > 1000) return Invalid("\"" + k + "\" is out of range");
      (k == "pdq_max_distance" ? spec.pdq_max_distance : spec.pdq_min_quality) =
          static_cast<int>(n);
    } else {
      return Invalid("unknown key \"" + k + "\"");
    }
  }
  if (Status s = ValidateBankSpec(spec); !s.ok()) return s;
  {
    std::lock_guard lock(impl_->store_mu);
    // A taken name is a conflict with the present state, not a bad request.
    if (impl_->store->GetBank(spec.name).ok()) {
      return Status::FailedPrecondition("bank " + spec.name + " exists");
    }
    Result<Bank> made = impl_->store->CreateBank(spec, NowMs() / 1000);
    if (!made.ok()) return made.status();
  }
  if (Status s = impl_->Audit(who, "bank.create", "bank:" + spec.name,
                              {{"kind", BankKindName(spec.kind)}, {"source", spec.source}});
      !s.ok()) {
    return s;
  }
  (void)impl_->Refresh();
  return json{{"name", spec.name}, {"kind", BankKindName(spec.kind)}, {"enabled", spec.enabled}};
}

Result<nlohmann::json> Engine::ImportBank(const Principal& who, std::string_view name,
                                          std::string_view format_name,
                                          std::string_view signal_name, bool skip_invalid,
                                          std::string_view body) {
  if (!who.Has(kScopeAdmin)) return Status::PermissionDenied("this key may not manage banks");
  // A video signature (the body is one .tmk or one vPDQ text), or a list.
  const bool signature = format_name == "vpdq" || format_name == "tmk";
  Result<ExchangeFormat> format =
      signature ? ExchangeFormat::kPlain
                : ParseExchangeFormat(format_name.empty() ? "plain" : format_name);
  if (!format.ok()) return format.status();
  ImportOptions options;
  if (!signal_name.empty()) {
    Result<SignalType> signal = ParseSignalType(signal_name);
    if (!signal.ok()) return signal.status();
    options.signal = *signal;
  }
  options.skip_invalid = skip_invalid;
  options.source = "api upload";
  options.added_by = who.name;
  options.now = NowMs() / 1000;
  std::istringstream in{std::string(body)};
  Result<ImportReport> report = [&] {
    std::lock_guard lock(impl_->store_mu);
    if (signature) {
      return ImportSignature(*impl_->store, name, *ParseSignalType(format_name), body, options);
    }
    return ImportList(*impl_->store, name, *format, in, options);
  }();
  if (!report.ok()) return report.status();
  json out = {{"bank", name},
              {"lines", report->lines},
              {"added", report->added},
              {"revived", report->revived},
              {"unchanged", report->unchanged},
              {"removed", report->removed},
              {"skipped", report->skipped},
              {"skip_reasons", report->skip_reasons}};
  json details = out;
  details.erase("skip_reasons");
  details["format"] = signature ? std::string(format_name) : ExchangeFormatName(*format);
  if (Status s = impl_->Audit(who, "bank.import", "bank:" + std::string(name), details); !s.ok()) {
    return s;
  }
  if (Status s = impl_->Refresh(); !s.ok()) return s;
  return out;
}

Result<nlohmann::json> Engine::SetBankEnabled(const Principal& who, std::string_view name,
                                              bool enabled) {
  if (!who.Has(kScopeAdmin)) return Status::PermissionDenied("this key may not manage banks");
  {
    std::lock_guard lock(impl_->store_mu);
    if (Status s = impl_->store->SetBankEnabled(name, enabled, NowMs() / 1000); !s.ok()) return s;
  }
  if (Status s = impl_->Audit(who, enabled ? "bank.enable" : "bank.disable",
                              "bank:" + std::string(name), json::object());
      !s.ok()) {
    return s;
  }
  if (Status s = impl_->Refresh(); !s.ok()) return s;
  return json{{"name", name}, {"enabled", enabled}};
}

Result<nlohmann::json> Engine::RemoveEntry(const Principal& who, std::string_view name,
                                           std::string_view signal_name, std::string_view value,
                                           std::string_view reason) {
  if (!who.Has(kScopeAdmin)) return Status::PermissionDenied("this key may not manage banks");
  Result<SignalType> signal = ParseSignalType(signal_name);
  if (!signal.ok()) return signal.status();
  Result<std::string> canonical = NormalizeSignalValue(*signal, value);
  if (!canonical.ok()) return canonical.status();
  bool removed = false;
  {
    std::lock_guard lock(impl_->store_mu);
    Result<Bank> bank = impl_->store->GetBank(name);
    if (!bank.ok()) return bank.status();
    Result<std::unique_ptr<EntryWriter>> writer = impl_->store->BeginWrite(bank->id);
    if (!writer.ok()) return writer.status();
    Result<bool> r = (*writer)->Remove(*signal, *canonical, NowMs() / 1000, reason);
    if (!r.ok()) return r.status();
    if (!*r)
      return Status::NotFound("no live " + std::string(signal_name) +
                              " entry with that value in bank \"" + std::string(name) + "\"");
    if (Status s = (*writer)->Commit(); !s.ok()) return s;
    removed = true;
  }
  if (Status s = impl_->Audit(who, "bank.remove_entry", "bank:" + std::string(name),
                              {{"signal", signal_name}, {"reason", reason}});
      !s.ok()) {
    return s;
  }
  if (Status s = impl_->Refresh(); !s.ok()) return s;
  return json{{"bank", name}, {"removed", removed}};
}

// --- policy ------------------------------------------------------------------

Result<nlohmann::json> Engine::GetPolicy() {
  std::shared_ptr<const Policy> p = impl_->LivePolicy();
  json out = {{"version", p->version},
              {"default", p->version == 0},
              {"policy", json::parse(PolicyToJson(*p))}};
  if (p->version != 0) {
    std::lock_guard lock(impl_->records_mu);
    Result<std::optional<PolicyRecord>> r = impl_->records->GetPolicy(p->version);
    if (r.ok() && r->has_value()) {
      out["text"] = (*r)->text;
      out["created_ms"] = (*r)->created_ms;
      out["created_by"] = (*r)->actor;
    }
  }
  return out;
}

Result<nlohmann::json> Engine::ValidatePolicy(std::string_view text) {
  Result<Policy> p = ParsePolicy(text);
  if (!p.ok()) return p.status();
  if (!p->webhooks.empty() && impl_->config.webhook_secret.empty()) {
    return Invalid("the policy names webhooks but webhook.secret is not configured");
  }
  return json{{"valid", true}, {"rules", p->rules.size()}, {"webhooks", p->webhooks.size()}};
}

Result<nlohmann::json> Engine::PutPolicy(const Principal& who, std::string_view text) {
  if (!who.Has(kScopeAdmin)) return Status::PermissionDenied("this key may not change policy");
  if (Result<json> v = ValidatePolicy(text); !v.ok()) return v.status();
  Result<Policy> p = ParsePolicy(text);
  if (!p.ok()) return p.status();
  std::lock_guard lock(impl_->records_mu);
  const int64_t now = NowMs();
  Result<int64_t> version = impl_->records->PutPolicy(
      text, who.name, now,
      {AuditInput{
          who.name, "policy.put", "policy",
          json{{"rules", p->rules.size()}}.dump(-1, ' ', false, json::error_handler_t::replace),
          now}});
  if (!version.ok()) return version.status();
  p->version = *version;
  {
    std::lock_guard plock(impl_->policy_mu);
    impl_->policy = std::make_shared<const Policy>(std::move(*p));
  }
  return json{{"version", *version}};
}

// --- audit -------------------------------------------------------------------

Result<nlohmann::json> Engine::ListAudit(int64_t after_seq, size_t limit) {
  std::lock_guard lock(impl_->records_mu);
  Result<std::vector<AuditEvent>> events =
      impl_->records->ListAudit(after_seq, std::min<size_t>(limit, 1000));
  if (!events.ok()) return events.status();
  json out = json::array();
  for (const AuditEvent& e : *events) {
    json details = json::parse(e.details_json, nullptr, false);
    out.push_back({{"seq", e.seq},
                   {"time_ms", e.time_ms},
                   {"actor", e.actor},
                   {"kind", e.kind},
                   {"subject", e.subject},
                   {"details", details.is_discarded() ? json(e.details_json) : details},
                   {"prev_hash", e.prev_hash},
                   {"hash", e.hash}});
  }
  return out;
}

Result<int64_t> Engine::VerifyAudit() {
  std::lock_guard lock(impl_->records_mu);
  return VerifyAuditChain(*impl_->records);
}

// --- operations --------------------------------------------------------------

EngineStats Engine::Stats() {
  EngineStats s;
  {
    std::shared_lock lock(impl_->matcher_mu);
    s.index_entries = static_cast<int64_t>(impl_->matcher->size());
    s.index_sequence = impl_->matcher->sequence();
  }
  {
    std::lock_guard lock(impl_->records_mu);
    RecordStore& r = *impl_->records;
    s.review_queued = r.CountReviews(ReviewState::kQueued).value_or(-1);
    s.review_leased = r.CountReviews(ReviewState::kLeased).value_or(-1);
    s.outbox_pending = r.CountOutbox(OutboxMessage::State::kPending).value_or(-1);
    s.outbox_dead = r.CountOutbox(OutboxMessage::State::kDead).value_or(-1);
    s.submissions = r.CountSubmissions().value_or(-1);
  }
  std::lock_guard lock(impl_->counters_mu);
  s.matches_per_bank.assign(impl_->matches_per_bank.begin(), impl_->matches_per_bank.end());
  return s;
}

Status Engine::RefreshIndex() { return impl_->Refresh(); }

Result<int> Engine::DeliverWebhooks() { return impl_->Deliver(); }

}  // namespace safeguard
