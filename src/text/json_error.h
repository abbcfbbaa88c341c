// Why a JSON text does not parse, for error messages. Parsing is done without
// exceptions on the normal path (nlohmann::json::parse(..., false)); only
// when that fails is the text parsed again here to get nlohmann's message,
// which names the byte position. Exceptions stay inside this function.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace safeguard::text {

inline std::string JsonParseError(std::string_view text) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse(text);
    return parsed.is_discarded() ? "parse error" : "no error";
  } catch (const nlohmann::json::exception& e) {
    return e.what();
  }
}

}  // namespace safeguard::text
