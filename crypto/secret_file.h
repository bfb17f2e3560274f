#pragma once
// State files (the cookie key seed, the upstream client's NTS cookie jar, the
// driftfile): written so that a crash or kill -9 at any moment leaves either
// the old file or the new one, never a torn or empty one.
#include <sys/types.h>

#include <string>
#include <string_view>

namespace ntsd::crypto {

// Writes `content` to `path` with permissions `mode` (whatever the umask): a
// temp file beside it (O_EXCL, O_NOFOLLOW), write, fsync, rename over `path`,
// fsync the directory. False with an operator-readable `error`; the temp file
// is removed on failure.
bool write_file_atomically(const std::string& path, std::string_view content, mode_t mode,
                           std::string& error);

// write_file_atomically() as mode 0600: readable by the owner only.
bool write_secret_file_atomically(const std::string& path, std::string_view content,
                                  std::string& error);

// The directory part of `path` ("." when there is none).
std::string parent_directory(const std::string& path);

}  // namespace ntsd::crypto
