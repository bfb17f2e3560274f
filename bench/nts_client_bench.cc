// ntsbench's client-side NTS work per request, without sockets: building and
// sealing requests, verifying replies (from ntsd's own request path) and
// feeding the jars, one at a time (crypto::Aead) or a batch of 64 per
// crypto::NtsCrypto call, as the load thread does. 64 clients on 8 sessions'
// keys, as bench/compare.sh's NTS runs. bazel run -c opt //bench:nts_client_bench
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <vector>

#include "clock/nts_codec.h"
#include "testing/nts_test_client.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "server/respond.h"

namespace {

using namespace ntsd;

constexpr size_t kBatch = 64;
constexpr int64_t kNow = 1'900'000'000;

struct Fixture {
  crypto::KeyRing ring{std::vector<uint8_t>(32, 7)};
  std::unique_ptr<const crypto::KeySnapshot> keys = ring.snapshot_at(kNow);
  std::vector<clock::NtsSession> clients;
  std::array<std::array<uint8_t, clock::kMaxRequestLength>, kBatch> packets{};
  std::array<size_t, kBatch> lengths{};
  std::array<clock::RequestRecord, kBatch> records{};
  std::vector<std::vector<uint8_t>> replies;

  Fixture() {
    std::vector<clock::NtsSession> sessions;
    for (uint32_t s = 0; s < 8; ++s) {
      sessions.push_back(ntsd::testing::sealed_session(keys->current(), s + 1,
                                                        crypto::AeadId::kAesSivCmac256, 8));
    }
    for (size_t c = 0; c < kBatch; ++c) clients.push_back(sessions[c % sessions.size()]);
    // One genuine reply per client, to verify again and again.
    const server::ServerState state = server::local_reference_state();
    for (size_t i = 0; i < kBatch; ++i) {
      lengths[i] = build(i);
      std::vector<uint8_t> reply(lengths[i]);
      const server::Verdict v =
          server::respond(std::span(packets[i]).first(lengths[i]), proto::NtpTimestamp{1}, state,
                          reply, server::NtsPolicy{keys.get(), false}, proto::NtpTimestamp{2});
      reply.resize(v.is_reply() ? v.reply_size : 0);
      replies.push_back(std::move(reply));
    }
  }

  std::array<uint8_t, clock::kUniqueIdLength> uid(size_t i) const {
    std::array<uint8_t, clock::kUniqueIdLength> u{};
    std::memcpy(u.data(), &i, sizeof i);
    return u;
  }
  // A sealed request for client i (its cookie put back so that the jar stays full).
  size_t build(size_t i) {
    auto& s = clients[i];
    const size_t n = clock::build_nts_request(s, 0x1000 + i, uid(i), 0, packets[i], records[i]);
    s.jar.add(s.last_cookie);
    return n;
  }
  size_t build_unsealed(size_t i) {
    auto& s = clients[i];
    const size_t n =
        clock::build_unsealed_nts_request(s, 0x1000 + i, uid(i), 0, packets[i], records[i]);
    s.jar.add(s.last_cookie);
    return n;
  }
};

const crypto::NtsCrypto* implementation(int64_t which) {
  return which == 0 ? &crypto::evp_nts_crypto() : crypto::fast_nts_crypto();
}

void BM_BuildAndSealOneAtATime(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) benchmark::DoNotOptimize(f.build(i));
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_BuildAndSealOneAtATime);

// Arg: 0 EVP, 1 fast.
void BM_BuildAndSealBatch64(benchmark::State& state) {
  const crypto::NtsCrypto* crypto = implementation(state.range(0));
  if (crypto == nullptr) return state.SkipWithError("no AES-NI");
  Fixture f;
  std::array<clock::RequestToSeal, kBatch> items;
  bool ok[kBatch];
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      items[i] = {&f.clients[i], std::span(f.packets[i]).first(f.build_unsealed(i))};
    }
    clock::seal_nts_requests(*crypto, items, ok);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(std::string(crypto->name()));
}
BENCHMARK(BM_BuildAndSealBatch64)->Arg(0)->Arg(1);

void BM_VerifyOneAtATime(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      benchmark::DoNotOptimize(clock::verify_nts_reply(f.clients[i], f.records[i], f.replies[i]));
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_VerifyOneAtATime);

void BM_VerifyBatch64(benchmark::State& state) {
  const crypto::NtsCrypto* crypto = implementation(state.range(0));
  if (crypto == nullptr) return state.SkipWithError("no AES-NI");
  Fixture f;
  std::array<clock::ReplyToVerify, kBatch> items;
  for (size_t i = 0; i < kBatch; ++i) items[i] = {&f.clients[i], &f.records[i], f.replies[i]};
  std::array<clock::ReplyVerdict, kBatch> verdicts;
  for (auto _ : state) {
    clock::verify_nts_replies(*crypto, items, verdicts);
    benchmark::DoNotOptimize(verdicts);
  }
  if (verdicts[0] != clock::ReplyVerdict::kVerified) state.SkipWithError("did not verify");
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(std::string(crypto->name()));
}
BENCHMARK(BM_VerifyBatch64)->Arg(0)->Arg(1);

}  // namespace
