// Which back end a store URL names (internal): one rule for OpenStore and
// OpenRecordStore, so the two connections of a service always reach the same
// database.
#pragma once

#include <string>
#include <string_view>

#include "safeguard/core/status.h"

namespace safeguard::store_internal {

struct StoreUrl {
  bool postgres = false;
  std::string target;  // the SQLite path (":memory:" included) or the libpq conninfo
};

// The URL rules documented on OpenStore (store.h).
// Errors: kInvalidArgument (unknown scheme).
inline Result<StoreUrl> ParseStoreUrl(const std::string& url) {
  std::string_view u = url;
  if (u.starts_with("sqlite://")) return StoreUrl{false, std::string(u.substr(9))};
  if (u.starts_with("sqlite:")) return StoreUrl{false, std::string(u.substr(7))};
  if (u.starts_with("postgres://") || u.starts_with("postgresql://")) return StoreUrl{true, url};
  // A libpq keyword string ("host=... dbname=...") is never a file name.
  if (u.find('=') != std::string_view::npos) return StoreUrl{true, url};
  if (u.find("://") != std::string_view::npos) {
    return Status::InvalidArgument("unknown store URL scheme: " + url);
  }
  return StoreUrl{false, url};
}

}  // namespace safeguard::store_internal
