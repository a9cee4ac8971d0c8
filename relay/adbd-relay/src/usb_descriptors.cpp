#include "adbd_relay/usb_descriptors.hpp"

#include <endian.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <cstring>

namespace adbd_relay {
namespace {

// Bursts of 4 packets per SuperSpeed service interval, adbd's value.
constexpr std::uint8_t kSuperSpeedBurst = 4;

constexpr char kInterfaceName[] = "ADB Interface";
// The interface GUID of Google's WinUSB-based adb driver, so Windows binds it without an
// .inf file.
constexpr char kWindowsInterfaceGuid[] = "{F72FE0D4-CBCB-407D-8814-9ED673D0DD6B}";
constexpr char kWindowsPropertyName[] = "DeviceInterfaceGUID";

void append(std::string& out, const void* p, std::size_t n) {
  out.append(static_cast<const char*>(p), n);
}
template <typename T>
void append(std::string& out, const T& v) {
  append(out, &v, sizeof v);
}
void append_le32(std::string& out, std::uint32_t v) { append(out, htole32(v)); }
void append_le16(std::string& out, std::uint16_t v) { append(out, htole16(v)); }

void append_interface(std::string& out) {
  usb_interface_descriptor d{};
  d.bLength = USB_DT_INTERFACE_SIZE;
  d.bDescriptorType = USB_DT_INTERFACE;
  d.bNumEndpoints = 2;
  d.bInterfaceClass = USB_CLASS_VENDOR_SPEC;  // 0xff, with 0x42/0x01: what adb looks for
  d.bInterfaceSubClass = 0x42;
  d.bInterfaceProtocol = 0x01;
  d.iInterface = 1;
  append(out, d);
}

void append_endpoint(std::string& out, std::uint8_t address, std::uint16_t max_packet) {
  usb_endpoint_descriptor_no_audio d{};
  d.bLength = USB_DT_ENDPOINT_SIZE;
  d.bDescriptorType = USB_DT_ENDPOINT;
  d.bEndpointAddress = address;
  d.bmAttributes = USB_ENDPOINT_XFER_BULK;
  d.wMaxPacketSize = htole16(max_packet);
  append(out, d);
}

void append_ss_companion(std::string& out) {
  usb_ss_ep_comp_descriptor d{};
  d.bLength = sizeof d;
  d.bDescriptorType = USB_DT_SS_ENDPOINT_COMP;
  d.bMaxBurst = kSuperSpeedBurst - 1;  // the field counts bursts after the first
  append(out, d);
}

void append_ms_os(std::string& out) {
  // Extended compat ID: "WINUSB" for interface 0.
  usb_os_desc_header compat{};
  compat.interface = 1;  // adbd's value; the kernel only counts it as "first interface"
  compat.dwLength = htole32(sizeof(usb_os_desc_header) + sizeof(usb_ext_compat_desc));
  compat.bcdVersion = htole16(1);
  compat.wIndex = htole16(4);
  compat.bCount = 1;
  append(out, compat);
  usb_ext_compat_desc id{};
  id.bFirstInterfaceNumber = 0;
  id.Reserved1 = 1;  // must be 1 per Microsoft's extended compat ID spec
  std::memcpy(id.CompatibleID, "WINUSB", 6);
  append(out, id);

  // Extended property: DeviceInterfaceGUID (a Unicode string; FunctionFS widens it).
  const std::uint32_t name_len = sizeof kWindowsPropertyName;
  const std::uint32_t data_len = sizeof kWindowsInterfaceGuid;
  // dwSize, dwPropertyDataType, wPropertyNameLength and dwPropertyDataLength: 14 bytes
  // around the name and the data.
  const std::uint32_t prop_size = 14 + name_len + data_len;
  usb_os_desc_header prop{};
  prop.interface = 0;
  prop.dwLength = htole32(sizeof(usb_os_desc_header) + prop_size);
  prop.bcdVersion = htole16(1);
  prop.wIndex = htole16(5);
  prop.wCount = htole16(1);
  append(out, prop);
  append_le32(out, prop_size);
  append_le32(out, 1);  // REG_SZ
  append_le16(out, static_cast<std::uint16_t>(name_len));
  append(out, kWindowsPropertyName, name_len);
  append_le32(out, data_len);
  append(out, kWindowsInterfaceGuid, data_len);
}

}  // namespace

std::string adb_descriptors(bool ms_os) {
  std::string body;
  append_le32(body, 3);             // fs_count: interface + 2 endpoints
  append_le32(body, 3);             // hs_count
  append_le32(body, 5);             // ss_count: + a companion per endpoint
  if (ms_os) append_le32(body, 2);  // os_count: compat ID + property
  for (auto packet : {kFullSpeedBulkPacket, kHighSpeedBulkPacket}) {
    append_interface(body);
    append_endpoint(body, 1 | USB_DIR_OUT, packet);
    append_endpoint(body, 2 | USB_DIR_IN, packet);
  }
  append_interface(body);
  append_endpoint(body, 1 | USB_DIR_OUT, kSuperSpeedBulkPacket);
  append_ss_companion(body);
  append_endpoint(body, 2 | USB_DIR_IN, kSuperSpeedBulkPacket);
  append_ss_companion(body);
  if (ms_os) append_ms_os(body);

  std::string out;
  append_le32(out, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
  // The counts follow the head: which of them are present depends on the flags.
  append_le32(out, static_cast<std::uint32_t>(sizeof(usb_functionfs_descs_head_v2) + body.size()));
  append_le32(out, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | FUNCTIONFS_HAS_SS_DESC |
                       (ms_os ? FUNCTIONFS_HAS_MS_OS_DESC : 0));
  return out + body;
}

std::string adb_strings() {
  std::string body;
  append_le16(body, 0x0409);  // en-US
  append(body, kInterfaceName, sizeof kInterfaceName);
  std::string out;
  append_le32(out, FUNCTIONFS_STRINGS_MAGIC);
  append_le32(out, static_cast<std::uint32_t>(sizeof(usb_functionfs_strings_head) + body.size()));
  append_le32(out, 1);  // str_count
  append_le32(out, 1);  // lang_count
  return out + body;
}

}  // namespace adbd_relay
