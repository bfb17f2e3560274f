// Fuzzes the control socket's request parser and the whole answer path
// (ops::parse_request, ops::answer_request) with a fixed status snapshot.
// Invariants: no crash; a request line longer than kMaxRequestBytes is
// refused; an accepted request's canonical line parses back to the same
// request; every answer is one line of JSON with a boolean "ok", and a
// privileged command from an unprivileged peer never reaches the actions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ops/control_protocol.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

class Source final : public ntsd::ops::StatusSource {
 public:
  ntsd::ops::DaemonStatus collect() const override {
    ntsd::ops::DaemonStatus s;
    s.server.workers.resize(1);
    return s;
  }
  ntsd::ops::ClientsSection clients(size_t limit) const override {
    ntsd::ops::ClientsSection c;
    c.tracked = true;
    c.busiest.resize(limit > 3 ? 3 : limit);
    return c;
  }
};

class Actions final : public ntsd::ops::Actions {
 public:
  bool reload_certificate(std::string* message) override {
    ++calls;
    *message = "reloaded";
    return true;
  }
  bool rotate_key(std::string* message) override {
    ++calls;
    *message = "refused";
    return false;
  }
  int calls = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto request = ntsd::ops::parse_request(line, &error);
  if (size > ntsd::ops::kMaxRequestBytes) check(!request);
  if (request) {
    check(request->rows >= 1 && request->rows <= ntsd::ops::kMaxClientRows);
    const auto again = ntsd::ops::parse_request(ntsd::ops::request_line(*request), &error);
    check(again && again->command == request->command && again->rows == request->rows);
  } else {
    check(!error.empty());
  }
  static const Source source;
  for (const bool privileged : {false, true}) {
    Actions actions;
    const std::string reply = ntsd::ops::answer_request(line, privileged, source, &actions);
    check(reply.find('\n') == std::string::npos);
    const auto parsed = nlohmann::json::parse(reply, nullptr, false);
    check(!parsed.is_discarded() && parsed.is_object() && parsed.contains("ok") && parsed["ok"].is_boolean());
    if (!privileged) check(actions.calls == 0);
    if (request && !ntsd::ops::command_info(request->command).privileged) check(actions.calls == 0);
  }
  return 0;
}
