#include "clock/cookie_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <set>

#include "crypto/secret_file.h"

namespace ntsd::clock {
namespace {

// The first line. The number is the format version: a file with another
// version was written by another ntsd and is left alone (kForeign), so an
// older ntsd started by mistake never destroys a newer one's sessions.
constexpr std::string_view kMagicPrefix = "ntsd-cookie-jar ";
constexpr std::string_view kMagic = "ntsd-cookie-jar 1";
// 256 sources of 8 cookies of 256 bytes in hex are about 1.1 MB.
constexpr size_t kMaxFileSize = 4u << 20;
constexpr size_t kMaxLineSize = 1024;  // "cookie " + 512 hex digits is the longest line
// KE times are Unix seconds; 2^40 s is the year 36812, far beyond any real value.
constexpr int64_t kMaxKeTime = int64_t{1} << 40;

std::string errno_text() { return std::strerror(errno); }

// Host names and "host:port" keys are written as one token: printable ASCII, no space.
bool valid_token(std::string_view s) {
  if (s.empty() || s.size() > kMaxPersistedHostSize) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <class Bytes>
bool decode_hex(std::string_view hex, size_t max_bytes, Bytes& out) {
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() / 2 > max_bytes) return false;
  out.clear();
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

void append_hex(SecretText& out, std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
}

template <class T>
bool parse_uint(std::string_view s, T max, T& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > static_cast<uint64_t>(max)) {
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

// Splits on runs of spaces; at most 4 fields are ever needed, more is an error.
size_t split(std::string_view line, std::string_view (&fields)[4]) {
  size_t n = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size()) break;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (n == 4) return 5;
    fields[n++] = line.substr(start, i - start);
  }
  return n;
}

std::string_view first_line(std::string_view text) {
  const size_t nl = text.find('\n');
  return nl == std::string_view::npos ? text : text.substr(0, nl);
}

bool session_in_bounds(const PersistedSession& s, std::string& why) {
  if (!valid_token(s.ke_server)) {
    why = "NTS-KE server name is empty, too long or holds spaces or control characters";
  } else if (!valid_token(s.ntp_host)) {
    why = "NTP server name is empty, too long or holds spaces or control characters";
  } else if (s.ntp_port == 0) {
    why = "NTP port 0";
  } else if (s.ke_time < 0 || s.ke_time > kMaxKeTime) {
    why = "NTS-KE time out of range";
  } else if (s.c2s.empty() || s.c2s.size() > kMaxPersistedKeySize || s.s2c.size() != s.c2s.size()) {
    why = "key length must be 1..64 bytes and the same in both directions";
  } else if (s.cookies.size() > kMaxPersistedCookies) {
    why = "more than 8 cookies";
  } else {
    for (const auto& c : s.cookies) {
      if (c.empty() || c.size() > kMaxPersistedCookieSize) {
        why = "a cookie is empty or longer than 256 bytes";
        return false;
      }
    }
    return true;
  }
  return false;
}

// A session is stale when its NTS-KE is more than max_age away from now in
// either direction: a KE "in the future" means one of the two clock readings
// was wrong, and a fresh KE costs less than trusting either.
bool stale(const PersistedSession& s, const CookieLoadOptions& options) {
  const __int128 age = static_cast<__int128>(options.now) - s.ke_time;
  const __int128 limit = options.max_age < 0 ? 0 : options.max_age;
  return age > limit || -age > limit;
}

class Parser {
 public:
  Parser(std::string_view name, CookieFileLoad& out) : name_(name), out_(out) {}

  void fail(size_t line, std::string_view what) {
    out_.kind = CookieFileKind::kCorrupt;
    out_.warnings.push_back(std::string(name_) + ":" + std::to_string(line) + ": " +
                            std::string(what) +
                            "; the NTS sessions saved there are ignored (every source will "
                            "do a fresh NTS-KE)");
    for (auto& s : out_.sessions) cleanse_session(s);
    out_.sessions.clear();
  }

  // Returns false (after fail()) at the first error.
  bool run(std::string_view text) {
    size_t line_no = 1;
    size_t pos = first_line(text).size() + 1;
    bool in_block = false;
    bool seen_eof = false;
    PersistedSession cur;
    // Which of the required block fields were seen.
    bool have_time = false, have_aead = false, have_ntp = false, have_c2s = false, have_s2c = false;
    std::set<std::string> keys;
    while (pos < text.size()) {
      ++line_no;
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) {
        fail(line_no, "the last line is not terminated (truncated file)");
        return false;
      }
      const std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.size() > kMaxLineSize) {
        fail(line_no, "line longer than 1024 characters");
        return false;
      }
      for (char c : line) {
        if (static_cast<unsigned char>(c) < ' ' || c == '\x7f') {
          fail(line_no, "control character in line");
          return false;
        }
      }
      if (line.empty() || line[0] == '#') continue;
      std::string_view f[4];
      const size_t n = split(line, f);
      if (n == 0) continue;
      if (seen_eof) {
        fail(line_no, "text after the eof line");
        return false;
      }
      if (!in_block) {
        if (f[0] == "source" && n == 2) {
          if (!valid_token(f[1])) {
            fail(line_no, "bad NTS-KE server name");
            return false;
          }
          if (out_.sessions.size() == kMaxPersistedSessions) {
            fail(line_no, "more than 256 sources");
            return false;
          }
          if (!keys.insert(std::string(f[1])).second) {
            fail(line_no, "second block for the same source");
            return false;
          }
          cur = PersistedSession{};
          cur.ke_server = std::string(f[1]);
          have_time = have_aead = have_ntp = have_c2s = have_s2c = false;
          in_block = true;
        } else if (f[0] == "eof" && n == 2) {
          size_t count = 0;
          if (!parse_uint<size_t>(f[1], kMaxPersistedSessions, count) ||
              count != out_.sessions.size()) {
            fail(line_no, "the eof line does not match the number of sources (truncated file?)");
            return false;
          }
          seen_eof = true;
        } else {
          fail(line_no, "expected `source HOST:PORT` or `eof COUNT`");
          return false;
        }
        continue;
      }
      if (f[0] == "ke-time" && n == 2 && !have_time) {
        if (!parse_uint<int64_t>(f[1], kMaxKeTime, cur.ke_time)) {
          fail(line_no, "bad ke-time (Unix seconds expected)");
          return false;
        }
        have_time = true;
      } else if (f[0] == "aead" && n == 2 && !have_aead) {
        if (!parse_uint<uint16_t>(f[1], 65535, cur.aead)) {
          fail(line_no, "bad AEAD id (0..65535 expected)");
          return false;
        }
        have_aead = true;
      } else if (f[0] == "ntp" && n == 3 && !have_ntp) {
        if (!valid_token(f[1]) || !parse_uint<uint16_t>(f[2], 65535, cur.ntp_port) ||
            cur.ntp_port == 0) {
          fail(line_no, "bad NTP server (`ntp HOST PORT` expected)");
          return false;
        }
        cur.ntp_host = std::string(f[1]);
        have_ntp = true;
      } else if (f[0] == "c2s" && n == 2 && !have_c2s) {
        if (!decode_hex(f[1], kMaxPersistedKeySize, cur.c2s)) {
          fail(line_no, "bad c2s key (1..64 bytes in hex expected)");
          return false;
        }
        have_c2s = true;
      } else if (f[0] == "s2c" && n == 2 && !have_s2c) {
        if (!decode_hex(f[1], kMaxPersistedKeySize, cur.s2c)) {
          fail(line_no, "bad s2c key (1..64 bytes in hex expected)");
          return false;
        }
        have_s2c = true;
      } else if (f[0] == "cookie" && n == 2) {
        std::vector<uint8_t> cookie;
        if (cur.cookies.size() == kMaxPersistedCookies ||
            !decode_hex(f[1], kMaxPersistedCookieSize, cookie)) {
          fail(line_no, "bad cookie (at most 8, each 1..256 bytes in hex)");
          return false;
        }
        cur.cookies.push_back(std::move(cookie));
      } else if (f[0] == "end" && n == 1) {
        std::string why;
        if (!(have_time && have_aead && have_ntp && have_c2s && have_s2c)) {
          fail(line_no, "source block lacks one of ke-time, aead, ntp, c2s, s2c");
          return false;
        }
        if (!session_in_bounds(cur, why)) {
          fail(line_no, why);
          return false;
        }
        out_.sessions.push_back(std::move(cur));
        cur = PersistedSession{};
        in_block = false;
      } else {
        fail(line_no, "unexpected or repeated field in a source block");
        return false;
      }
    }
    if (!seen_eof) {
      fail(line_no, "no eof line (truncated file)");
      return false;
    }
    return true;
  }

 private:
  std::string_view name_;
  CookieFileLoad& out_;
};

}  // namespace

void cleanse_session(PersistedSession& session) {
  // The vectors' allocator wipes on free; wipe in place too, for sessions
  // that outlive their use.
  OPENSSL_cleanse(session.c2s.data(), session.c2s.size());
  OPENSSL_cleanse(session.s2c.data(), session.s2c.size());
  for (auto& c : session.cookies) OPENSSL_cleanse(c.data(), c.size());
  session.c2s.clear();
  session.s2c.clear();
  session.cookies.clear();
}

CookieFileLoad parse_cookie_file(std::string_view text, std::string_view name,
                                 const CookieLoadOptions& options) {
  CookieFileLoad out;
  const std::string prefix = std::string(name) + ":";
  if (text.empty()) {
    out.kind = CookieFileKind::kEmpty;
    out.warnings.push_back(prefix + "1: empty NTS cookie file; no saved NTS sessions");
    return out;
  }
  const std::string_view head = first_line(text);
  if (head != kMagic) {
    out.kind = CookieFileKind::kForeign;
    std::string what =
        head.substr(0, kMagicPrefix.size()) == kMagicPrefix
            ? "written by another version of ntsd (first line \"" +
                  std::string(head.substr(0, 40)) + "\", expected \"" + std::string(kMagic) + "\")"
            : "not an ntsd NTS cookie file (its first line is not \"" + std::string(kMagic) +
                  "\"; NTPsec's `nts cookie` file of server keys is another "
                  "format)";
    out.warnings.push_back(prefix + "1: " + what +
                           "; ntsd leaves it alone and will not overwrite it: point ntsd at "
                           "another file or move this one away");
    return out;
  }
  if (text.size() > kMaxFileSize) {
    out.kind = CookieFileKind::kCorrupt;
    out.warnings.push_back(prefix +
                           "1: larger than 4 MiB; the NTS sessions saved there are "
                           "ignored (every source will do a fresh NTS-KE)");
    return out;
  }
  out.kind = CookieFileKind::kOurs;
  Parser parser(name, out);
  if (!parser.run(text)) return out;
  std::vector<PersistedSession> kept;
  for (auto& s : out.sessions) {
    if (stale(s, options)) {
      cleanse_session(s);
      ++out.dropped_stale;
    } else {
      kept.push_back(std::move(s));
    }
  }
  out.sessions = std::move(kept);
  return out;
}

CookieFileLoad load_cookie_file(const std::string& path, const CookieLoadOptions& options) {
  CookieFileLoad out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return out;  // first start: no sessions, nothing to say
    out.kind = CookieFileKind::kUnreadable;
    // save_cookie_file() replaces the file by rename, which would turn a
    // symbolic link into a plain file: links are refused, loudly, instead.
    if (errno == ELOOP) {
      out.warnings.push_back(path +
                             ":1: NTS cookie file is a symbolic link; ntsd replaces the "
                             "file atomically, so give it the real path. No saved NTS "
                             "sessions, and ntsd will not write over it");
      return out;
    }
    out.warnings.push_back(path + ":1: cannot open NTS cookie file: " + errno_text() +
                           "; no saved NTS sessions, and ntsd will not write over it");
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    out.kind = CookieFileKind::kUnreadable;
    out.warnings.push_back(path +
                           ":1: NTS cookie file is not a regular file; no saved NTS "
                           "sessions, and ntsd will not write over it");
    return out;
  }
  SecretText text;
  text.reserve(std::min<size_t>(static_cast<size_t>(st.st_size), kMaxFileSize) + 1);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(buf, sizeof buf);
      ::close(fd);
      out.kind = CookieFileKind::kUnreadable;
      out.warnings.push_back(path + ":1: cannot read NTS cookie file: " + errno_text() +
                             "; no saved NTS sessions, and ntsd will not write over it");
      return out;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileSize) break;  // enough to know it is too large
  }
  OPENSSL_cleanse(buf, sizeof buf);
  ::close(fd);
  out = parse_cookie_file(std::string_view(text.data(), text.size()), path, options);
  // The keys are secrets: anyone who reads them can forge this host's view of the upstream.
  if ((st.st_mode & 077) != 0 && out.kind == CookieFileKind::kOurs) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    out.warnings.push_back(path + ":1: NTS cookie file has mode " + mode +
                           " and is readable by group or others; ntsd writes it 0600 from now on");
  }
  return out;
}

bool format_cookie_file(std::span<const PersistedSession> sessions, SecretText& out,
                        std::string& error) {
  out.clear();
  if (sessions.size() > kMaxPersistedSessions) {
    error = "more than 256 NTS sessions to save";
    return false;
  }
  std::set<std::string_view> keys;
  for (const auto& s : sessions) {
    std::string why;
    if (!session_in_bounds(s, why)) {
      error = "NTS session of " + s.ke_server.substr(0, 64) + " cannot be saved: " + why;
      return false;
    }
    if (!keys.insert(s.ke_server).second) {
      error = "two NTS sessions for " + s.ke_server;
      return false;
    }
  }
  out.append(kMagic);
  out.append(
      "\n# ntsd: NTS keys and cookies of each upstream source's last NTS-KE. Secret; keep it "
      "0600.\n");
  for (const auto& s : sessions) {
    out.append("source ").append(s.ke_server);
    out.append("\nke-time ").append(std::to_string(s.ke_time));
    out.append("\naead ").append(std::to_string(s.aead));
    out.append("\nntp ").append(s.ntp_host).append(" ").append(std::to_string(s.ntp_port));
    out.append("\nc2s ");
    append_hex(out, s.c2s);
    out.append("\ns2c ");
    append_hex(out, s.s2c);
    for (const auto& c : s.cookies) {
      out.append("\ncookie ");
      append_hex(out, c);
    }
    out.append("\nend\n");
  }
  out.append("eof ").append(std::to_string(sessions.size())).append("\n");
  return true;
}

bool save_cookie_file(const std::string& path, std::span<const PersistedSession> sessions,
                      std::string& error) {
  // Never replace a file we did not write (a mistyped path pointing at
  // NTPsec's key file, say). The loader says so too; this is the backstop.
  const int old = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (old >= 0) {
    char head[32];
    ssize_t n;
    do {
      n = ::pread(old, head, sizeof head, 0);
    } while (n < 0 && errno == EINTR);
    ::close(old);
    if (n < 0) {
      error = "cannot read NTS cookie file " + path + " before replacing it: " + errno_text();
      return false;
    }
    const std::string_view got(head, n > 0 ? static_cast<size_t>(n) : 0);
    const bool ours = got.substr(0, kMagic.size()) == kMagic &&
                      (got.size() == kMagic.size() || got[kMagic.size()] == '\n');
    if (!got.empty() && !ours) {
      error = "refusing to overwrite " + path + ": it is not an ntsd NTS cookie file";
      return false;
    }
  } else if (errno != ENOENT) {
    error = "cannot open NTS cookie file " + path + ": " + errno_text();
    return false;
  }

  SecretText text;
  if (!format_cookie_file(sessions, text, error)) return false;

  return crypto::write_secret_file_atomically(path, std::string_view(text.data(), text.size()), error);
}

}  // namespace ntsd::clock
