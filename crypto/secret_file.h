#pragma once
// Secret state files (the cookie key seed, the upstream client's NTS cookie
// jar): written so that a crash or kill -9 at any moment leaves either the old
// file or the new one, never a torn or empty one, readable by the owner only.
#include <string>
#include <string_view>

namespace ntsd::crypto {

// Writes `content` to `path` as mode 0600: a temp file beside it (O_EXCL,
// O_NOFOLLOW), write, fsync, rename over `path`, fsync the directory. False
// with an operator-readable `error`; the temp file is removed on failure.
bool write_secret_file_atomically(const std::string& path, std::string_view content, std::string& error);

// The directory part of `path` ("." when there is none).
std::string parent_directory(const std::string& path);

}  // namespace ntsd::crypto
