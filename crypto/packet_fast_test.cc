#include "crypto/packet_fast.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "crypto/cpu.h"
#include "crypto/siv_evp.h"
#include "testing/test_bytes.h"

namespace ntsd::crypto {
namespace {

struct Message {
  std::vector<uint8_t> key, ad, nonce, plaintext, sealed;
};

Message make_message(std::mt19937_64& rng, size_t ad_len, size_t pt_len) {
  Message m;
  m.key = testing::random_bytes(rng, 32);
  m.ad = testing::random_bytes(rng, ad_len);
  m.nonce = testing::random_bytes(rng, packet_fast::kNonce);
  m.plaintext = testing::random_bytes(rng, pt_len);
  m.sealed.resize(pt_len + 16);
  const Bytes ad[] = {m.ad};
  EXPECT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, m.key, ad, m.nonce, m.plaintext, m.sealed));
  return m;
}

// Seals and opens the batch with the kernel and checks it against OpenSSL:
// same sealed bytes, every message opens, and a flipped bit in the tag, the
// ciphertext, the AD or the nonce fails (with the plaintext zeroed), as does
// opening under another message's key (a neighbour's in the batch where one
// differs: the message it may share a register with). Jobs read their key
// through key_of[i] when given (several jobs may point at one key).
void check_batch(std::mt19937_64& rng, std::vector<Message>& msgs,
                 const std::vector<const uint8_t*>& key_of = {}) {
  const size_t n = msgs.size();
  const auto key = [&](size_t i) { return key_of.empty() ? msgs[i].key.data() : key_of[i]; };
  std::vector<packet_fast::Job> jobs(n);
  std::vector<std::vector<uint8_t>> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].assign(msgs[i].plaintext.size() + 16, 0xee);
    jobs[i] = {key(i),        msgs[i].ad.data(),        msgs[i].ad.size(),
               msgs[i].nonce.data(), msgs[i].plaintext.data(), msgs[i].plaintext.size(),
               out[i].data(),        false};
  }
  packet_fast::seal(jobs.data(), n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(jobs[i].ok) << i;
    ASSERT_EQ(out[i], msgs[i].sealed) << "message " << i << " of " << n << ", ad "
                                      << msgs[i].ad.size() << ", pt " << msgs[i].plaintext.size();
  }

  // Open, some tampered: which part is chosen per message.
  std::vector<int> tamper(n);
  std::vector<std::vector<uint8_t>> sealed(n), ad(n), nonce(n), plain(n);
  const std::vector<uint8_t> stranger = testing::random_bytes(rng, 32);
  for (size_t i = 0; i < n; ++i) {
    sealed[i] = msgs[i].sealed;
    ad[i] = msgs[i].ad;
    nonce[i] = msgs[i].nonce;
    plain[i].assign(msgs[i].plaintext.size(), 0xee);
    // 0-1: none, 2: tag, 3: ciphertext, 4: AD, 5: nonce, 6: another message's key
    tamper[i] = static_cast<int>(rng() % 7);
    if (tamper[i] == 3 && msgs[i].plaintext.empty()) tamper[i] = 2;
    if (tamper[i] == 4 && ad[i].empty()) tamper[i] = 5;
    const uint8_t bit = static_cast<uint8_t>(1u << (rng() % 8));
    const uint8_t* open_key = key(i);
    switch (tamper[i]) {
      case 2: sealed[i][rng() % 16] ^= bit; break;
      case 3: sealed[i][16 + rng() % msgs[i].plaintext.size()] ^= bit; break;
      case 4: ad[i][rng() % ad[i].size()] ^= bit; break;
      case 5: nonce[i][rng() % 16] ^= bit; break;
      case 6:
        // The nearest other message whose key differs; a stranger's if none does.
        open_key = stranger.data();
        for (size_t d = 1; d < n; ++d) {
          const size_t j = (i + d) % n;
          if (std::memcmp(key(j), key(i), 32) != 0) {
            open_key = key(j);
            break;
          }
        }
        break;
      default: break;
    }
    jobs[i] = {open_key,        ad[i].data(),     ad[i].size(),
               nonce[i].data(),      sealed[i].data(), sealed[i].size(),
               plain[i].empty() ? nullptr : plain[i].data(), false};
  }
  packet_fast::open(jobs.data(), n);
  for (size_t i = 0; i < n; ++i) {
    if (tamper[i] < 2) {
      ASSERT_TRUE(jobs[i].ok) << i;
      ASSERT_EQ(plain[i], msgs[i].plaintext) << i;
    } else {
      ASSERT_FALSE(jobs[i].ok) << i << " tampered " << tamper[i];
      ASSERT_EQ(plain[i], std::vector<uint8_t>(plain[i].size(), 0)) << i;
    }
  }
}

class PacketFastTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_features().vaes256) GTEST_SKIP() << "no VAES";
  }
};

// Every AD length 0..70 and text length 0..70 (both sides of every block
// boundary and of the 16-byte xorend), in pairs and alone.
TEST_F(PacketFastTest, EveryShortShape) {
  std::mt19937_64 rng(1);
  for (size_t ad = 0; ad <= 70; ++ad) {
    for (size_t pt = 0; pt <= 70; ++pt) {
      std::vector<Message> msgs;
      const size_t n = 1 + (ad + pt) % 3;  // 1: alone, 2: a pair, 3: a pair and one alone
      for (size_t i = 0; i < n; ++i) msgs.push_back(make_message(rng, ad, pt));
      check_batch(rng, msgs);
    }
  }
}

// NTS's shapes: a request's authenticator (AD = header, UID, cookie, perhaps
// placeholders; tag only or encrypted placeholders) and a reply's (AD =
// header and UID; plaintext = fresh cookie fields), full batches of one shape.
TEST_F(PacketFastTest, NtsShapes) {
  std::mt19937_64 rng(2);
  const size_t shapes[][2] = {{192, 0}, {300, 0}, {192, 108}, {84, 108}, {84, 216}, {84, 76},
                              {84, 864}, {48 + 36 + 76, 0}};
  for (const auto& shape : shapes) {
    for (size_t n : {1u, 2u, 7u, 15u, 16u}) {
      std::vector<Message> msgs;
      for (size_t i = 0; i < n; ++i) msgs.push_back(make_message(rng, shape[0], shape[1]));
      check_batch(rng, msgs);
    }
  }
}

// Batches of every size 1..16 with random shapes: pairs of unequal chain
// lengths in one group, messages paired with themselves, groups of 1-8 pairs.
TEST_F(PacketFastTest, MixedShapes) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 40; ++round) {
    for (size_t n = 1; n <= packet_fast::kMaxJobs; ++n) {
      std::vector<Message> msgs;
      for (size_t i = 0; i < n; ++i) {
        const bool common = rng() % 2 == 0;
        msgs.push_back(make_message(rng, common ? 192 : rng() % 400, common ? 0 : rng() % 300));
      }
      check_batch(rng, msgs);
    }
  }
}

// Full batches of requests with a tag only and AD lengths of every kind
// (empty, under a block, any length up to 400 bytes; unequal chains in one
// batch), paired or alone, in groups of four pairs with unequal chains.
TEST_F(PacketFastTest, TagOnlyMixedAdLengths) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 60; ++round) {
    for (size_t n : {15u, 16u}) {
      std::vector<Message> msgs;
      for (size_t i = 0; i < n; ++i) {
        const size_t ad = round % 3 == 0 ? 192 : round % 3 == 1 ? rng() % 20 : rng() % 400;
        msgs.push_back(make_message(rng, ad, 0));
      }
      check_batch(rng, msgs);
    }
  }
}

// Jobs sharing one key pointer beside jobs with their own copy of that key
// and jobs under other keys, in one batch of one shape (so the kernel pairs
// them in every combination): each job is done under the key it points at.
TEST_F(PacketFastTest, SharedAndDistinctKeyPointers) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 40; ++round) {
    const size_t n = 1 + rng() % packet_fast::kMaxJobs;
    const bool text = round % 2 == 1;
    const auto shared = testing::random_bytes(rng, 32);
    std::vector<Message> msgs;
    std::vector<const uint8_t*> key_of;
    for (size_t i = 0; i < n; ++i) {
      msgs.push_back(make_message(rng, 192, text ? 108 : 0));
      const int how = static_cast<int>(rng() % 3);  // 0: the shared pointer, 1: a copy, 2: its own
      if (how < 2) {
        msgs.back().key = shared;
        const Bytes ad[] = {msgs.back().ad};
        ASSERT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, shared, ad, msgs.back().nonce,
                                 msgs.back().plaintext, msgs.back().sealed));
      }
      key_of.push_back(how == 0 ? shared.data() : nullptr);
    }
    for (size_t i = 0; i < n; ++i) {
      if (key_of[i] == nullptr) key_of[i] = msgs[i].key.data();
    }
    check_batch(rng, msgs, key_of);
  }
}

// Unusable jobs (no key, no output, a sealed input shorter than the tag) are refused; the rest
// of the batch is unaffected.
TEST_F(PacketFastTest, RefusesUnusableJobs) {
  std::mt19937_64 rng(4);
  Message m = make_message(rng, 100, 20);
  std::vector<uint8_t> plain(20);
  uint8_t short_sealed[8] = {};
  packet_fast::Job jobs[3] = {
      {m.key.data(), m.ad.data(), m.ad.size(), m.nonce.data(), m.sealed.data(), m.sealed.size(),
       plain.data(), false},
      {m.key.data(), m.ad.data(), m.ad.size(), m.nonce.data(), short_sealed, sizeof short_sealed,
       plain.data(), false},
      {m.key.data(), m.ad.data(), m.ad.size(), m.nonce.data(), m.sealed.data(), m.sealed.size(),
       nullptr, false},
  };
  packet_fast::open(jobs, 3);
  EXPECT_TRUE(jobs[0].ok);
  EXPECT_EQ(plain, m.plaintext);
  EXPECT_FALSE(jobs[1].ok);
  EXPECT_FALSE(jobs[2].ok);
}

}  // namespace
}  // namespace ntsd::crypto
