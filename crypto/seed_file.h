// The fleet seed file (`nts keyseed FILE`): read it, or in standalone mode
// create it. Start-up code: errors come back as operator-readable messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ntsd::crypto {

// Decodes seed file content (pure): exactly 64 hex digits and at most one trailing newline;
// nullopt with `why` set ("byte N is not a hex digit", "it holds N bytes") otherwise.
std::optional<std::vector<uint8_t>> decode_seed(const std::vector<uint8_t>& content,
                                                std::string& why);
// Reads a seed: exactly 64 hex digits and at most one trailing newline (the
// output of `openssl rand -hex 32`). nullopt with `error` set if missing, not
// a regular file, in any other format, or readable or writable by group/others.
std::optional<std::vector<uint8_t>> read_seed_file(const std::string& path, std::string& error);
// Writes a fresh random seed atomically (mode 0600, temp + fsync + rename + fsync dir); false with
// error.
bool create_seed_file(const std::string& path, std::string& error);
// Reads the seed, creating it first if the file does not exist (standalone mode).
std::optional<std::vector<uint8_t>> load_or_create_seed(const std::string& path,
                                                        std::string& error);

}  // namespace ntsd::crypto
