# Debian packages with CPack (`cpack -G DEB` in a build directory configured with
# -DCMAKE_INSTALL_PREFIX=/usr; tests/package/deb_test.sh does it):
#   vsocklib         the programs, systemd units, man pages, example configs and guides
#   libvsocklib-dev  the static library, headers, CMake package and pkg-config file
# Depends of the programs come from dpkg-shlibdeps (they link spdlog and fmt dynamically).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vsocklib)
set(CPACK_PACKAGE_VENDOR vsocklib)
set(CPACK_PACKAGE_CONTACT "vsocklib maintainers <vsocklib@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Cross builds (the arm64 preset) package for the target: CPack would ask dpkg for the
# build machine's architecture.
if(CMAKE_CROSSCOMPILING AND CMAKE_LIBRARY_ARCHITECTURE)
  execute_process(COMMAND dpkg-architecture -t ${CMAKE_LIBRARY_ARCHITECTURE} -qDEB_HOST_ARCH
    OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET)
endif()

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME vsocklib)
# The synopsis line is the project's DESCRIPTION (CPack puts it first); these are the
# extended descriptions.
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "The programs: adbd-relay, vsock-mcast, vsock-pipe, adbd-sim.\n\
Daemons and tools for Linux host partitions and their (Android) guests that talk over\n\
virtio-vsock: adb from a PC over USB to a guest's adbd, multicast into vsock-only guests,\n\
socat-like relaying for vsock, hybrid vsock, unix and tcp addresses.")
# Units are installed but not enabled: adbd-relay needs the site's guest CID and UDC in
# /etc/adbd-relay.conf first (docs/installing.md). systemd only has to see the new files.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_LIST_DIR}/debian/postinst ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libvsocklib-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "The C++20 library (static) and its headers.\n\
vsocklib: one address syntax for vsock, hybrid vsock, unix and tcp; connect and listen\n\
with deadlines and peer policy; a bounded bidirectional pump; a reconnecting connector.\n\
find_package(vsocklib) gives vsocklib::vsocklib; pkg-config name vsocklib.")
# What the headers include: Boost.Asio 1.81, spdlog/fmt (the static library needs no
# shared library of its own, so shlibdeps has nothing to find for this package).
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libboost1.81-dev, libspdlog-dev (>= 1:1.10), libfmt-dev (>= 9)")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)

include(CPack)
