// Fuzzes the ntp.conf parser with arbitrary bytes as file text.
// Invariants: exactly one of config / errors; every error names the file and a
// line that exists; a parsed config survives to_text() and parses back equal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/format.h"
#include "config/parser.h"
#include "config/tokenizer.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ntsd::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string_view file = "fuzz.conf";
  const ParseResult r = parse_config_text(text, file);

  check(r.config.has_value() != !r.errors.empty());

  const int lines = count_lines(text);
  for (const std::string& e : r.errors) {
    check(e.rfind("fuzz.conf:", 0) == 0);
    size_t i = file.size() + 1;
    long line = 0;
    while (i < e.size() && e[i] >= '0' && e[i] <= '9') {
      line = line * 10 + (e[i] - '0');
      check(line <= lines);
      ++i;
    }
    check(line >= 1 && line <= lines);
    check(e.compare(i, 2, ": ") == 0);
    check(e.find(", expected ") != std::string::npos);
  }

  if (r.config) {
    const std::string canonical = to_text(*r.config);
    const ParseResult again = parse_config_text(canonical, "canonical");
    check(again.config.has_value());
    check(*again.config == *r.config);
  }
  return 0;
}
