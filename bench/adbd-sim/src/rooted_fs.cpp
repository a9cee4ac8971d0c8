#include "adbd_sim/rooted_fs.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace adbd_sim {
namespace {

// RESOLVE_BENEATH: no absolute path, ".." or symlink may resolve outside the root (EXDEV).
// RESOLVE_NO_MAGICLINKS: /proc/self/fd-style links could jump anywhere.
constexpr std::uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

std::vector<std::string> split(const std::string& rel) {
  std::vector<std::string> parts;
  if (rel == ".") return parts;
  std::size_t start = 0;
  for (;;) {
    const auto slash = rel.find('/', start);
    parts.push_back(rel.substr(start, slash - start));
    if (slash == std::string::npos) return parts;
    start = slash + 1;
  }
}

std::string join(const std::vector<std::string>& parts, std::size_t n) {
  if (n == 0) return ".";
  std::string out = parts[0];
  for (std::size_t i = 1; i < n; ++i) out += "/" + parts[i];
  return out;
}

// The relative path of REMOTE, or an errno value: EXDEV when it climbs out of the root,
// EINVAL for an embedded NUL (which would silently cut the path short).
int resolve(std::string_view remote, std::string& rel) {
  if (remote.find('\0') != std::string_view::npos) return EINVAL;
  auto r = rooted_fs::confine(remote);
  if (!r) return EXDEV;
  rel = std::move(*r);
  return 0;
}

}  // namespace

rooted_fs::rooted_fs(std::filesystem::path root) : root_(std::filesystem::absolute(root)) {
  root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot use " + root_.string() + " as the root directory");
  }
}

std::optional<std::string> rooted_fs::confine(std::string_view remote) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= remote.size()) {
    auto slash = remote.find('/', start);
    if (slash == std::string_view::npos) slash = remote.size();
    const auto part = remote.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return ".";
  std::string out(parts[0]);
  for (std::size_t i = 1; i < parts.size(); ++i) {
    out += '/';
    out += parts[i];
  }
  return out;
}

fd_result rooted_fs::open_relative(const std::string& rel, int flags, mode_t mode) const {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  // openat2 refuses a mode without O_CREAT / O_TMPFILE.
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = kResolve;
  const long fd = ::syscall(SYS_openat2, root_fd_.get(), rel.c_str(), &how, sizeof how);
  if (fd < 0) return {-1, errno};
  return {static_cast<int>(fd), 0};
}

fd_result rooted_fs::open(std::string_view remote, int flags, mode_t mode) const {
  std::string rel;
  if (int e = resolve(remote, rel)) return {-1, e};
  return open_relative(rel, flags, mode);
}

int rooted_fs::lstat(std::string_view remote, struct stat& st) const {
  std::string rel;
  if (int e = resolve(remote, rel)) return e;
  // O_PATH | O_NOFOLLOW opens a final symlink itself, so fstat describes the link: lstat.
  auto fd = open_relative(rel, O_PATH | O_NOFOLLOW, 0);
  if (!fd) return fd.error();
  return ::fstat(fd.get(), &st) == 0 ? 0 : errno;
}

int rooted_fs::make_parents(std::string_view remote) const {
  std::string rel;
  if (int e = resolve(remote, rel)) return e;
  const auto parts = split(rel);
  // Each parent is opened through openat2 from the root again, so a symlinked directory
  // inside the root is followed only while it stays inside.
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    auto parent = open_relative(join(parts, i), O_PATH | O_DIRECTORY, 0);
    if (!parent) return parent.error();
    if (::mkdirat(parent.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) return errno;
  }
  return 0;
}

int rooted_fs::unlink(std::string_view remote) const {
  std::string rel;
  if (int e = resolve(remote, rel)) return e;
  const auto parts = split(rel);
  if (parts.empty()) return EISDIR;
  auto parent = open_relative(join(parts, parts.size() - 1), O_PATH | O_DIRECTORY, 0);
  if (!parent) return parent.error();
  return ::unlinkat(parent.get(), parts.back().c_str(), 0) == 0 ? 0 : errno;
}

std::string rooted_fs::error_text(int error) {
  if (error == EXDEV) return "path leads outside the root directory";
  return std::strerror(error);
}

}  // namespace adbd_sim
