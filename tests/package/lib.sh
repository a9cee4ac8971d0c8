# shellcheck shell=bash
# Shared by install_test.sh and deb_test.sh: build the consumer both ways against an
# installed vsocklib and run it through an installed vsock-pipe.

# build_consumers SRC_DIR WORK_DIR [CMAKE_PREFIX_PATH]
# Builds WORK/cmake/vsocklib-consumer (find_package) and WORK/pc/vsocklib-consumer
# (pkg-config; PKG_CONFIG_PATH must already lead to vsocklib.pc when it is not in a
# default place).
build_consumers() {
  local src=$1 work=$2 prefix_path=${3:-}
  echo "consumer: cmake find_package(vsocklib)"
  cmake -S "$src/tests/package/consumer" -B "$work/cmake" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release ${prefix_path:+-DCMAKE_PREFIX_PATH="$prefix_path"} \
        >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; return 1; }
  cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; return 1; }
  echo "consumer: pkg-config $(pkg-config --modversion vsocklib) ($(pkg-config --variable=pcfiledir vsocklib)/vsocklib.pc)"
  mkdir -p "$work/pc"
  make -s -C "$work/pc" -f "$src/tests/package/consumer/Makefile" SRC="$src/tests/package/consumer" \
       >"$work/pc.log" 2>&1 || { cat "$work/pc.log"; return 1; }
}

# exchange PIPE CONSUMER WORK: the consumer sends a line through `PIPE --once` (listening
# on one Unix socket, connecting to another) to an echo service (socat) and must get it back.
exchange() {
  local pipe=$1 consumer=$2 work=$3
  local line="ping $RANDOM"
  rm -f "$work/echo.sock" "$work/front.sock"
  socat UNIX-LISTEN:"$work/echo.sock" EXEC:cat &
  "$pipe" --once --log-level warn "listen:unix:$work/front.sock" "unix:$work/echo.sock" 2>"$work/pipe.err" &
  local pid=$!
  for _ in $(seq 100); do [[ -S $work/echo.sock && -S $work/front.sock ]] && break; sleep 0.05; done
  local reply
  reply=$("$consumer" "unix:$work/front.sock" "$line") || { cat "$work/pipe.err"; return 1; }
  wait "$pid" || { echo "vsock-pipe failed:"; cat "$work/pipe.err"; return 1; }
  [[ $reply == "reply: $line" ]] || { echo "consumer got '$reply', expected 'reply: $line'"; return 1; }
  echo "  $(basename "$(dirname "$consumer")") consumer -> $pipe -> echo: '$line' came back"
}
