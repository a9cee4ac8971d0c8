// lab_ffs_probe — a minimal FunctionFS function for the lab's USB self-test.
//
// usage: lab_ffs_probe [--timeout SECONDS] [--hold SECONDS] FFS_DIR
//
// FFS_DIR is a mounted functionfs instance (the shell side mounts it; this
// program mounts nothing).  The probe writes v2 descriptors (full + high
// speed: interface 0xff/0x42/0x01 with one bulk OUT and one bulk IN endpoint)
// and one string to FFS_DIR/ep0, prints "ready", then reports every ep0 event
// ("event BIND", "event ENABLE", ...) on stdout.  Once ENABLE arrived it
// prints "enabled" and keeps ep0 open (so the gadget stays enumerated) for
// --hold seconds or until SIGTERM/SIGINT, then exits 0.
//
// exit status: 0 ENABLE seen; 1 no ENABLE before --timeout; 2 usage or I/O error.
//
// Plain C++20 and Linux UAPI headers only: the real relay descriptors live in
// relay/, this is only the lab's proof that FunctionFS + dummy_hcd work.

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr char kInterfaceName[] = "vsock-lab ffs probe";

struct [[gnu::packed]] SpeedDescriptors {
  usb_interface_descriptor intf;
  usb_endpoint_descriptor_no_audio out;
  usb_endpoint_descriptor_no_audio in;
};

struct [[gnu::packed]] Descriptors {
  usb_functionfs_descs_head_v2 header;
  std::uint32_t fs_count;
  std::uint32_t hs_count;
  SpeedDescriptors fs;
  SpeedDescriptors hs;
};

struct [[gnu::packed]] Strings {
  usb_functionfs_strings_head header;
  std::uint16_t lang;
  char str[sizeof kInterfaceName];
};

SpeedDescriptors speed_descriptors(std::uint16_t max_packet) {
  SpeedDescriptors d{};
  d.intf.bLength = USB_DT_INTERFACE_SIZE;
  d.intf.bDescriptorType = USB_DT_INTERFACE;
  d.intf.bInterfaceNumber = 0;
  d.intf.bNumEndpoints = 2;
  d.intf.bInterfaceClass = USB_CLASS_VENDOR_SPEC;  // 0xff
  d.intf.bInterfaceSubClass = 0x42;
  d.intf.bInterfaceProtocol = 0x01;
  d.intf.iInterface = 1;
  d.out.bLength = USB_DT_ENDPOINT_SIZE;
  d.out.bDescriptorType = USB_DT_ENDPOINT;
  d.out.bEndpointAddress = 1 | USB_DIR_OUT;
  d.out.bmAttributes = USB_ENDPOINT_XFER_BULK;
  d.out.wMaxPacketSize = htole16(max_packet);
  d.in = d.out;
  d.in.bEndpointAddress = 2 | USB_DIR_IN;
  return d;
}

Descriptors descriptors() {
  Descriptors d{};
  d.header.magic = htole32(FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
  d.header.length = htole32(sizeof d);
  d.header.flags = htole32(FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC);
  d.fs_count = htole32(3);
  d.hs_count = htole32(3);
  d.fs = speed_descriptors(64);
  d.hs = speed_descriptors(512);
  return d;
}

Strings strings() {
  Strings s{};
  s.header.magic = htole32(FUNCTIONFS_STRINGS_MAGIC);
  s.header.length = htole32(sizeof s);
  s.header.str_count = htole32(1);
  s.header.lang_count = htole32(1);
  s.lang = htole16(0x0409);  // en-US
  std::memcpy(s.str, kInterfaceName, sizeof kInterfaceName);
  return s;
}

const char* event_name(unsigned type) {
  switch (type) {
    case FUNCTIONFS_BIND: return "BIND";
    case FUNCTIONFS_UNBIND: return "UNBIND";
    case FUNCTIONFS_ENABLE: return "ENABLE";
    case FUNCTIONFS_DISABLE: return "DISABLE";
    case FUNCTIONFS_SETUP: return "SETUP";
    case FUNCTIONFS_SUSPEND: return "SUSPEND";
    case FUNCTIONFS_RESUME: return "RESUME";
    default: return "UNKNOWN";
  }
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: lab_ffs_probe [--timeout SECONDS] [--hold SECONDS] FFS_DIR\n");
  std::exit(2);
}

int seconds_arg(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0 || v > 86400) usage();
  return static_cast<int>(v);
}

bool write_all(int fd, const void* data, std::size_t len, const char* what) {
  ssize_t n = ::write(fd, data, len);
  if (n != static_cast<ssize_t>(len)) {
    std::fprintf(stderr, "lab_ffs_probe: writing %s to ep0: %s\n", what,
                 n < 0 ? std::strerror(errno) : "short write");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int timeout_s = 30;
  int hold_s = 0;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--timeout" && i + 1 < argc) {
      timeout_s = seconds_arg(argv[++i]);
    } else if (a == "--hold" && i + 1 < argc) {
      hold_s = seconds_arg(argv[++i]);
    } else if (!a.starts_with("-") && dir.empty()) {
      dir = a;
    } else {
      usage();
    }
  }
  if (dir.empty()) usage();

  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  const std::string ep0_path = dir + "/ep0";
  int ep0 = ::open(ep0_path.c_str(), O_RDWR);
  if (ep0 < 0) {
    std::fprintf(stderr, "lab_ffs_probe: open %s: %s\n", ep0_path.c_str(), std::strerror(errno));
    return 2;
  }
  const Descriptors descs = descriptors();
  const Strings strs = strings();
  if (!write_all(ep0, &descs, sizeof descs, "descriptors") ||
      !write_all(ep0, &strs, sizeof strs, "strings")) {
    return 2;
  }
  std::printf("ready\n");

  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + std::chrono::seconds(timeout_s);
  bool enabled = false;
  while (!g_stop) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{ep0, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      std::fprintf(stderr, "lab_ffs_probe: poll: %s\n", std::strerror(errno));
      return 2;
    }
    if (r == 0) break;

    usb_functionfs_event events[4];
    ssize_t n = ::read(ep0, events, sizeof events);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      std::fprintf(stderr, "lab_ffs_probe: read ep0: %s\n", std::strerror(errno));
      return 2;
    }
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof events[0]); ++i) {
      const auto& ev = events[i];
      std::printf("event %s\n", event_name(ev.type));
      if (ev.type == FUNCTIONFS_SETUP) {
        // Not ours to answer: stall by doing I/O in the wrong direction.
        char dummy;
        if (ev.u.setup.bRequestType & USB_DIR_IN) {
          (void)!::read(ep0, &dummy, 0);
        } else {
          (void)!::write(ep0, &dummy, 0);
        }
      }
      if (ev.type == FUNCTIONFS_ENABLE && !enabled) {
        enabled = true;
        std::printf("enabled\n");
        deadline = clock::now() + std::chrono::seconds(hold_s);
      }
    }
  }

  ::close(ep0);
  if (!enabled) {
    std::fprintf(stderr, "lab_ffs_probe: no ENABLE event within %d s\n", timeout_s);
    return 1;
  }
  return 0;
}
