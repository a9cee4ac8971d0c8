# The library's package files: find_package(vsocklib) (target vsocklib::vsocklib) and
# pkg-config vsocklib. The install() rules of the targets live next to the targets.
include(CMakePackageConfigHelpers)

set(VSOCKLIB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/vsocklib)
install(EXPORT vsocklibTargets NAMESPACE vsocklib:: DESTINATION ${VSOCKLIB_CMAKE_DIR}
  COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/vsocklibConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/vsocklibConfig.cmake
  INSTALL_DESTINATION ${VSOCKLIB_CMAKE_DIR})
# 0.x: a minor release may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/vsocklibConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/vsocklibConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/vsocklibConfigVersion.cmake
  DESTINATION ${VSOCKLIB_CMAKE_DIR} COMPONENT dev)

# pkg-config: the -D flags come from the target, so both consumers compile Asio's headers
# the same way the library did (BOOST_ASIO_SEPARATE_COMPILATION must match, or Asio is
# compiled twice or not at all).
get_target_property(_defs vsocklib INTERFACE_COMPILE_DEFINITIONS)
list(TRANSFORM _defs PREPEND "-D")
list(JOIN _defs " " VSOCKLIB_PC_DEFINES)
# Relocatable: the prefix is found from the .pc file's own place, so `cmake --install
# --prefix DIR` works for any DIR.
file(RELATIVE_PATH VSOCKLIB_PC_PREFIX_FROM_PCDIR
  /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" VSOCKLIB_PC_PREFIX_FROM_PCDIR "${VSOCKLIB_PC_PREFIX_FROM_PCDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/vsocklib.pc.in ${CMAKE_CURRENT_BINARY_DIR}/vsocklib.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/vsocklib.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The guides go with the tools: the systemd unit's Documentation= and the man pages point
# at them.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md")
