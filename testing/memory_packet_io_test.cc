// The in-memory PacketIo's own checks: each breach of the PacketIo contract
// is recorded, so a worker test that expects none can fail.
#include "testing/memory_packet_io.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace ntsd::testing {
namespace {

using server::RxPacket;
using server::TxPacket;

bool mentions(const std::vector<std::string>& violations, const std::string& text) {
  for (const auto& v : violations) {
    if (v.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(MemoryPacketIo, delivers_queued_datagrams_in_batches_from_its_own_buffers) {
  MemoryPacketIo io(2, 4);
  std::string error;
  ASSERT_TRUE(io.start(&error));
  const Peer peer = ipv6_peer("2001:db8::1", 123);
  for (uint8_t i = 0; i < 6; ++i) {
    io.queue({std::vector<uint8_t>(48, i), peer, 1000 + i, static_cast<uint16_t>(i % 2)});
  }
  std::array<RxPacket, 8> rx;
  ASSERT_EQ(io.receive_batch(rx, 5), 4u);  // four receive slots
  EXPECT_EQ(io.calls().last_timeout_ms, 5);
  EXPECT_EQ(rx[3].payload[0], 3);
  EXPECT_EQ(rx[3].rx_unix_ns, 1003);
  EXPECT_EQ(rx[3].socket_index, 1);
  EXPECT_EQ(rx[3].peer_len, peer.length);
  const uint8_t* payload = rx[0].payload.data();
  io.release_batch();
  EXPECT_EQ(payload[0], MemoryPacketIo::kReleasedPoison);  // released: the backend's again
  io.set_max_per_receive(1);
  EXPECT_EQ(io.receive_batch(rx, 0), 1u);
  io.release_batch();
  EXPECT_EQ(io.receive_batch(std::span(rx).first(0), 0), 0u);  // never more than out.size()
  EXPECT_EQ(io.queued(), 1u);
  EXPECT_TRUE(io.violations().empty());
}

TEST(MemoryPacketIo, cuts_oversized_datagrams_and_marks_them_truncated) {
  MemoryPacketIo io;
  std::string error;
  ASSERT_TRUE(io.start(&error));
  io.queue({std::vector<uint8_t>(2000, 1)});
  std::array<RxPacket, 1> rx;
  ASSERT_EQ(io.receive_batch(rx, 0), 1u);
  EXPECT_EQ(rx[0].payload.size(), server::kMaxDatagram);
  EXPECT_TRUE(rx[0].truncated);
  io.release_batch();
}

TEST(MemoryPacketIo, records_replies_sent_from_lent_buffers_and_injected_errors) {
  MemoryPacketIo io(1, 4);
  std::string error;
  ASSERT_TRUE(io.start(&error));
  std::array<std::span<uint8_t>, 3> lent;
  io.lend_send_buffers(lent);
  EXPECT_EQ(lent[2].size(), server::kMaxDatagram);
  EXPECT_EQ(lent[2][0], MemoryPacketIo::kLentPoison);
  const Peer peer = ipv4_peer("192.0.2.9", 4000);
  lent[1][4] = 0x42;
  io.fail_next_sends(1);
  const std::array<TxPacket, 2> tx = {
      TxPacket{lent[0].first(48), peer.sockaddr_ptr(), peer.length, 0, 0},
      TxPacket{lent[1].subspan(4, 20), peer.sockaddr_ptr(), peer.length, 0, 1},
  };
  io.send_batch(tx);
  EXPECT_EQ(io.take_send_errors(), 1u);
  EXPECT_EQ(io.take_send_errors(), 0u);
  ASSERT_EQ(io.sent().size(), 1u);
  EXPECT_EQ(io.sent()[0].payload.size(), 20u);
  EXPECT_EQ(io.sent()[0].payload[0], 0x42);
  EXPECT_EQ(io.sent()[0].offset, 4u);
  EXPECT_EQ(io.sent()[0].buffer, 1u);
  EXPECT_EQ(io.sent()[0].peer, peer);
  EXPECT_TRUE(io.violations().empty());
}

TEST(MemoryPacketIo, flags_a_reply_not_written_in_its_lent_buffer) {
  MemoryPacketIo io;
  std::string error;
  ASSERT_TRUE(io.start(&error));
  std::array<std::span<uint8_t>, 2> lent;
  io.lend_send_buffers(lent);
  std::vector<uint8_t> copy(48, 0);
  const Peer peer = ipv4_peer("192.0.2.9", 4000);
  const std::array<TxPacket, 3> tx = {
      TxPacket{copy, peer.sockaddr_ptr(), peer.length, 0, 0},                // a copy elsewhere
      TxPacket{lent[0].first(48), peer.sockaddr_ptr(), peer.length, 0, 1},  // buffer 0 named as 1
      TxPacket{lent[1].first(48), peer.sockaddr_ptr(), peer.length, 0, 5},  // never lent
  };
  io.send_batch(tx);
  ASSERT_EQ(io.violations().size(), 3u);
  EXPECT_TRUE(mentions(io.violations(), "reply 0: payload is not inside lent buffer 0 (a copy)"));
  EXPECT_TRUE(mentions(io.violations(), "reply 1: payload is not inside lent buffer 1 (it is inside another one)"));
  EXPECT_TRUE(mentions(io.violations(), "reply 2: buffer 5 was not lent"));
}

TEST(MemoryPacketIo, flags_calls_out_of_order) {
  MemoryPacketIo io(1, 2);
  io.queue({std::vector<uint8_t>(48, 0)});
  io.queue({std::vector<uint8_t>(48, 0)});
  std::array<RxPacket, 1> rx;
  io.receive_batch(rx, 0);
  EXPECT_TRUE(mentions(io.violations(), "before a successful start()"));
  io.receive_batch(rx, 0);
  EXPECT_TRUE(mentions(io.violations(), "is not released"));
  std::array<std::span<uint8_t>, 3> lent;
  io.lend_send_buffers(lent);
  EXPECT_TRUE(mentions(io.violations(), "asked for 3 buffers of 2"));
  EXPECT_TRUE(lent[2].empty());
  io.lend_send_buffers(std::span(lent).first(1));
  EXPECT_TRUE(mentions(io.violations(), "twice without send_batch()"));
  io.send_batch({});
  const Peer peer = ipv4_peer("192.0.2.9", 4000);
  const std::array<TxPacket, 1> tx = {TxPacket{lent[0].first(48), peer.sockaddr_ptr(), peer.length, 0, 0}};
  io.send_batch(tx);
  EXPECT_TRUE(mentions(io.violations(), "send_batch() without lend_send_buffers()"));
}

TEST(MemoryPacketIo, start_fails_when_told_to) {
  MemoryPacketIo io;
  io.fail_start("no ring");
  std::string error;
  EXPECT_FALSE(io.start(&error));
  EXPECT_EQ(error, "no ring");
}

}  // namespace
}  // namespace ntsd::testing
