// ntsd --version: every line an operator or a bug report needs.
#include "daemon/options.h"

#include <gtest/gtest.h>

#include <regex>

namespace ntsd::daemon {
namespace {

TEST(Options, VersionSaysBuildLibrariesAndFastPaths) {
  const std::string text = version_text();
  EXPECT_TRUE(std::regex_search(text, std::regex("^ntsd [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << text;
  EXPECT_TRUE(std::regex_search(
      text,
      std::regex("\nbuilt:    [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC with (g\\+\\+|clang) ")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("\nOpenSSL:  OpenSSL 3\\."))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("\nkernel:   Linux "))) << text;
  std::string why;
  const bool uring = probe_io_uring(&why);
  EXPECT_NE(text.find(uring ? "\nio_uring: yes" : "\nio_uring: no (" + why + ")"),
            std::string::npos)
      << text;
  EXPECT_TRUE(std::regex_search(
      text, std::regex("\nAES:      (VAES \\(YMM\\) \\+ AES-NI|AES-NI|OpenSSL EVP) for ")))
      << text;
  EXPECT_EQ(text.back(), '\n');
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
