// Fuzzes the driftfile parser (//clock:driftfile) with arbitrary file text.
// Invariants: a value is given exactly when there is no warning; it is finite
// and within +-500 ppm; every warning names the file; a value given survives
// format_driftfile() and a second parse to within half a micro-ppm.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "clock/driftfile.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ntsd::clock::DriftRead r = ntsd::clock::parse_driftfile(text, "fuzz.drift");
  check(r.ppm.has_value() == r.warning.empty());
  if (!r.ppm) {
    check(r.warning.rfind("fuzz.drift: ", 0) == 0);
    return 0;
  }
  const double ppm = *r.ppm;
  check(std::isfinite(ppm) && std::fabs(ppm) <= 500.0 && !std::signbit(ppm == 0.0 ? ppm : 1.0));
  const ntsd::clock::DriftRead again =
      ntsd::clock::parse_driftfile(ntsd::clock::format_driftfile(ppm), "fuzz.drift");
  check(again.ppm.has_value() && std::fabs(*again.ppm - ppm) <= 0.5e-6 + 1e-12);
  return 0;
}
