// The bytes a FunctionFS function writes to ep0 before it can bind: the ADB interface's
// descriptors and its strings. Pure (no I/O), so the exact bytes are unit-tested
// (tests/unit/usb_descriptors_test.cpp) rather than only seen by a kernel in the lab.
#pragma once

#include <cstdint>
#include <string>

namespace adbd_relay {

// Bulk wMaxPacketSize per speed, as adbd uses them. Full speed allows up to 64; high
// speed requires 512 and SuperSpeed 1024 for bulk endpoints (USB 2.0 5.8.3, USB 3.2
// 9.6.6). IN and OUT must match: the adb host aborts if they differ.
constexpr std::uint16_t kFullSpeedBulkPacket = 64;
constexpr std::uint16_t kHighSpeedBulkPacket = 512;
constexpr std::uint16_t kSuperSpeedBulkPacket = 1024;

/// The descriptor blob adbd writes: V2 header, full/high/super speed (interface
/// 0xff/0x42/0x01, bulk OUT 1 and bulk IN 2) and, with MS_OS, the WinUSB compatible ID and
/// the DeviceInterfaceGUID Windows' adb driver looks for.
std::string adb_descriptors(bool ms_os);

/// The strings blob: en-US "ADB Interface".
std::string adb_strings();

}  // namespace adbd_relay
