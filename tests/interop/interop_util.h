#pragma once
// Test-only helpers for running third-party NTS clients against ntsd on loopback.

#include <cstdint>
#include <memory>
#include <string>

#include "crypto/key_snapshot.h"

namespace ntsd::interop {

struct CommandResult {
  int exit_code = -1;  // -1 if it could not run or was killed
  std::string output;  // stdout + stderr
};

// Runs `command` through /bin/sh with `timeout` seconds (coreutils timeout, SIGKILL after), capturing output.
CommandResult run_command(const std::string& command, int timeout_seconds);
// A currently free loopback port of SOCK_STREAM or SOCK_DGRAM type.
uint16_t free_port(int type);
// A key publisher with a fixed test seed.
std::unique_ptr<crypto::KeyPublisher> test_keys();
// True if path exists and is executable.
bool executable(const std::string& path);
std::string read_text(const std::string& path);

}  // namespace ntsd::interop
