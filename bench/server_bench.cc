// The request path, per request: plain NTP (respond() plus the transmit
// restamp, on the bytes chrony sends) and NTS (BatchResponder on batches of
// chrony-shaped requests, with same-binary references and the parse alone).
// bazel run -c opt //bench:server_bench
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <vector>

#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "server/batch_responder.h"
#include "server/nts_request.h"
#include "server/respond.h"
#include "testing/nts_test_client.h"

namespace {

using namespace ntsd;

std::vector<uint8_t> chrony_style_request(uint64_t transmit) {
  std::vector<uint8_t> packet(48, 0);
  packet[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
  packet[2] = 6;
  packet[3] = 0x20;
  proto::store_timestamp(packet, proto::kOffsetTransmit, proto::NtpTimestamp{transmit});
  return packet;
}

void BM_RespondPlain(benchmark::State& state) {
  const server::ServerState server_state = server::local_reference_state();
  const auto request = chrony_style_request(0x1234'5678'9abc'def0ull);
  std::array<uint8_t, 48> out{};
  proto::NtpTimestamp rx{0xeb2a'5f10'0000'0000ull};
  for (auto _ : state) {
    rx.raw += 4096;
    const server::Verdict verdict = server::respond(request, rx, server_state, out);
    server::stamp_transmit(out, rx);
    benchmark::DoNotOptimize(verdict);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RespondPlain);

// A batch of 64 distinct requests as one worker round handles them.
void BM_RespondPlainBatch64(benchmark::State& state) {
  const server::ServerState server_state = server::local_reference_state();
  std::vector<std::vector<uint8_t>> requests;
  for (int i = 0; i < 64; ++i) requests.push_back(chrony_style_request(0x1000 + i));
  std::vector<std::array<uint8_t, 48>> out(64);
  proto::NtpTimestamp rx{0xeb2a'5f10'0000'0000ull};
  for (auto _ : state) {
    rx.raw += 4096;
    for (int i = 0; i < 64; ++i) {
      benchmark::DoNotOptimize(server::respond(requests[i], rx, server_state, out[i]));
    }
    for (int i = 0; i < 64; ++i) server::stamp_transmit(out[i], rx);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_RespondPlainBatch64);

// A malformed request (an overrunning extension field), dropped and counted.
void BM_RespondDropMalformed(benchmark::State& state) {
  const server::ServerState server_state = server::local_reference_state();
  auto request = chrony_style_request(1);
  request.insert(request.end(), {0x12, 0x34, 0x00, 0x40, 1, 2, 3, 4});
  std::array<uint8_t, 56> out{};
  const proto::NtpTimestamp rx{0xeb2a'5f10'0000'0000ull};
  for (auto _ : state) {
    benchmark::DoNotOptimize(server::respond(request, rx, server_state, out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RespondDropMalformed);

// The whole NTS request path per request at batch size N: parse, open the
// cookie, verify the authenticator, build the reply, seal one fresh cookie
// and the reply (chrony's request shape: UID, one cookie, tag-only auth).
struct NtsBatch {
  explicit NtsBatch(size_t batch) {
    keys = ring.snapshot_at(1'900'000'000);
    for (size_t i = 0; i < batch; ++i) {
      const auto session = testing::sealed_session(keys->current(), static_cast<uint32_t>(i));
      requests.push_back(
          testing::request_bytes(session, 0x1000 + i, std::vector<uint8_t>(32, uint8_t(i))));
    }
    buffers.resize(batch);
    in.resize(batch);
    replies.resize(batch);
    for (size_t i = 0; i < batch; ++i) {
      buffers[i].resize(requests[i].size());
      in[i] = {requests[i], proto::NtpTimestamp{0xeb2a'5f10'0000'0000ull}};
    }
  }
  crypto::KeyRing ring{std::vector<uint8_t>(32, 0x11)};
  std::unique_ptr<const crypto::KeySnapshot> keys;
  std::vector<std::vector<uint8_t>> requests;
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<server::Request> in;
  std::vector<server::Reply> replies;
};

void nts_request_batch(benchmark::State& state, const crypto::NtsCrypto& crypto) {
  const size_t batch = static_cast<size_t>(state.range(0));
  NtsBatch b(batch);
  const server::ServerState server_state = server::local_reference_state();
  server::BatchResponder responder(crypto);
  const server::NtsPolicy policy{b.keys.get(), false};
  size_t ok = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) b.replies[i] = {b.buffers[i], {}};
    responder.prepare(b.in, server_state, policy, b.replies);
    responder.finish(proto::NtpTimestamp{0xeb2a'5f10'1000'0000ull}, b.replies);
    ok += b.replies[0].verdict.kind == server::ReplyKind::kNts;
    benchmark::ClobberMemory();
  }
  if (ok != static_cast<size_t>(state.iterations())) state.SkipWithError("a request was not answered with NTS");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
}

// The daemon's default (crypto::auto_nts_crypto(): the fast implementation on a CPU with AES-NI).
void BM_NtsRequestBatch(benchmark::State& state) { nts_request_batch(state, crypto::auto_nts_crypto()); }
BENCHMARK(BM_NtsRequestBatch)->Arg(1)->Arg(32)->Arg(64);

// References in the same binary, for a machine whose speed drifts (shared,
// noisy): the same path on the EVP implementation (`ntsd --crypto evp`), and
// on the fast implementation's XMM lanes (the general batched engine for
// every SIV item: what the YMM lanes did for authenticators and replies
// before the packet kernel).
void BM_NtsRequestBatchEvp(benchmark::State& state) { nts_request_batch(state, crypto::evp_nts_crypto()); }
BENCHMARK(BM_NtsRequestBatchEvp)->Arg(32);

void BM_NtsRequestBatchXmm(benchmark::State& state) {
  const crypto::NtsCrypto* xmm = crypto::fast_nts_crypto(crypto::FastLanes::kXmm);
  if (xmm == nullptr) {
    state.SkipWithError("no AES-NI");
    return;
  }
  nts_request_batch(state, *xmm);
}
BENCHMARK(BM_NtsRequestBatchXmm)->Arg(32);

// The parse alone, per request (the same chrony-shaped requests): the request
// path's one-pass scan, and the field list + parse_nts_request it replaced.
void BM_NtsRequestScan(benchmark::State& state) {
  NtsBatch b(32);
  server::NtsRequest out;
  for (auto _ : state) {
    for (const auto& request : b.requests) {
      benchmark::DoNotOptimize(server::scan_nts_request(request, &out));
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_NtsRequestScan);

void BM_NtsRequestParseList(benchmark::State& state) {
  NtsBatch b(32);
  server::NtsRequest out;
  for (auto _ : state) {
    for (const auto& request : b.requests) {
      const proto::ExtensionFieldList fields = proto::parse_extension_fields(request);
      benchmark::DoNotOptimize(server::parse_nts_request(request, fields, &out));
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_NtsRequestParseList);

}  // namespace
