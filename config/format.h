#pragma once
// Config -> canonical ntp.conf text (for `ntsd --check` and round-trip tests):
// parse_config_text(to_text(c)) gives back a Config equal to c.

#include <string>

#include "config/config.h"

namespace ntsd::config {

// Every setting of config as ntp.conf lines, defaults written out.
std::string to_text(const Config& config);

}  // namespace ntsd::config
