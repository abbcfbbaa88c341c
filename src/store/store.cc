#include "safeguard/store/store.h"

#include <openssl/sha.h>

#include <cctype>
#include <filesystem>
#include <system_error>

#include "signal_bytes.h"
#include "store_url.h"

namespace safeguard {

std::string_view BankKindName(BankKind kind) {
  return kind == BankKind::kAllow ? "allow" : "block";
}

Result<BankKind> ParseBankKind(std::string_view name) {
  if (name == "block") return BankKind::kBlock;
  if (name == "allow") return BankKind::kAllow;
  return Status::InvalidArgument("unknown bank kind '" + std::string(name) +
                                 "' (expected block or allow)");
}

std::string_view SignalTypeName(SignalType type) {
  switch (type) {
    case SignalType::kPdq:
      return "pdq";
    case SignalType::kMd5:
      return "md5";
    case SignalType::kSha1:
      return "sha1";
    case SignalType::kSha256:
      return "sha256";
    case SignalType::kVpdq:
      return "vpdq";
    case SignalType::kTmk:
      return "tmk";
  }
  return "unknown";
}

Result<SignalType> ParseSignalType(std::string_view name) {
  if (name == "pdq") return SignalType::kPdq;
  if (name == "md5") return SignalType::kMd5;
  if (name == "sha1") return SignalType::kSha1;
  if (name == "sha256") return SignalType::kSha256;
  if (name == "vpdq") return SignalType::kVpdq;
  if (name == "tmk") return SignalType::kTmk;
  return Status::InvalidArgument("unknown signal type '" + std::string(name) +
                                 "' (expected pdq, md5, sha1, sha256, vpdq or tmk)");
}

std::string PayloadKey(std::string_view payload) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest);
  return store_internal::SignalHex(
      std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

Result<std::string> NormalizeSignalValue(SignalType type, std::string_view value) {
  const size_t want = SignalHexDigits(type);
  if (value.size() != want) {
    return Status::InvalidArgument("a " + std::string(SignalTypeName(type)) + " value has " +
                                   std::to_string(want) + " hex digits, not " +
                                   std::to_string(value.size()));
  }
  std::string out(value);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isxdigit(u)) {
      return Status::InvalidArgument("not a hex digit in " + std::string(SignalTypeName(type)) +
                                     " value");
    }
    c = static_cast<char>(std::tolower(u));
  }
  return out;
}

Status ValidateBankName(std::string_view name) {
  if (name.empty() || name.size() > kMaxBankNameLength) {
    return Status::InvalidArgument("a bank name has 1 to " + std::to_string(kMaxBankNameLength) +
                                   " characters");
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '.' && c != '_' && c != '-') {
      return Status::InvalidArgument("bank name '" + std::string(name) +
                                     "': only letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  Result<store_internal::StoreUrl> target = store_internal::ParseStoreUrl(url);
  if (!target.ok()) return target.status();
  if (target->postgres) return OpenPostgresStore(target->target);
  return OpenSqliteStore(target->target);
}

Result<std::unique_ptr<Store>> OpenExistingStore(const std::string& url) {
  Result<store_internal::StoreUrl> target = store_internal::ParseStoreUrl(url);
  if (!target.ok()) return target.status();
  if (!target->postgres && target->target != ":memory:") {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(target->target, ec)) {
      return Status::NotFound("no store at " + target->target);
    }
  }
  return OpenStore(url);
}

Status ValidateBankSpec(const BankSpec& spec) {
  if (Status s = ValidateBankName(spec.name); !s.ok()) return s;
  if (spec.pdq_max_distance < 0 || spec.pdq_max_distance > 64) {
    return Status::InvalidArgument("pdq_max_distance must be 0..64");
  }
  if (spec.pdq_min_quality < 0 || spec.pdq_min_quality > 100) {
    return Status::InvalidArgument("pdq_min_quality must be 0..100");
  }
  return Status::Ok();
}

}  // namespace safeguard
