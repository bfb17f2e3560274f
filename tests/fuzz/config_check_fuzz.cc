// Fuzzes what `ntsd --check` does with a config file's text (daemon/check.cc,
// as the daemon's --check path runs it): parse, print errors and warnings, then for a parsed config
// key_ring_size_error() for its nts rotate/keepkeys and nts_server_mode().
// Invariants: no crash; every printed diagnostic (error, warning, key ring
// refusal) starts with the file name, and a FILE:LINE one names a line that
// exists; the key ring refusal appears exactly when the ring would exceed
// kMaxKeyRingSlots; every mode has its line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/parser.h"
#include "config/tokenizer.h"
#include "crypto/key_ring.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view kFile = "fuzz.conf";

// "fuzz.conf: ..." or "fuzz.conf:LINE: ..." with 1 <= LINE <= lines.
void check_diagnostic(const std::string& line, int lines) {
  check(line.size() > kFile.size() + 2 && line.compare(0, kFile.size(), kFile) == 0 &&
        line[kFile.size()] == ':');
  size_t i = kFile.size() + 1;
  if (line[i] == ' ') return;
  long n = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
    n = n * 10 + (line[i] - '0');
    check(n <= lines);
    ++i;
  }
  check(n >= 1 && line.compare(i, 2, ": ") == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ntsd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const config::ParseResult r = config::parse_config_text(text, kFile);
  const int lines = config::count_lines(text);
  for (const std::string& e : r.errors) check_diagnostic(e, lines);
  for (const std::string& w : r.warnings) check_diagnostic(w, lines);
  check(r.config.has_value() == r.errors.empty());
  if (!r.config) return 0;

  const config::NtsSettings& nts = r.config->nts;
  const int64_t retention = int64_t{nts.keep_days} * 86400;
  const std::string why = crypto::key_ring_size_error(nts.rotate_seconds, retention);
  check(why.empty() ==
        (crypto::key_ring_slots(nts.rotate_seconds, retention) <= crypto::kMaxKeyRingSlots));
  if (!why.empty()) {
    check_diagnostic(std::string(kFile) + ": " + why, lines);  // as check_config prints it
    check(why.rfind("nts rotate ", 0) == 0 && why.find("nts keepkeys ") != std::string::npos);
    return 0;
  }
  const config::NtsServerMode mode = config::nts_server_mode(nts);
  check(config::nts_server_on(nts) == (mode == config::NtsServerMode::kOnEnabled ||
                                       mode == config::NtsServerMode::kOnCertAndKey));
  const std::string_view mode_text = config::nts_server_mode_text(mode);
  check(mode_text.rfind("NTS server: ", 0) == 0 && mode_text != "NTS server: ?");
  return 0;
}
