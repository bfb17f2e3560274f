#pragma once
// NTPsec-style ntp.conf -> Config. All or nothing: the result holds either a
// complete Config or every error in the file, each shaped
// `FILE:LINE: <what was found>, expected <what was expected>`.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace ntsd::config {

struct ParseResult {
  std::optional<Config> config;       // set exactly when errors is empty
  std::vector<std::string> errors;    // every problem, in line order
  std::vector<std::string> warnings;  // accepted but worth telling the operator (FILE:LINE: ...)
};

// Parses text; file_name prefixes every message.
ParseResult parse_config_text(std::string_view text, std::string_view file_name);
// Reads and parses path; an unreadable file gives one error "PATH: cannot read: <strerror>".
ParseResult parse_config_file(const std::string& path);

}  // namespace ntsd::config
