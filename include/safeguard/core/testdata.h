// Locating ../shared/testdata for conformance tests.
//
// Tests read the reference data where it is: $SAFEGUARD_TESTDATA if set,
// else <source root>/../shared/testdata. When neither exists, tests that
// need it skip themselves by name (GTEST_SKIP) rather than pass silently.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace safeguard {

// The test data folder, or "" if it is absent.
inline std::string FindTestDataDir(const char* source_dir) {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("SAFEGUARD_TESTDATA"); env != nullptr && *env != '\0') {
    return fs::is_directory(env) ? std::string(env) : std::string();
  }
  fs::path p = fs::path(source_dir) / ".." / "shared" / "testdata";
  return fs::is_directory(p) ? fs::weakly_canonical(p).string() : std::string();
}

}  // namespace safeguard
