#include "labels_json.h"

#include <nlohmann/json.hpp>

namespace safeguard::store_internal {

std::string LabelsToJson(const Labels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Labels LabelsFromJson(std::string_view text) {
  Labels labels;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return labels;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) labels[it.key()] = it.value().get<std::string>();
  }
  return labels;
}

}  // namespace safeguard::store_internal
