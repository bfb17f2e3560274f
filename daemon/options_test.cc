// ntsd --version: every line an operator or a bug report needs.
#include "daemon/options.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace ntsd::daemon {
namespace {

// The line of `text` starting with `label`, without it ("" when absent).
// (No std::regex: g++ 12 warns inside it under the sanitizer builds' -O1.)
std::string line_after(const std::string& text, const std::string& label) {
  size_t at = text.find("\n" + label);
  if (at != std::string::npos) ++at;
  if (text.compare(0, label.size(), label) == 0) at = 0;
  if (at == std::string::npos) return "";
  const size_t end = text.find('\n', at);
  return text.substr(at + label.size(), end - at - label.size());
}

TEST(Options, VersionSaysBuildLibrariesAndFastPaths) {
  const std::string text = version_text();
  const std::string version = line_after(text, "ntsd ");
  ASSERT_FALSE(version.empty()) << text;
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(version[0]))) << text;
  const std::string built = line_after(text, "built:    ");
  // "2026-12-01 08:07:14 UTC with g++ 12.2.0"
  ASSERT_GE(built.size(), 24u) << text;
  EXPECT_EQ(built.substr(4, 1) + built.substr(7, 1) + built.substr(19, 10), "-- UTC with ") << text;
  EXPECT_TRUE(built.find(" with g++ ") != std::string::npos || built.find(" with clang ") != std::string::npos);
  EXPECT_EQ(line_after(text, "OpenSSL:  ").rfind("OpenSSL 3.", 0), 0u) << text;
  EXPECT_EQ(line_after(text, "kernel:   ").rfind("Linux ", 0), 0u) << text;
  std::string why;
  const bool uring = probe_io_uring(&why);
  EXPECT_EQ(line_after(text, "io_uring: ").rfind(uring ? "yes" : "no (" + why + ")", 0), 0u) << text;
  const std::string aes = line_after(text, "AES:      ");
  EXPECT_TRUE(aes.rfind("VAES (YMM) + AES-NI for ", 0) == 0 || aes.rfind("AES-NI for ", 0) == 0 ||
              aes.rfind("OpenSSL EVP for ", 0) == 0)
      << text;
  EXPECT_EQ(line_after(text, "NTS crypto: ").rfind(std::string(crypto::auto_nts_crypto().name()), 0), 0u)
      << text;
  EXPECT_EQ(text.back(), '\n');
}

// --crypto evp|fast|auto picks the NTS crypto implementation; anything else is a usage error.
TEST(Options, CryptoChoice) {
  const auto parse = [](std::vector<const char*> argv, int* exit_code) {
    argv.insert(argv.begin(), "ntsd");
    return parse_command_line(static_cast<int>(argv.size()), const_cast<char**>(argv.data()), exit_code);
  };
  int exit_code = -1;
  EXPECT_EQ(parse({}, &exit_code)->crypto, crypto::NtsCryptoChoice::kAuto);
  EXPECT_EQ(parse({"--crypto", "evp"}, &exit_code)->crypto, crypto::NtsCryptoChoice::kEvp);
  EXPECT_EQ(parse({"--crypto", "fast"}, &exit_code)->crypto, crypto::NtsCryptoChoice::kFast);
  EXPECT_EQ(parse({"--crypto=auto"}, &exit_code)->crypto, crypto::NtsCryptoChoice::kAuto);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(parse({"--crypto", "openssl"}, &exit_code));
  EXPECT_NE(testing::internal::GetCapturedStderr().find("--crypto"), std::string::npos);
  EXPECT_NE(exit_code, 0);
}

TEST(Options, VersionFlagExitsZero) {
  const char* argv[] = {"ntsd", "--version"};
  int exit_code = -1;
  testing::internal::CaptureStdout();
  EXPECT_FALSE(parse_command_line(2, const_cast<char**>(argv), &exit_code));
  EXPECT_EQ(testing::internal::GetCapturedStdout(), version_text());
  EXPECT_EQ(exit_code, 0);
}

}  // namespace
}  // namespace ntsd::daemon
