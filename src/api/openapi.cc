#include "openapi.inc"
#include "safeguard/api/server.h"

namespace safeguard {

std::string_view OpenApiDocument() {
  return std::string_view(reinterpret_cast<const char*>(kOpenApiJson), sizeof(kOpenApiJson));
}

}  // namespace safeguard
