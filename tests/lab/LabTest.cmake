# LabTest.cmake — register tests that run inside the lab (tests/lab/run: a
# QEMU guest with a Debian kernel and the host root over 9p; see docs/lab.md).
#
#   vsocklib_add_lab_test(NAME <name> COMMAND <args...>
#                         [KERNEL <line>]        # 6.1 (default), 6.12, 5.10
#                         [TIMEOUT <seconds>]    # deadline of COMMAND (default 300)
#                         [HOST]                 # COMMAND runs on the host and calls
#                                                # $VSOCK_LAB_RUN itself
#                         [RUN_ARGS <args...>]   # extra options for tests/lab/run
#                         [LABELS <labels...>]   # added to "lab"
#                         [WORKING_DIRECTORY <dir>])
#
# The guest sees the host root read-only, except /tmp, which is the guest's own. So the
# source and build trees are exported explicitly (a clone under /tmp, as CI may use, would
# otherwise be invisible), the build tree writable so tests can leave results.
#
# Without HOST the test is `run [--kernel K] --timeout T --rw SOURCE --rw BUILD
# RUN_ARGS -- COMMAND`: COMMAND runs in the guest, chrooted into the host root,
# cwd preserved (default: the current binary dir), the build tree writable so
# it can leave results; its exit status is the test's.  Generator expressions
# work in COMMAND (e.g. $<TARGET_FILE:my_gtest>).
#
# With HOST, COMMAND is a host-side script; the same settings reach it (and
# every run it starts) through VSOCK_LAB_RUN, VSOCK_LAB_KERNEL,
# VSOCK_LAB_TIMEOUT and VSOCK_LAB_RW.
#
# Every lab test gets LABELS lab, RESOURCE_LOCK vsock_lab (TCG guests on two
# cores must not overlap) and a ctest TIMEOUT of TIMEOUT + 180 s, room for the
# boot deadline and a cold-cache kernel download.

include_guard(GLOBAL)

function(vsocklib_add_lab_test)
  # The trees every lab test needs in the guest; the build tree is skipped when it lies
  # inside the source tree (one export covers both). Computed here, not at include time:
  # include_guard(GLOBAL) would leave a variable set at include time in one directory only.
  set(VSOCKLIB_LAB_TREES "${CMAKE_SOURCE_DIR}")
  string(FIND "${CMAKE_BINARY_DIR}/" "${CMAKE_SOURCE_DIR}/" build_in_source)
  if(NOT build_in_source EQUAL 0)
    list(APPEND VSOCKLIB_LAB_TREES "${CMAKE_BINARY_DIR}")
  endif()

  # Found from this file, so the function works from any directory.
  set(VSOCKLIB_LAB_RUN "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/run")
  cmake_parse_arguments(PARSE_ARGV 0 LAB "HOST" "NAME;KERNEL;TIMEOUT;WORKING_DIRECTORY"
                        "COMMAND;RUN_ARGS;LABELS")
  if(NOT LAB_NAME OR NOT LAB_COMMAND)
    message(FATAL_ERROR "vsocklib_add_lab_test: NAME and COMMAND are required")
  endif()
  if(LAB_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "vsocklib_add_lab_test(${LAB_NAME}): unknown arguments ${LAB_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT LAB_TIMEOUT)
    set(LAB_TIMEOUT 300)
  endif()
  if(NOT LAB_WORKING_DIRECTORY)
    set(LAB_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()

  string(REPLACE ";" ":" lab_trees_colon "${VSOCKLIB_LAB_TREES}")
  if(LAB_HOST)
    add_test(NAME ${LAB_NAME} COMMAND ${LAB_COMMAND}
             WORKING_DIRECTORY "${LAB_WORKING_DIRECTORY}")
    set(env "VSOCK_LAB_RUN=${VSOCKLIB_LAB_RUN}" "VSOCK_LAB_TIMEOUT=${LAB_TIMEOUT}"
            "VSOCK_LAB_RW=${lab_trees_colon}")
    if(LAB_KERNEL)
      list(APPEND env "VSOCK_LAB_KERNEL=${LAB_KERNEL}")
    endif()
    set_property(TEST ${LAB_NAME} APPEND PROPERTY ENVIRONMENT ${env})
  else()
    set(run_args --timeout ${LAB_TIMEOUT})
    foreach(tree IN LISTS VSOCKLIB_LAB_TREES)
      list(APPEND run_args --rw "${tree}")
    endforeach()
    if(LAB_KERNEL)
      list(APPEND run_args --kernel ${LAB_KERNEL})
    endif()
    add_test(NAME ${LAB_NAME}
             COMMAND "${VSOCKLIB_LAB_RUN}" ${run_args} ${LAB_RUN_ARGS} -- ${LAB_COMMAND}
             WORKING_DIRECTORY "${LAB_WORKING_DIRECTORY}")
  endif()

  math(EXPR ctest_timeout "${LAB_TIMEOUT} + 180")
  set_tests_properties(${LAB_NAME} PROPERTIES
    LABELS "lab;${LAB_LABELS}"
    TIMEOUT ${ctest_timeout}
    RESOURCE_LOCK vsock_lab)
endfunction()
