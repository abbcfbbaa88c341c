#include "safeguard/policy/policy.h"

#include "safeguard/core/utf8.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

// yaml-cpp's headers are not clean under this project's warnings (old-style
// casts, shadowing); they are system headers here, and the pragmas keep them
// quiet where they are not (an install under a user include path).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wconversion"
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop

namespace safeguard {
namespace {

using nlohmann::json;

// Nesting deeper than any policy needs (a policy is 5 levels deep) is refused
// before it costs recursion or memory.
constexpr int kMaxDocumentDepth = 64;
// YAML aliases let a small document expand into a huge tree ("billion
// laughs"); the converted tree is bounded instead of the text.
constexpr size_t kMaxYamlExpandedBytes = 8 * kMaxPolicyBytes;

std::string Quote(std::string_view s) {
  // json::dump escapes quotes and control characters, so that a message
  // shows a hostile key as it is without breaking the message's own format.
  return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RulePrefix(size_t index, std::string_view id) {
  std::string p = "rules[" + std::to_string(index) + "]";
  if (!id.empty()) p += " (id " + Quote(id) + ")";
  return p + ": ";
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsName(std::string_view s, size_t max_length) {
  return !s.empty() && s.size() <= max_length && std::all_of(s.begin(), s.end(), IsNameChar);
}

bool IsContentKind(std::string_view s) {
  return std::find(std::begin(kContentKinds), std::end(kContentKinds), s) !=
         std::end(kContentKinds);
}

// http:// or https://, a host, no spaces or control characters.
bool IsWebhookUrl(std::string_view url) {
  if (url.size() > kMaxWebhookUrlLength) return false;
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  if (rest.empty() || rest[0] == '/' || rest[0] == '?' || rest[0] == '#' || rest[0] == ':') {
    return false;
  }
  return std::none_of(url.begin(), url.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

std::string RangeError(std::string_view key, double value, double lo, double hi) {
  return Quote(key) + " " + json(value).dump() + " is out of range " + json(lo).dump() + ".." +
         json(hi).dump();
}

std::string RangeError(std::string_view key, int64_t value, int64_t lo, int64_t hi) {
  return Quote(key) + " " + std::to_string(value) + " is out of range " + std::to_string(lo) +
         ".." + std::to_string(hi);
}

// ---------------------------------------------------------------------------
// Reading the document into a json tree (JSON directly, YAML converted).

// Rejects duplicate keys (nlohmann keeps the last silently; in a policy, two
// "max_distance" keys are a mistake to point out, not to guess at) and
// excessive nesting, naming where.
class JsonShapeCheck {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    if (!error_.empty()) return true;
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxDocumentDepth) {
          error_ = "policy is nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels";
        }
        frames_.push_back(Frame{event == json::parse_event_t::object_start, {}, {}, 0});
        break;
      case json::parse_event_t::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          error_ = Where() + "duplicate key " + Quote(f.key);
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        CountValue();
        break;
      case json::parse_event_t::value:
        CountValue();
        break;
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool object = false;
    std::set<std::string> keys;
    std::string key;
    size_t index = 0;
  };

  void CountValue() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }

  // The path of the object being read, e.g. "rules[2].when: ".
  std::string Where() const {
    std::string path;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.object) {
        if (!path.empty()) path += '.';
        path += f.key;
      } else {
        path += "[" + std::to_string(f.index) + "]";
      }
    }
    return path.empty() ? std::string() : path + ": ";
  }

  std::vector<Frame> frames_;
  std::string error_;
};

Result<json> ReadJson(std::string_view text) {
  JsonShapeCheck check;
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), std::ref(check));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("policy is not valid JSON: ") + e.what());
  }
  if (!check.error().empty()) return Status::InvalidArgument(check.error());
  return doc;
}

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
json ResolvePlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const bool numeric_chars =
      std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
      });
  if (numeric_chars) {
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    const char* end = s.data() + s.size();
    int64_t i = 0;
    auto ri = std::from_chars(begin, end, i);
    if (ri.ec == std::errc() && ri.ptr == end) return i;
    double d = 0;
    auto rd = std::from_chars(begin, end, d);
    if (rd.ec == std::errc() && rd.ptr == end) return d;
  }
  return s;
}

class YamlConverter {
 public:
  Result<json> Convert(const YAML::Node& node, int depth, const std::string& path) {
    if (depth >= kMaxDocumentDepth) {
      return Status::InvalidArgument("policy is nested deeper than " +
                                     std::to_string(kMaxDocumentDepth) + " levels");
    }
    if (!Spend(16)) return Status::InvalidArgument(TooBig());
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json(nullptr);
      case YAML::NodeType::Scalar: {
        const std::string& s = node.Scalar();
        if (!Spend(s.size())) return Status::InvalidArgument(TooBig());
        // Quoted scalars carry the tag "!" and stay strings; plain ones
        // resolve to null, booleans and numbers as YAML 1.2 says.
        if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return json(s);
        return ResolvePlainScalar(s);
      }
      case YAML::NodeType::Sequence: {
        json out = json::array();
        size_t i = 0;
        for (const YAML::Node& item : node) {
          Result<json> v = Convert(item, depth + 1, path + "[" + std::to_string(i++) + "]");
          if (!v.ok()) return v.status();
          out.push_back(std::move(*v));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        const std::string where = path.empty() ? std::string() : path + ": ";
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) return Status::InvalidArgument(where + "keys must be strings");
          const std::string& key = kv.first.Scalar();
          if (out.contains(key))
            return Status::InvalidArgument(where + "duplicate key " + Quote(key));
          Result<json> v = Convert(kv.second, depth + 1, path.empty() ? key : path + "." + key);
          if (!v.ok()) return v.status();
          out[key] = std::move(*v);
        }
        return out;
      }
    }
    return json(nullptr);
  }

 private:
  bool Spend(size_t bytes) {
    spent_ += bytes;
    return spent_ <= kMaxYamlExpandedBytes;
  }
  static std::string TooBig() {
    return "policy expands (through YAML aliases) beyond " + std::to_string(kMaxYamlExpandedBytes) +
           " bytes";
  }

  size_t spent_ = 0;
};

// Counts documents, ignoring everything else.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The first character YAML does not allow in a stream (YAML 1.2, 5.1: C0
// controls other than tab, line feed and carriage return, and DEL), or npos.
size_t FirstYamlControl(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return i;
  }
  return std::string_view::npos;
}

Result<json> ReadYaml(std::string_view text) {
  // yaml-cpp takes 0x04 for the end of its input and, after a stray flow
  // indicator, 0x00 and 0x04 make its parser yield empty documents without
  // end: refused before parsing, with the position.
  if (size_t bad = FirstYamlControl(text); bad != std::string_view::npos) {
    char code[8];
    std::snprintf(code, sizeof(code), "%02X", static_cast<unsigned char>(text[bad]));
    return Status::InvalidArgument("policy is not valid YAML: control character U+00" +
                                   std::string(code) + " at byte " + std::to_string(bad));
  }
  const std::string copy(text);
  YAML::Node doc;
  try {
    // At most two documents are parsed (never YAML::LoadAll, which collects
    // documents for as long as the parser yields them): one is expected.
    std::istringstream in(copy);
    YAML::Parser parser(in);
    DocumentCounter counter;
    if (!parser.HandleNextDocument(counter)) return Status::InvalidArgument("policy is empty");
    if (parser.HandleNextDocument(counter)) {
      return Status::InvalidArgument("policy has more than one YAML document; one is expected");
    }
    doc = YAML::Load(copy);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("policy is not valid YAML: ") + e.what());
  }
  YamlConverter converter;
  return converter.Convert(doc, 0, "");
}

// ---------------------------------------------------------------------------
// The json tree into a Policy: shapes, types and unknown keys. Ranges and
// references are ValidatePolicy's.

class Decoder {
 public:
  // `where` prefixes every error: "" at the top, "rules[2] (id \"x\"): " in a rule.
  explicit Decoder(std::string where) : where_(std::move(where)) {}

  Status Error(const std::string& message) const {
    return Status::InvalidArgument(where_ + message);
  }

  Status OnlyKeys(const json& object, std::initializer_list<std::string_view> keys,
                  std::string_view in) const {
    for (auto it = object.begin(); it != object.end(); ++it) {
      if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
        std::string m = "unknown key " + Quote(it.key());
        if (!in.empty()) m += " in " + Quote(in);
        return Error(m);
      }
    }
    return Status::Ok();
  }

  Result<std::string> String(const json& v, std::string_view key) const {
    if (!v.is_string()) return Error(Quote(key) + " must be a string");
    return v.get<std::string>();
  }

  Result<bool> Bool(const json& v, std::string_view key) const {
    if (!v.is_boolean()) return Error(Quote(key) + " must be true or false");
    return v.get<bool>();
  }

  Result<int64_t> Integer(const json& v, std::string_view key, int64_t lo, int64_t hi) const {
    if (!v.is_number_integer()) return Error(Quote(key) + " must be an integer");
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error(Quote(key) + " " + v.dump() + " is out of range " + std::to_string(lo) + ".." +
                   std::to_string(hi));
    }
    const auto x = v.get<int64_t>();
    if (x < lo || x > hi) return Error(RangeError(key, x, lo, hi));
    return x;
  }

  Result<double> Number(const json& v, std::string_view key, double lo, double hi) const {
    if (!v.is_number()) return Error(Quote(key) + " must be a number");
    const auto x = v.get<double>();
    if (!(x >= lo && x <= hi)) return Error(RangeError(key, x, lo, hi));
    return x;
  }

  // One string or a non-empty list of strings.
  Result<std::vector<std::string>> Strings(const json& v, std::string_view key) const {
    std::vector<std::string> out;
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
      return out;
    }
    if (!v.is_array()) return Error(Quote(key) + " must be a string or a list of strings");
    if (v.empty()) return Error(Quote(key) + " must not be an empty list");
    if (v.size() > kMaxConditionValues) {
      return Error(Quote(key) + " has " + std::to_string(v.size()) + " values; at most " +
                   std::to_string(kMaxConditionValues) + " are allowed");
    }
    for (const json& item : v) {
      if (!item.is_string()) return Error(Quote(key) + " must be a string or a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

 private:
  std::string where_;
};

Status DecodeConditions(const Decoder& d, const json& when, RuleConditions& c) {
  if (!when.is_object()) return d.Error("\"when\" must be an object");
  Status s = d.OnlyKeys(when,
                        {"signal", "bank_kind", "bank", "labels", "max_distance", "min_quality",
                         "content_kind", "surface", "text_risk_min", "no_matches"},
                        "when");
  if (!s.ok()) return s;
  if (when.contains("signal")) {
    Result<std::vector<std::string>> names = d.Strings(when["signal"], "signal");
    if (!names.ok()) return names.status();
    for (const std::string& n : *names) {
      Result<SignalType> t = ParseSignalType(n);
      if (!t.ok()) return d.Error("unknown signal " + Quote(n) + " in \"signal\"");
      c.signals.push_back(*t);
    }
  }
  if (when.contains("bank_kind")) {
    Result<std::string> name = d.String(when["bank_kind"], "bank_kind");
    if (!name.ok()) return name.status();
    Result<BankKind> kind = ParseBankKind(*name);
    if (!kind.ok()) {
      return d.Error("unknown bank kind " + Quote(*name) + " in \"bank_kind\" (block or allow)");
    }
    c.bank_kind = *kind;
  }
  if (when.contains("bank")) {
    Result<std::vector<std::string>> banks = d.Strings(when["bank"], "bank");
    if (!banks.ok()) return banks.status();
    c.banks = std::move(*banks);
  }
  if (when.contains("labels")) {
    const json& labels = when["labels"];
    if (!labels.is_object()) return d.Error("\"labels\" must be an object of label -> value(s)");
    if (labels.empty()) return d.Error("\"labels\" must not be empty");
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      Result<std::vector<std::string>> values = d.Strings(it.value(), "labels." + it.key());
      if (!values.ok()) return values.status();
      c.labels[it.key()] = std::move(*values);
    }
  }
  if (when.contains("max_distance")) {
    Result<int64_t> v = d.Integer(when["max_distance"], "max_distance", 0, kMaxPolicyDistance);
    if (!v.ok()) return v.status();
    c.max_distance = static_cast<int>(*v);
  }
  if (when.contains("min_quality")) {
    Result<int64_t> v = d.Integer(when["min_quality"], "min_quality", 0, 100);
    if (!v.ok()) return v.status();
    c.min_quality = static_cast<int>(*v);
  }
  if (when.contains("content_kind")) {
    Result<std::vector<std::string>> kinds = d.Strings(when["content_kind"], "content_kind");
    if (!kinds.ok()) return kinds.status();
    c.content_kinds = std::move(*kinds);
  }
  if (when.contains("surface")) {
    Result<std::vector<std::string>> surfaces = d.Strings(when["surface"], "surface");
    if (!surfaces.ok()) return surfaces.status();
    c.surfaces = std::move(*surfaces);
  }
  if (when.contains("text_risk_min")) {
    Result<double> v = d.Number(when["text_risk_min"], "text_risk_min", 0.0, 1.0);
    if (!v.ok()) return v.status();
    c.text_risk_min = *v;
  }
  if (when.contains("no_matches")) {
    Result<bool> v = d.Bool(when["no_matches"], "no_matches");
    if (!v.ok()) return v.status();
    c.no_matches = *v;
  }
  return Status::Ok();
}

Result<RuleAction> DecodeAction(const Decoder& d, const json& item, size_t index) {
  const std::string at = "\"then\"[" + std::to_string(index) + "]: ";
  RuleAction a;
  if (item.is_string()) {
    const std::string name = item.get<std::string>();
    std::optional<Action> action = ActionFromName(name);
    if (!action) return d.Error(at + "unknown action " + Quote(name));
    if (*action == Action::kWebhook) {
      return d.Error(at + "\"webhook\" needs a name: {\"webhook\": \"<name>\"}");
    }
    a.action = *action;
    return a;
  }
  if (!item.is_object() || item.size() != 1) {
    return d.Error(at +
                   "an action is a name (\"block\") or an object with one key "
                   "({\"review\": {\"priority\": 80}}, {\"webhook\": \"soc\"})");
  }
  const std::string& name = item.begin().key();
  const json& arg = item.begin().value();
  std::optional<Action> action = ActionFromName(name);
  if (!action) return d.Error(at + "unknown action " + Quote(name));
  a.action = *action;
  if (*action == Action::kReview) {
    // {"review": null} is what YAML's "- review:" reads as: the default priority.
    if (arg.is_null()) return a;
    if (!arg.is_object()) return d.Error(at + "\"review\" takes {\"priority\": 0..100}");
    Status s = d.OnlyKeys(arg, {"priority"}, "review");
    if (!s.ok()) return s;
    if (arg.contains("priority")) {
      Result<int64_t> p =
          d.Integer(arg["priority"], "priority", kMinReviewPriority, kMaxReviewPriority);
      if (!p.ok()) return p.status();
      a.priority = static_cast<int>(*p);
    }
    return a;
  }
  if (*action == Action::kWebhook) {
    if (!arg.is_string()) return d.Error(at + "\"webhook\" takes a webhook name");
    a.webhook = arg.get<std::string>();
    return a;
  }
  return d.Error(at + Quote(name) + " takes no arguments: write it as a plain string");
}

Result<Rule> DecodeRule(const json& j, size_t index) {
  Rule r;
  if (!j.is_object()) return Decoder(RulePrefix(index, "")).Error("a rule must be an object");
  // The id first, so that every later error can name the rule by it.
  if (j.contains("id") && j["id"].is_string()) r.id = j["id"].get<std::string>();
  const Decoder d(RulePrefix(index, r.id));
  Status s = d.OnlyKeys(j, {"id", "description", "when", "then", "final"}, "");
  if (!s.ok()) return s;
  if (!j.contains("id")) return d.Error("missing \"id\"");
  if (!j["id"].is_string()) return d.Error("\"id\" must be a string");
  if (j.contains("description")) {
    Result<std::string> v = d.String(j["description"], "description");
    if (!v.ok()) return v.status();
    r.description = std::move(*v);
  }
  if (j.contains("when")) {
    s = DecodeConditions(d, j["when"], r.when);
    if (!s.ok()) return s;
  }
  if (!j.contains("then")) return d.Error("missing \"then\" (the rule's actions)");
  const json& then = j["then"];
  // A single action may be written without the list.
  if (then.is_array()) {
    if (then.empty()) return d.Error("\"then\" must list at least one action");
    for (size_t i = 0; i < then.size(); ++i) {
      Result<RuleAction> a = DecodeAction(d, then[i], i);
      if (!a.ok()) return a.status();
      r.then.push_back(std::move(*a));
    }
  } else {
    Result<RuleAction> a = DecodeAction(d, then, 0);
    if (!a.ok()) return a.status();
    r.then.push_back(std::move(*a));
  }
  if (j.contains("final")) {
    Result<bool> v = d.Bool(j["final"], "final");
    if (!v.ok()) return v.status();
    r.final = *v;
  }
  return r;
}

Result<Policy> DecodePolicy(const json& j) {
  const Decoder d("");
  if (!j.is_object()) return d.Error("a policy must be an object (a mapping) with \"rules\"");
  Status s = d.OnlyKeys(j, {"version", "version_note", "webhooks", "rules"}, "");
  if (!s.ok()) return s;
  Policy p;
  if (j.contains("version")) {
    Result<int64_t> v = d.Integer(j["version"], "version", 0, std::numeric_limits<int64_t>::max());
    if (!v.ok()) return v.status();
    p.version = *v;
  }
  if (j.contains("version_note")) {
    Result<std::string> v = d.String(j["version_note"], "version_note");
    if (!v.ok()) return v.status();
    p.version_note = std::move(*v);
  }
  if (j.contains("webhooks")) {
    const json& hooks = j["webhooks"];
    if (!hooks.is_object()) return d.Error("\"webhooks\" must be an object of name -> URL");
    for (auto it = hooks.begin(); it != hooks.end(); ++it) {
      if (!it.value().is_string()) {
        return d.Error("webhooks[" + Quote(it.key()) + "]: the URL must be a string");
      }
      p.webhooks[it.key()] = it.value().get<std::string>();
    }
  }
  if (!j.contains("rules")) return d.Error("missing \"rules\"");
  const json& rules = j["rules"];
  if (!rules.is_array()) return d.Error("\"rules\" must be a list");
  if (rules.size() > kMaxPolicyRules) {
    return Status::LimitExceeded("policy has " + std::to_string(rules.size()) +
                                 " rules, over the limit of " + std::to_string(kMaxPolicyRules));
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    Result<Rule> r = DecodeRule(rules[i], i);
    if (!r.ok()) return r.status();
    p.rules.push_back(std::move(*r));
  }
  return p;
}

// ---------------------------------------------------------------------------
// Evaluation.

int Severity(Action a) {
  switch (a) {
    case Action::kAllow:
      return 0;
    case Action::kReview:
      return 1;
    case Action::kBlock:
      return 2;
    default:
      return -1;  // not a verdict
  }
}

// The label a condition sees: the entry's when it has the key, else the bank's.
const std::string* EffectiveLabel(const MatchFact& m, const std::string& key) {
  if (auto it = m.entry_labels.find(key); it != m.entry_labels.end()) return &it->second;
  if (auto it = m.bank_labels.find(key); it != m.bank_labels.end()) return &it->second;
  return nullptr;
}

template <typename T>
bool Contains(const std::vector<T>& values, const T& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

bool MatchHolds(const RuleConditions& c, const MatchFact& m) {
  if (!c.signals.empty() && !Contains(c.signals, m.signal)) return false;
  if (c.bank_kind && *c.bank_kind != m.bank_kind) return false;
  if (!c.banks.empty() && !Contains(c.banks, m.bank)) return false;
  for (const auto& [key, values] : c.labels) {
    const std::string* v = EffectiveLabel(m, key);
    if (v == nullptr || !Contains(values, *v)) return false;
  }
  if (c.max_distance && m.distance > *c.max_distance) return false;
  // Digests are exact: a quality threshold is about perceptual hashes only.
  if (c.min_quality && m.signal == SignalType::kPdq && m.quality < *c.min_quality) return false;
  return true;
}

bool InputHolds(const RuleConditions& c, const PolicyInput& in) {
  if (!c.content_kinds.empty() && !Contains(c.content_kinds, in.content_kind)) return false;
  if (!c.surfaces.empty() && !Contains(c.surfaces, in.surface)) return false;
  if (c.text_risk_min && !(in.text_risk && *in.text_risk >= *c.text_risk_min)) return false;
  if (c.no_matches && !in.matches.empty()) return false;
  return true;
}

json ActionToJson(const RuleAction& a) {
  switch (a.action) {
    case Action::kReview:
      return json{{"review", {{"priority", a.priority}}}};
    case Action::kWebhook:
      return json{{"webhook", a.webhook}};
    default:
      return std::string(ActionName(a.action));
  }
}

json StringsToJson(const std::vector<std::string>& v) {
  json out = json::array();
  for (const std::string& s : v) out.push_back(s);
  return out;
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAllow:
      return "allow";
    case Action::kReview:
      return "review";
    case Action::kBlock:
      return "block";
    case Action::kReportDraft:
      return "report_draft";
    case Action::kWebhook:
      return "webhook";
  }
  return "unknown";
}

std::optional<Action> ActionFromName(std::string_view name) {
  for (Action a :
       {Action::kAllow, Action::kReview, Action::kBlock, Action::kReportDraft, Action::kWebhook}) {
    if (ActionName(a) == name) return a;
  }
  return std::nullopt;
}

bool RuleConditions::HasMatchConditions() const {
  return !signals.empty() || bank_kind.has_value() || !banks.empty() || !labels.empty() ||
         max_distance.has_value() || min_quality.has_value();
}

Status ValidatePolicy(const Policy& policy) {
  if (policy.rules.size() > kMaxPolicyRules) {
    return Status::LimitExceeded("policy has " + std::to_string(policy.rules.size()) +
                                 " rules, over the limit of " + std::to_string(kMaxPolicyRules));
  }
  if (policy.version < 0) return Status::InvalidArgument("\"version\" must not be negative");
  if (policy.version_note.size() > kMaxPolicyTextLength) {
    return Status::InvalidArgument("\"version_note\" is longer than " +
                                   std::to_string(kMaxPolicyTextLength) + " bytes");
  }
  if (policy.webhooks.size() > kMaxPolicyWebhooks) {
    return Status::InvalidArgument("policy defines " + std::to_string(policy.webhooks.size()) +
                                   " webhooks; at most " + std::to_string(kMaxPolicyWebhooks) +
                                   " are allowed");
  }
  for (const auto& [name, url] : policy.webhooks) {
    const std::string at = "webhooks[" + Quote(name) + "]: ";
    if (!IsName(name, kMaxWebhookNameLength)) {
      return Status::InvalidArgument(at + "a webhook name is 1.." +
                                     std::to_string(kMaxWebhookNameLength) +
                                     " characters of [A-Za-z0-9._-]");
    }
    if (!IsWebhookUrl(url)) {
      return Status::InvalidArgument(
          at +
          "the URL must start with http:// or https://, name a host, contain no spaces "
          "and be at most " +
          std::to_string(kMaxWebhookUrlLength) + " bytes");
    }
  }
  std::set<std::string_view> ids;
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& r = policy.rules[i];
    const Decoder d(RulePrefix(i, r.id));
    if (!IsName(r.id, kMaxRuleIdLength)) {
      return d.Error("\"id\" must be 1.." + std::to_string(kMaxRuleIdLength) +
                     " characters of [A-Za-z0-9._-]");
    }
    if (!ids.insert(r.id).second) return d.Error("duplicate rule id " + Quote(r.id));
    if (r.description.size() > kMaxPolicyTextLength) {
      return d.Error("\"description\" is longer than " + std::to_string(kMaxPolicyTextLength) +
                     " bytes");
    }
    const RuleConditions& c = r.when;
    const auto list_ok = [&](size_t n, std::string_view key) -> Status {
      if (n > kMaxConditionValues) {
        return d.Error(Quote(key) + " has " + std::to_string(n) + " values; at most " +
                       std::to_string(kMaxConditionValues) + " are allowed");
      }
      return Status::Ok();
    };
    for (const auto& [key, n] : {std::pair<std::string_view, size_t>{"signal", c.signals.size()},
                                 {"bank", c.banks.size()},
                                 {"content_kind", c.content_kinds.size()},
                                 {"surface", c.surfaces.size()},
                                 {"labels", c.labels.size()}}) {
      Status s = list_ok(n, key);
      if (!s.ok()) return s;
    }
    for (const std::string& bank : c.banks) {
      if (!ValidateBankName(bank).ok()) return d.Error("invalid bank name " + Quote(bank));
    }
    for (const auto& [key, values] : c.labels) {
      if (key.empty()) return d.Error("a label name in \"labels\" is empty");
      if (values.empty()) return d.Error("\"labels." + key + "\" must not be an empty list");
      Status s = list_ok(values.size(), "labels." + key);
      if (!s.ok()) return s;
    }
    if (c.max_distance && (*c.max_distance < 0 || *c.max_distance > kMaxPolicyDistance)) {
      return d.Error(RangeError("max_distance", int64_t{*c.max_distance}, 0, kMaxPolicyDistance));
    }
    if (c.min_quality && (*c.min_quality < 0 || *c.min_quality > 100)) {
      return d.Error(RangeError("min_quality", int64_t{*c.min_quality}, 0, 100));
    }
    for (const std::string& kind : c.content_kinds) {
      if (!IsContentKind(kind)) {
        return d.Error("unknown content kind " + Quote(kind) +
                       " in \"content_kind\" (image, video, file, hashes, message)");
      }
    }
    for (const std::string& surface : c.surfaces) {
      if (surface.empty()) return d.Error("a surface in \"surface\" is empty");
    }
    if (c.text_risk_min && !(*c.text_risk_min >= 0.0 && *c.text_risk_min <= 1.0)) {
      return d.Error(RangeError("text_risk_min", *c.text_risk_min, 0.0, 1.0));
    }
    if (c.no_matches && c.HasMatchConditions()) {
      return d.Error("\"no_matches\" cannot be combined with conditions on matches");
    }
    if (r.then.empty()) return d.Error("\"then\" must list at least one action");
    bool has_review = false, has_report = false, has_allow = false, has_block = false;
    std::set<std::pair<Action, std::string>> seen;
    for (const RuleAction& a : r.then) {
      if (!seen.insert({a.action, a.webhook}).second) {
        return d.Error("action " + Quote(ActionName(a.action)) +
                       (a.action == Action::kWebhook ? " " + Quote(a.webhook) : std::string()) +
                       " appears twice in \"then\"");
      }
      switch (a.action) {
        case Action::kAllow:
          has_allow = true;
          break;
        case Action::kReview:
          has_review = true;
          if (a.priority < kMinReviewPriority || a.priority > kMaxReviewPriority) {
            return d.Error(RangeError("priority", int64_t{a.priority}, kMinReviewPriority,
                                      kMaxReviewPriority));
          }
          break;
        case Action::kBlock:
          has_block = true;
          break;
        case Action::kReportDraft:
          has_report = true;
          break;
        case Action::kWebhook:
          if (policy.webhooks.count(a.webhook) == 0) {
            return d.Error("webhook " + Quote(a.webhook) + " is not defined in \"webhooks\"");
          }
          break;
        default:
          return d.Error("unknown action number " + std::to_string(static_cast<int>(a.action)));
      }
      if (a.action != Action::kWebhook && !a.webhook.empty()) {
        return d.Error("only a webhook action names a webhook");
      }
      if (a.action != Action::kReview && a.priority != kDefaultReviewPriority) {
        return d.Error("only a review action has a priority");
      }
    }
    if (has_allow && (has_review || has_block)) {
      return d.Error("\"allow\" contradicts \"review\" or \"block\" in the same rule");
    }
    // Human in the loop: a report is only ever drafted for a person to
    // confirm, so the rule that drafts one must also queue the item.
    if (has_report && !has_review) {
      return d.Error(
          "\"report_draft\" needs a \"review\" action in the same rule "
          "(a person confirms every report)");
    }
  }
  return Status::Ok();
}

Result<Policy> ParsePolicy(std::string_view text) {
  if (text.size() > kMaxPolicyBytes) {
    return Status::LimitExceeded("policy is " + std::to_string(text.size()) +
                                 " bytes, over the limit of " + std::to_string(kMaxPolicyBytes));
  }
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    return Status::InvalidArgument("policy is not valid UTF-8 (at byte " + std::to_string(bad) +
                                   ")");
  }
  // Everything below may throw (allocation, a library's unexpected error):
  // no exception leaves the library.
  try {
    const size_t first = text.find_first_not_of(" \t\r\n");
    const bool is_json = first != std::string_view::npos && text[first] == '{';
    Result<json> doc = is_json ? ReadJson(text) : ReadYaml(text);
    if (!doc.ok()) return doc.status();
    Result<Policy> policy = DecodePolicy(*doc);
    if (!policy.ok()) return policy.status();
    Status s = ValidatePolicy(*policy);
    if (!s.ok()) return s;
    return policy;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("policy could not be read: ") + e.what());
  }
}

std::string PolicyToJson(const Policy& policy) {
  json j = json::object();
  j["version"] = policy.version;
  j["version_note"] = policy.version_note;
  j["webhooks"] = json::object();
  for (const auto& [name, url] : policy.webhooks) j["webhooks"][name] = url;
  j["rules"] = json::array();
  for (const Rule& r : policy.rules) {
    const RuleConditions& c = r.when;
    json when = json::object();
    if (!c.signals.empty()) {
      json signals = json::array();
      for (SignalType t : c.signals) signals.push_back(std::string(SignalTypeName(t)));
      when["signal"] = std::move(signals);
    }
    if (c.bank_kind) when["bank_kind"] = std::string(BankKindName(*c.bank_kind));
    if (!c.banks.empty()) when["bank"] = StringsToJson(c.banks);
    if (!c.labels.empty()) {
      json labels = json::object();
      for (const auto& [key, values] : c.labels) labels[key] = StringsToJson(values);
      when["labels"] = std::move(labels);
    }
    if (c.max_distance) when["max_distance"] = *c.max_distance;
    if (c.min_quality) when["min_quality"] = *c.min_quality;
    if (!c.content_kinds.empty()) when["content_kind"] = StringsToJson(c.content_kinds);
    if (!c.surfaces.empty()) when["surface"] = StringsToJson(c.surfaces);
    if (c.text_risk_min) when["text_risk_min"] = *c.text_risk_min;
    if (c.no_matches) when["no_matches"] = true;
    json then = json::array();
    for (const RuleAction& a : r.then) then.push_back(ActionToJson(a));
    j["rules"].push_back(json{{"id", r.id},
                              {"description", r.description},
                              {"when", std::move(when)},
                              {"then", std::move(then)},
                              {"final", r.final}});
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

Policy DefaultPolicy() {
  Policy p;
  p.version_note = "default policy";
  const auto known = [](std::string id, std::string description,
                        std::map<std::string, std::vector<std::string>> labels, int priority) {
    Rule r;
    r.id = std::move(id);
    r.description = std::move(description);
    r.when.bank_kind = BankKind::kBlock;
    r.when.labels = std::move(labels);
    r.then = {RuleAction{Action::kBlock, kDefaultReviewPriority, ""},
              RuleAction{Action::kReview, priority, ""}};
    return r;
  };
  Rule allow;
  allow.id = "allow-list";
  allow.description =
      "A hit in an allow bank (a known false positive) allows the content and stops here.";
  allow.when.bank_kind = BankKind::kAllow;
  allow.then = {RuleAction{Action::kAllow, kDefaultReviewPriority, ""}};
  allow.final = true;
  p.rules.push_back(std::move(allow));
  p.rules.push_back(known("known-category-a",
                          "Known material of category A (A, A1, A2): block, review first.",
                          {{"category", {"A", "A1", "A2"}}}, 90));
  p.rules.push_back(known("known-category-b",
                          "Known material of category B (B, B1, B2): block, review soon.",
                          {{"category", {"B", "B1", "B2"}}}, 70));
  p.rules.push_back(known("known-material", "A match in a block bank: block, and review.", {},
                          kDefaultReviewPriority));
  // Conversation risk: the thresholds of the risk engine's review and urgent
  // levels (text/risk_engine.h), so that what the engine calls "review" is
  // queued by default. Review only: a conversation is never blocked by a
  // score alone.
  const auto risk = [](std::string id, std::string description, double min, int priority) {
    Rule r;
    r.id = std::move(id);
    r.description = std::move(description);
    r.when.text_risk_min = min;
    r.then = {RuleAction{Action::kReview, priority, ""}};
    return r;
  };
  p.rules.push_back(risk("conversation-risk",
                         "A conversation's grooming risk at the review level: review.", 0.45, 60));
  p.rules.push_back(risk("conversation-urgent",
                         "A conversation's grooming risk at the urgent level: review first.", 0.7,
                         85));
  return p;
}

Decision Evaluate(const Policy& policy, const PolicyInput& input) {
  Decision d;
  d.policy_version = policy.version;
  for (const Rule& rule : policy.rules) {
    if (!InputHolds(rule.when, input)) continue;
    Reason reason;
    if (rule.when.HasMatchConditions()) {
      for (size_t i = 0; i < input.matches.size(); ++i) {
        if (MatchHolds(rule.when, input.matches[i])) reason.matches.push_back(i);
      }
      if (reason.matches.empty()) continue;
    }
    reason.rule = rule.id;
    reason.description = rule.description;
    for (const RuleAction& a : rule.then) {
      reason.actions.push_back(a.action);
      if (Severity(a.action) > Severity(d.action)) d.action = a.action;
      switch (a.action) {
        case Action::kReview:
          reason.review_priority =
              std::max(reason.review_priority.value_or(a.priority), a.priority);
          d.review_priority = std::max(d.review_priority.value_or(a.priority), a.priority);
          break;
        case Action::kReportDraft:
          d.report_draft = true;
          break;
        case Action::kWebhook:
          reason.webhooks.push_back(a.webhook);
          if (!Contains(d.webhooks, a.webhook)) d.webhooks.push_back(a.webhook);
          break;
        default:
          break;
      }
    }
    d.reasons.push_back(std::move(reason));
    if (rule.final) break;
  }
  return d;
}

json DecisionToJson(const Decision& decision, const PolicyInput& input) {
  json j = json::object();
  j["action"] = std::string(ActionName(decision.action));
  j["review_priority"] = decision.review_priority ? json(*decision.review_priority) : json(nullptr);
  j["report_draft"] = decision.report_draft;
  j["webhooks"] = StringsToJson(decision.webhooks);
  j["policy_version"] = decision.policy_version;
  j["reasons"] = json::array();
  for (const Reason& r : decision.reasons) {
    json reason = json::object();
    reason["rule"] = r.rule;
    reason["description"] = r.description;
    json actions = json::array();
    for (Action a : r.actions) actions.push_back(std::string(ActionName(a)));
    reason["actions"] = std::move(actions);
    reason["review_priority"] = r.review_priority ? json(*r.review_priority) : json(nullptr);
    reason["webhooks"] = StringsToJson(r.webhooks);
    json matches = json::array();
    for (size_t i : r.matches) {
      if (i >= input.matches.size()) continue;
      const MatchFact& m = input.matches[i];
      Labels labels = m.bank_labels;
      for (const auto& [k, v] : m.entry_labels) labels[k] = v;
      json labels_json = json::object();
      for (const auto& [k, v] : labels) labels_json[k] = v;
      matches.push_back(json{{"index", i},
                             {"bank", m.bank},
                             {"bank_kind", std::string(BankKindName(m.bank_kind))},
                             {"entry_id", m.entry_id},
                             {"signal", std::string(SignalTypeName(m.signal))},
                             {"distance", m.distance},
                             {"quality", m.quality >= 0 ? json(m.quality) : json(nullptr)},
                             {"labels", std::move(labels_json)}});
    }
    reason["matches"] = std::move(matches);
    j["reasons"].push_back(std::move(reason));
  }
  return j;
}

}  // namespace safeguard
