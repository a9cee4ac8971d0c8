#include "gadget.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
  fail("no USB device controller in /sys/class/udc (load the UDC driver, e.g. dummy_hcd "
       "for tests)",
       ENODEV);
}

}  // namespace

gadget::gadget(gadget_options opt) : opt_(std::move(opt)) {
  if (!fs::is_directory(opt_.configfs)) {
    fail(opt_.configfs + " not found: mount configfs and load libcomposite", ENOENT);
  }
  if (opt_.udc.empty()) opt_.udc = first_udc();
  if (opt_.ffs_dir.empty()) opt_.ffs_dir = "/run/adbd-relay/" + opt_.name;
  if (opt_.function.empty()) opt_.function = opt_.name;
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
    if (!is_mounted(opt_.ffs_dir)) {
      if (::mount(opt_.function.c_str(), opt_.ffs_dir.c_str(), "functionfs", 0, nullptr) != 0) {
        fail("cannot mount functionfs instance " + opt_.function + " on " + opt_.ffs_dir, errno);
      }
      mounted_ = true;
    }
  } catch (...) {
    remove();
    throw;
  }
}

gadget::~gadget() { remove(); }

void gadget::bind() { write_file(dir_ + "/UDC", opt_.udc); }

void gadget::unbind() {
  std::ofstream f(dir_ + "/UDC");
  if (f) f << "\n";  // ENODEV when not bound: nothing to do
}

void gadget::remove() {
  if (dir_.empty()) return;
  unbind();
  if (mounted_) ::umount(opt_.ffs_dir.c_str());
  mounted_ = false;
  // configfs wants the tree taken down in reverse: links, then leaf directories.
  ::unlink((dir_ + "/configs/c.1/ffs." + opt_.function).c_str());
  ::rmdir((dir_ + "/functions/ffs." + opt_.function).c_str());
  ::rmdir((dir_ + "/configs/c.1/strings/0x409").c_str());
  ::rmdir((dir_ + "/configs/c.1").c_str());
  ::rmdir((dir_ + "/strings/0x409").c_str());
  ::rmdir(dir_.c_str());
}

}  // namespace adbd_relay
