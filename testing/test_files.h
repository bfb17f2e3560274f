#pragma once
// Test-only: a fresh folder under $TEST_TMPDIR and whole-file read/write, for
// the tests of file formats (clock/'s cookie jar, driftfile, statistics).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ntsd::testing {

// $TEST_TMPDIR/name (else /tmp/name), emptied and created.
inline std::string temp_dir(const char* name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::filesystem::path dir = std::filesystem::path(base ? base : "/tmp") / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ntsd::testing
