// Fuzzes the mode-6 (ntpq) path on untrusted bytes: proto::parse_mode6_request
// and server::respond_mode6 over a fixed status with sources, checking the
// reply invariants and aborting on any violation (sanitizers catch
// out-of-bounds reads): no reply to a non-request, fragments padded to 4 and
// at most 480 octets, the request's sequence echoed, and more than one
// fragment only when the whole reply is no larger than the request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proto/mode6.h"
#include "server/mode6_responder.h"

namespace {

using namespace ntsd;

void check(bool ok) {
  if (!ok) std::abort();
}

const ops::DaemonStatus& status() {
  static const ops::DaemonStatus* s = [] {
    auto* st = new ops::DaemonStatus;
    st->build.version = "fuzz";
    st->served.stratum = 2;
    st->served.reference_id = 0xc0000201;
    ops::ClockSection c;
    for (int i = 0; i < 140; ++i) {  // enough for READSTAT to need two fragments
      clock::SourceReport r;
      r.name = "time" + std::to_string(i) + ".example:4460";
      r.address = "[2001:db8::" + std::to_string(i) + "]:123";
      r.nts = i % 2 == 0;
      r.status = i == 0 ? clock::SourceStatus::kSystemPeer : clock::SourceStatus::kCandidate;
      r.valid = i % 3 != 0;
      r.header.stratum = static_cast<uint8_t>(i % 17);
      r.header.reference_id = 0x41424300u + i;
      c.sources.push_back(r);
    }
    st->clock = c;
    st->nts = ops::NtsSection{};
    return st;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> packet(data, size);
  proto::Mode6Request request;
  const proto::Mode6Parse parsed = proto::parse_mode6_request(packet, &request);
  if (parsed == proto::Mode6Parse::kOk) {
    check(request.data.size() <= proto::kMode6MaxData);
    check(request.data.data() == data + proto::kMode6HeaderSize || request.data.empty());
  }
  server::Mode6Reply reply;
  const server::Mode6Outcome outcome = server::respond_mode6(packet, status(), 1'700'000'000'000'000'000, &reply);
  if (parsed != proto::Mode6Parse::kOk) {
    check(outcome == server::Mode6Outcome::kDropped && reply.count == 0);
    return 0;
  }
  check(reply.count >= 1 && reply.count <= server::Mode6Reply::kMaxFragments);
  if (reply.wire_size() > size) check(reply.count == 1);
  size_t offset = 0;
  for (size_t i = 0; i < reply.count; ++i) {
    const auto& f = reply.fragments[i];
    const size_t n = reply.sizes[i];
    check(n >= proto::kMode6HeaderSize && n <= proto::kMode6MaxFragment && n % 4 == 0);
    check((f[0] & 7) == 6 && (f[1] & proto::kMode6Response) != 0);
    check((f[1] & proto::kMode6OpcodeMask) == request.opcode);
    check((f[2] << 8 | f[3]) == request.sequence && (f[6] << 8 | f[7]) == request.association);
    check(static_cast<size_t>(f[8] << 8 | f[9]) == offset);
    const size_t count = f[10] << 8 | f[11];
    check(proto::mode6_fragment_size(count) == n);
    const bool more = (f[1] & proto::kMode6More) != 0;
    check(more == (i + 1 < reply.count));
    if (outcome == server::Mode6Outcome::kRefused) check(count == 0 && (f[1] & proto::kMode6Error) != 0);
    offset += count;
  }
  return 0;
}
