#pragma once
// ntsctl's human output: the JSON `data` of a reply as aligned text tables,
// in the manner of `chronyc sources` and `ntpq -p`. Pure: JSON in, text out.
#include <nlohmann/json.hpp>
#include <string>

#include "ops/control_protocol.h"

namespace ntsd::ops {

// The text for one command's reply data (ends with a newline).
std::string render_text(Command command, const nlohmann::json& data);

// A duration for people: "+12.3us", "4.56ms", "1.234s" (signed adds '+').
std::string human_seconds(double seconds, bool signed_value);
// "37s", "12m", "5h", "3d": how long ago, for `when`/`last` columns.
std::string human_age(double seconds);

}  // namespace ntsd::ops
