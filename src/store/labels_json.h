// Labels as stored by both backends: one JSON object of string values.
// Internal to the store library.
#pragma once

#include <string>
#include <string_view>

#include "safeguard/store/store.h"

namespace safeguard::store_internal {

std::string LabelsToJson(const Labels& labels);
// Anything but a JSON object of strings reads as no labels (a value written
// by this library always parses).
Labels LabelsFromJson(std::string_view text);

}  // namespace safeguard::store_internal
