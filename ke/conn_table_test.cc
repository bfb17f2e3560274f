#include "ke/conn_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace ntsd::ke {
namespace {

struct FakeConnection : Evictable {
  explicit FakeConnection(int id) : id(id) {}
  void evict() override { evicted = true; }
  int id;
  bool evicted = false;
  ConnectionSlot slot;
};

AddressKey v4(uint8_t last) { return address_key({192, 0, 2, last}, false); }

std::shared_ptr<FakeConnection> conn(int id) { return std::make_shared<FakeConnection>(id); }

TEST(AddressKey, Ipv6CountsPerSlash64AndIpv4PerAddress) {
  const std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  std::array<uint8_t, 16> b = a;
  b[15] = 0xff;  // same /64
  EXPECT_EQ(address_key(a, true), address_key(b, true));
  b[7] = 2;  // another /64
  EXPECT_NE(address_key(a, true), address_key(b, true));
  EXPECT_NE(address_key({192, 0, 2, 1}, false), address_key({192, 0, 2, 2}, false));
  // An IPv4 address is never the same key as an IPv6 /64 with the same leading bytes.
  EXPECT_NE(address_key({192, 0, 2, 1}, false), address_key({192, 0, 2, 1}, true));
}

TEST(ConnectionTable, PerAddressCapCountsIpv6PerSlash64) {
  ConnectionTable t({.max_total = 100, .max_per_address = 2});
  const std::array<uint8_t, 16> base{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
  std::vector<std::shared_ptr<FakeConnection>> c;
  std::shared_ptr<Evictable> victim;
  for (int i = 0; i < 3; ++i) {
    auto addr = base;
    addr[15] = static_cast<uint8_t>(i + 1);  // three addresses of one /64
    c.push_back(conn(i));
    const Admission want = i < 2 ? Admission::kAdmitted : Admission::kRefusedPerAddress;
    EXPECT_EQ(t.admit(c.back()->slot, address_key(addr, true), c.back(), &victim), want) << i;
  }
  auto other = base;
  other[7] = 2;
  auto d = conn(9);
  EXPECT_EQ(t.admit(d->slot, address_key(other, true), d, &victim), Admission::kAdmitted);
  EXPECT_EQ(t.count(address_key(base, true)), 2u);
  EXPECT_EQ(t.addresses(), 2u);
  // A refused connection was never in: releasing it changes nothing; a released one frees its
  // place.
  t.release(c[2]->slot);
  EXPECT_EQ(t.total(), 3u);
  t.release(c[0]->slot);
  t.release(c[0]->slot);  // idempotent
  EXPECT_EQ(t.count(address_key(base, true)), 1u);
  auto e = conn(10);
  EXPECT_EQ(t.admit(e->slot, address_key(base, true), e, &victim), Admission::kAdmitted);
  for (auto& x : {c[1], d, e}) t.release(x->slot);
  EXPECT_EQ(t.total(), 0u);
  EXPECT_EQ(t.addresses(), 0u);
}

TEST(ConnectionTable, AtTheCapTheOldestUnfinishedHandshakeIsEvicted) {
  ConnectionTable t({.max_total = 3, .max_per_address = 0});
  auto a = conn(1), b = conn(2), c = conn(3);
  std::shared_ptr<Evictable> victim;
  ASSERT_EQ(t.admit(a->slot, v4(1), a, &victim), Admission::kAdmitted);
  ASSERT_EQ(t.admit(b->slot, v4(2), b, &victim), Admission::kAdmitted);
  ASSERT_EQ(t.admit(c->slot, v4(3), c, &victim), Admission::kAdmitted);
  EXPECT_TRUE(t.established(a->slot));  // a finished TLS: never a victim

  auto d = conn(4);
  ASSERT_EQ(t.admit(d->slot, v4(4), d, &victim), Admission::kAdmittedEvicting);
  EXPECT_EQ(victim.get(), b.get()) << "b is the oldest without finished TLS";
  victim.reset();
  EXPECT_EQ(t.total(), 3u);
  EXPECT_EQ(t.count(v4(2)), 0u);
  EXPECT_FALSE(t.established(b->slot)) << "an evicted connection cannot finish";
  t.release(b->slot);  // its later release is a no-op
  EXPECT_EQ(t.total(), 3u);

  auto e = conn(5);
  ASSERT_EQ(t.admit(e->slot, v4(5), e, &victim), Admission::kAdmittedEvicting);
  EXPECT_EQ(victim.get(), c.get());
  victim.reset();
  // d finishes TLS and e leaves: a, d; f comes in, and at the cap again g evicts f.
  EXPECT_TRUE(t.established(d->slot));
  t.release(e->slot);
  auto f = conn(6), g = conn(7);
  ASSERT_EQ(t.admit(f->slot, v4(6), f, &victim), Admission::kAdmitted);
  ASSERT_EQ(t.admit(g->slot, v4(7), g, &victim), Admission::kAdmittedEvicting);
  EXPECT_EQ(victim.get(), f.get());
  victim.reset();
  // a, d, g: g finishes too; now everything at the cap has finished TLS and a newcomer is refused.
  EXPECT_TRUE(t.established(g->slot));
  auto h = conn(8);
  EXPECT_EQ(t.admit(h->slot, v4(8), h, &victim), Admission::kRefusedFull);
  EXPECT_EQ(victim, nullptr);
  EXPECT_EQ(t.pending(), 0u);
  for (auto& x : {a, d, g}) t.release(x->slot);
  EXPECT_EQ(t.total(), 0u);
}

TEST(ConnectionTable, EvictOldestForRelief) {
  ConnectionTable t({.max_total = 10, .max_per_address = 0});
  std::shared_ptr<Evictable> victim;
  EXPECT_FALSE(t.evict_oldest(&victim));
  auto a = conn(1), b = conn(2);
  t.admit(a->slot, v4(1), a, &victim);
  t.admit(b->slot, v4(1), b, &victim);
  ASSERT_TRUE(t.evict_oldest(&victim));
  EXPECT_EQ(victim.get(), a.get());
  ASSERT_TRUE(t.evict_oldest(&victim));
  EXPECT_EQ(victim.get(), b.get());
  EXPECT_FALSE(t.evict_oldest(&victim));
  EXPECT_EQ(t.total(), 0u);
}

TEST(ConnectionTable, AVictimBeingDestroyedStillLeavesTheTable) {
  ConnectionTable t({.max_total = 1, .max_per_address = 0});
  std::shared_ptr<Evictable> victim;
  ConnectionSlot orphan_slot;
  {
    auto a = conn(1);
    t.admit(orphan_slot, v4(1), a, &victim);
  }  // owner gone, slot still in (as if its destructor had not yet released it)
  auto b = conn(2);
  EXPECT_EQ(t.admit(b->slot, v4(2), b, &victim), Admission::kAdmittedEvicting);
  EXPECT_EQ(victim, nullptr);
  t.release(orphan_slot);
  EXPECT_EQ(t.total(), 1u);
  t.release(b->slot);
}

}  // namespace
}  // namespace ntsd::ke
