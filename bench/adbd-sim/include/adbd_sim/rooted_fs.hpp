// File access confined to one directory, for the sync: service (adb push/pull) and as the
// shell's working directory.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "vsocklib/unique_fd.hpp"

namespace adbd_sim {

/// A file descriptor or an errno value, as the system calls give them (no exceptions on
/// I/O paths). Owns the descriptor.
class fd_result {
 public:
  fd_result() = default;
  fd_result(int fd, int error) noexcept : fd_(fd), error_(error) {}

  int get() const noexcept { return fd_.get(); }
  int error() const noexcept { return error_; }  ///< errno when get() is -1
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }
  [[nodiscard]] int release() noexcept { return fd_.release(); }

 private:
  vsocklib::unique_fd fd_;
  int error_ = 0;
};

/// A directory that adb paths are resolved in: "/data/local/tmp/x" means ROOT/data/local/tmp/x.
/// A path whose ".." would climb above the root is refused before any system call, and
/// every open goes through openat2(RESOLVE_BENEATH), so a symlink inside the root cannot
/// lead out either. Errors are errno values; EXDEV means "leads outside the root".
/// Thread safety: const methods may be called from any thread.
class rooted_fs {
 public:
  /// Opens ROOT. Throws std::system_error naming it when it is not a usable directory.
  explicit rooted_fs(std::filesystem::path root);
  rooted_fs(const rooted_fs&) = delete;
  rooted_fs& operator=(const rooted_fs&) = delete;

  /// REMOTE ('/'-separated, absolute or relative) as a path relative to the root: empty
  /// components and "." dropped, ".." applied; "." for the root itself; nullopt when ".."
  /// would leave the root.
  static std::optional<std::string> confine(std::string_view remote);

  /// open(2) of REMOTE inside the root (O_CLOEXEC is added).
  fd_result open(std::string_view remote, int flags, mode_t mode = 0) const;
  /// lstat(2) of REMOTE inside the root; 0 or an errno value.
  int lstat(std::string_view remote, struct stat& st) const;
  /// Creates the missing parent directories of REMOTE (mode 0755); 0 or an errno value.
  int make_parents(std::string_view remote) const;
  /// unlink(2) of REMOTE inside the root; 0 or an errno value.
  int unlink(std::string_view remote) const;

  const std::filesystem::path& path() const noexcept { return root_; }

  /// strerror, except EXDEV, which here means the path leads outside the root.
  static std::string error_text(int error);

 private:
  fd_result open_relative(const std::string& rel, int flags, mode_t mode) const;
  std::filesystem::path root_;
  vsocklib::unique_fd root_fd_;
};

}  // namespace adbd_sim
