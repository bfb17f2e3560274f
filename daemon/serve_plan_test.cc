#include "daemon/serve_plan.h"

#include <gtest/gtest.h>

#include "config/parser.h"

namespace ntsd::daemon {
namespace {

TEST(ServePlan, embedded_default_is_loopback_on_an_unprivileged_port) {
  std::string error;
  const auto plan = make_serve_plan(std::nullopt, DaemonOptions{}, &error);
  ASSERT_TRUE(plan) << error;
  ASSERT_EQ(plan->server.listen.size(), 2u);
  EXPECT_EQ(plan->server.listen[0].to_string(), "127.0.0.1:0");
  EXPECT_EQ(plan->server.listen[1].to_string(), "[::1]:0");
  EXPECT_EQ(plan->server.port, kEmbeddedNtpPort);
  EXPECT_GE(plan->server.port, 1024);
  EXPECT_EQ(plan->initial_state.stratum, 10);
}

TEST(ServePlan, config_file_defaults_to_port_123_on_all_addresses) {
  const auto parsed = config::parse_config_text("server time.example.com iburst\n", "ntp.conf");
  ASSERT_TRUE(parsed.config);
  std::string error;
  const auto plan = make_serve_plan(parsed.config, DaemonOptions{}, &error);
  ASSERT_TRUE(plan) << error;
  EXPECT_EQ(plan->server.port, 123);
  ASSERT_EQ(plan->server.listen.size(), 2u);
  EXPECT_EQ(plan->server.listen[0].to_string(), "0.0.0.0:0");
  EXPECT_EQ(plan->server.listen[1].to_string(), "[::]:0");
  // An upstream is configured: nothing is claimed before the first selection.
  EXPECT_EQ(plan->initial_state.leap, proto::Leap::kUnsynchronized);
  EXPECT_EQ(plan->initial_state.stratum, 16);
}

TEST(ServePlan, config_without_upstreams_keeps_the_local_reference) {
  const auto parsed = config::parse_config_text("ntpport 11999\n", "ntp.conf");
  ASSERT_TRUE(parsed.config);
  std::string error;
  const auto plan = make_serve_plan(parsed.config, DaemonOptions{}, &error);
  ASSERT_TRUE(plan) << error;
  EXPECT_EQ(plan->initial_state.stratum, 10);
  EXPECT_EQ(plan->initial_state.leap, proto::Leap::kNone);
}

TEST(ServePlan, config_and_command_line_choose_port_workers_and_addresses) {
  const auto parsed = config::parse_config_text(
      "ntpport 11999\nworkers 3\ninterface listen 127.0.0.1\ninterface listen ::1\n", "ntp.conf");
  ASSERT_TRUE(parsed.config) << (parsed.errors.empty() ? "" : parsed.errors[0]);
  std::string error;
  auto plan = make_serve_plan(parsed.config, DaemonOptions{}, &error);
  ASSERT_TRUE(plan) << error;
  EXPECT_EQ(plan->server.port, 11999);
  EXPECT_EQ(plan->server.workers, 3);
  ASSERT_EQ(plan->server.listen.size(), 2u);
  EXPECT_EQ(plan->server.listen[0].to_string(), "127.0.0.1:0");
  EXPECT_EQ(plan->server.listen[1].to_string(), "[::1]:0");

  DaemonOptions overrides;
  overrides.workers = 1;
  overrides.ntp_port = 0;
  overrides.io_backend = server::IoBackend::kMmsg;
  plan = make_serve_plan(parsed.config, overrides, &error);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->server.port, 0);
  EXPECT_EQ(plan->server.workers, 1);
  EXPECT_EQ(plan->server.backend, server::IoBackend::kMmsg);
}

}  // namespace
}  // namespace ntsd::daemon
