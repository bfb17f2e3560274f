// The TLS context's start-up errors in plain words (issue 13 item 7): the
// file's own errno, not OpenSSL's "BIO routines::system lib".
#include "ke/tls_context.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "testing/test_pki.h"

namespace ntsd::ke {
namespace {

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    dir_ = testing::test_tmpdir() + "/tls_context_test";
    ASSERT_TRUE(testing::make_test_pki(dir_, testing::KeyKind::kEcdsaP256, pki_, &error)) << error;
  }
  std::string make_error(const std::string& cert, const std::string& key) {
    std::string error;
    std::vector<std::string> warnings;
    EXPECT_EQ(make_tls_context(TlsSettings{cert, key}, &warnings, &error), nullptr);
    return error;
  }
  std::string dir_;
  testing::TestPki pki_;
};

TEST_F(TlsContextTest, MissingFilesSayNoSuchFile) {
  EXPECT_EQ(make_error(dir_ + "/nope.pem", pki_.key),
            "nts cert " + dir_ + "/nope.pem: No such file or directory");
  EXPECT_EQ(make_error(pki_.cert, dir_ + "/nope.key"),
            "nts key " + dir_ + "/nope.key: No such file or directory");
  EXPECT_EQ(make_error(dir_, pki_.key), "nts cert " + dir_ + ": not a regular file");
}

TEST_F(TlsContextTest, ContentsErrorsAreNamed) {
  const std::string junk = dir_ + "/junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  EXPECT_EQ(make_error(junk, pki_.key), "cannot load certificate chain " + junk +
                                            ": no PEM block in it (expected -----BEGIN ...-----)");
  std::string other_cert, other_key, error;
  ASSERT_TRUE(testing::make_server_cert(pki_, dir_ + "/other", testing::KeyKind::kEcdsaP256,
                                        "other", other_cert, other_key, &error))
      << error;
  EXPECT_EQ(make_error(pki_.cert, other_key),
            "private key " + other_key + " does not match certificate " + pki_.cert);
}

// The private key's mode as the NTS guide lays it out (root:ntsd 0640, or
// 0600): anything open to every user, or writable by the group, stops the
// start, --check and a reload, with the fix in the message.
TEST_F(TlsContextTest, KeyPermissionsAreChecked) {
  const std::string& key = pki_.key;
  for (const mode_t good : {0600, 0640, 0400, 0440}) {
    ASSERT_EQ(::chmod(key.c_str(), good), 0);
    EXPECT_EQ(key_file_permission_error(key), "") << std::oct << good;
    std::string error;
    std::vector<std::string> warnings;
    EXPECT_NE(make_tls_context(TlsSettings{pki_.cert, key}, &warnings, &error), nullptr) << error;
  }
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  const std::string owner = "owner uid " + std::to_string(st.st_uid) + " gid " + std::to_string(st.st_gid);
  const std::string fix = "a private key must be readable by root and the daemon's group only; fix: chown root:ntsd " +
                          key + " && chmod 0640 " + key + " (certbot keeps both across renewals)";
  const struct {
    mode_t mode;
    const char* what;
  } bad[] = {{0644, "readable by every user (mode 0644"},
             {0604, "readable by every user (mode 0604"},
             {0602, "open to every user (mode 0602"},
             {0641, "open to every user (mode 0641"},
             {0660, "writable by its group (mode 0660"},
             {0620, "writable by its group (mode 0620"}};
  for (const auto& b : bad) {
    ASSERT_EQ(::chmod(key.c_str(), b.mode), 0);
    const std::string want = "nts key " + key + " is " + b.what + ", " + owner + "): " + fix;
    EXPECT_EQ(key_file_permission_error(key), want);
    EXPECT_EQ(make_error(pki_.cert, key), want);
  }
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  // A missing key is the open's error, not this check's.
  EXPECT_EQ(key_file_permission_error(dir_ + "/nope.key"), "");
}

TEST_F(TlsContextTest, NotAfterAndCaChecks) {
  std::string error;
  std::vector<std::string> warnings;
  auto ctx = make_tls_context(TlsSettings{pki_.cert, pki_.key}, &warnings, &error);
  ASSERT_NE(ctx, nullptr) << error;
  const auto not_after = tls_context_not_after(*ctx);
  ASSERT_TRUE(not_after);
  EXPECT_GT(*not_after, static_cast<int64_t>(std::time(nullptr)));

  std::string summary;
  EXPECT_TRUE(check_ca_location(pki_.ca_cert, &summary, &error)) << error;
  EXPECT_EQ(summary, "nts ca " + pki_.ca_cert + ": 1 CA certificate(s)");
  EXPECT_TRUE(check_ca_location(dir_, &summary, &error)) << error;
  EXPECT_FALSE(check_ca_location(dir_ + "/missing.pem", &summary, &error));
  EXPECT_EQ(error, "nts ca " + dir_ + "/missing.pem: No such file or directory");
  const std::string junk = dir_ + "/junk-ca.pem";
  std::ofstream(junk) << "nothing here\n";
  EXPECT_FALSE(check_ca_location(junk, &summary, &error));
  EXPECT_EQ(error.rfind("nts ca " + junk + ": no CA certificate loaded", 0), 0u) << error;
}

}  // namespace
}  // namespace ntsd::ke
