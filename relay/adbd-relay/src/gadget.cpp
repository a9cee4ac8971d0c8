#include "adbd_relay/gadget.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace adbd_relay {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::system_error(err, std::generic_category(), what);
}

void write_file(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  if (!f) fail("cannot open " + path, errno);
  f << value;
  f.flush();
  if (!f) fail("cannot write \"" + value + "\" to " + path, errno ? errno : EIO);
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create " + path, errno);
}

std::string hex16(std::uint16_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

bool is_mounted(const std::string& dir) {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, mnt, type, rest;
  while (mounts >> dev >> mnt >> type && std::getline(mounts, rest)) {
    if (mnt == dir && type == "functionfs") return true;
  }
  return false;
}

std::string first_udc() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/class/udc", ec)) return e.path().filename();
  fail(
      "no USB device controller in /sys/class/udc (load the UDC driver, e.g. dummy_hcd "
      "for tests)",
      ENODEV);
}

// The defaults the constructor and remove_left_over agree on (the UDC is not needed to
// find a gadget).
gadget_options with_defaults(gadget_options opt) {
  if (opt.ffs_dir.empty()) opt.ffs_dir = "/run/adbd-relay/" + opt.name;
  if (opt.function.empty()) opt.function = opt.name;
  return opt;
}

// configfs wants the tree taken down in reverse: links, then leaf directories. Returns
// what could not be removed (missing pieces are not problems).
std::string remove_tree(const std::string& dir, const std::string& function) {
  std::string problems;
  auto check = [&](int rc, const std::string& path) {
    if (rc != 0 && errno != ENOENT) {
      problems += "cannot remove " + path + ": " + std::strerror(errno) + "\n";
    }
  };
  const std::string link = dir + "/configs/c.1/ffs." + function;
  check(::unlink(link.c_str()), link);
  for (const std::string& d :
       {dir + "/functions/ffs." + function, dir + "/configs/c.1/strings/0x409",
        dir + "/configs/c.1", dir + "/strings/0x409", dir}) {
    check(::rmdir(d.c_str()), d);
  }
  return problems;
}

// Writing an empty line to UDC unbinds; ENODEV (not bound) or no such gadget: nothing to do.
void unbind_dir(const std::string& dir) {
  std::ofstream f(dir + "/UDC");
  if (f) f << "\n";
}

// The whole take-down, as root: unbind, unmount FunctionFS when asked, remove the tree.
// Returns the problems (what is not there is none).
std::string take_down(const std::string& dir, const gadget_options& opt, bool unmount) {
  unbind_dir(dir);
  std::string problems;
  if (unmount && ::umount(opt.ffs_dir.c_str()) != 0) {
    problems += "cannot unmount " + opt.ffs_dir + ": " + std::strerror(errno) + "\n";
  }
  return problems + remove_tree(dir, opt.function);
}

}  // namespace

gadget::gadget(gadget_options opt) : opt_(with_defaults(std::move(opt))) {
  if (!fs::is_directory(opt_.configfs)) {
    fail(opt_.configfs + " not found: mount configfs and load libcomposite", ENOENT);
  }
  if (opt_.udc.empty()) opt_.udc = first_udc();
  dir_ = opt_.configfs + "/" + opt_.name;
  try {
    make_dir(dir_);
    write_file(dir_ + "/idVendor", hex16(opt_.vendor_id));
    write_file(dir_ + "/idProduct", hex16(opt_.product_id));
    // Class per interface: adb only claims devices whose device class says so.
    write_file(dir_ + "/bDeviceClass", "0");
    make_dir(dir_ + "/strings/0x409");
    write_file(dir_ + "/strings/0x409/manufacturer", opt_.manufacturer);
    write_file(dir_ + "/strings/0x409/product", opt_.product);
    write_file(dir_ + "/strings/0x409/serialnumber", opt_.serial);
    make_dir(dir_ + "/configs/c.1");
    make_dir(dir_ + "/configs/c.1/strings/0x409");
    write_file(dir_ + "/configs/c.1/strings/0x409/configuration", "adb");
    const std::string function = dir_ + "/functions/ffs." + opt_.function;
    if (::mkdir(function.c_str(), 0755) != 0 && errno != EEXIST) {
      const int err = errno;
      fail("cannot create " + function +
               (err == EBUSY ? ": FunctionFS instance \"" + opt_.function +
                                   "\" is taken by another gadget (instance names are system-wide)"
                             : std::string()),
           err);
    }
    const std::string link = dir_ + "/configs/c.1/ffs." + opt_.function;
    if (::symlink(function.c_str(), link.c_str()) != 0 && errno != EEXIST) {
      fail("cannot link " + function + " into " + link, errno);
    }
    fs::create_directories(opt_.ffs_dir);
    std::string mount_options;
    if (opt_.owner) {
      mount_options =
          "uid=" + std::to_string(opt_.owner->uid) + ",gid=" + std::to_string(opt_.owner->gid);
    }
    bool mounted = is_mounted(opt_.ffs_dir);
    if (mounted) {
      // A previous run's mount, kept because it ran unprivileged: reuse it if its files
      // belong to the right user, else mount afresh.
      struct stat st {};
      const uid_t want = opt_.owner ? opt_.owner->uid : 0;
      if (::stat((opt_.ffs_dir + "/ep0").c_str(), &st) == 0 && st.st_uid != want) {
        if (::umount(opt_.ffs_dir.c_str()) != 0)
          fail("cannot unmount the old FunctionFS on " + opt_.ffs_dir, errno);
        mounted = false;
      }
    }
    if (!mounted) {
      if (::mount(opt_.function.c_str(), opt_.ffs_dir.c_str(), "functionfs", 0,
                  mount_options.empty() ? nullptr : mount_options.c_str()) != 0) {
        fail("cannot mount functionfs instance " + opt_.function + " on " + opt_.ffs_dir, errno);
      }
      mounted_ = true;
    }
    if (opt_.owner && ::chown((dir_ + "/UDC").c_str(), opt_.owner->uid, opt_.owner->gid) != 0) {
      fail("cannot hand " + dir_ + "/UDC to uid " + std::to_string(opt_.owner->uid), errno);
    }
  } catch (...) {
    remove();
    throw;
  }
}

gadget::~gadget() { remove(); }

void gadget::bind() { write_file(dir_ + "/UDC", opt_.udc); }

void gadget::unbind() { unbind_dir(dir_); }

void gadget::remove() {
  if (dir_.empty()) return;
  if (::geteuid() != 0) {
    // After the relay dropped its privileges, unmounting and configfs are out of reach:
    // the tree stays, unbound, for the next start or `adbd-relay --remove-gadgets`.
    unbind();
    return;
  }
  take_down(dir_, opt_, mounted_);
  mounted_ = false;
}

std::string gadget::remove_left_over(const gadget_options& options) {
  const gadget_options opt = with_defaults(options);
  return take_down(opt.configfs + "/" + opt.name, opt, is_mounted(opt.ffs_dir));
}

}  // namespace adbd_relay
