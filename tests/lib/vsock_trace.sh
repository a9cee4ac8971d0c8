# shellcheck shell=bash
# The lab guest's vsock packets as its kernel builds them: the tracefs event
# vsock/virtio_transport_alloc_pkt, one line per packet, "SRC_CID:SRC_PORT -> DST_CID:DST_PORT
# len=N ...". Sourced after tests/lib/common.sh (uses fail).
#
#   vsock_trace_require         fail unless this kernel has the event (lab guests do)
#   vsock_trace_on              empties the trace buffer, enables the event, starts tracing
#   vsock_trace_off             stops tracing and disables the event; the buffer is kept for
#                               vsock_trace_lens. Never fails, so cleanup hooks can call it
#   vsock_trace_lens [--from CID:PORT] [--to CID:PORT]
#                               the length of each data packet (len > 0) traced since
#                               vsock_trace_on, one a line; only those from / to the address

vsock_trace_dir=/sys/kernel/tracing
vsock_trace_event=$vsock_trace_dir/events/vsock/virtio_transport_alloc_pkt

vsock_trace_require() { [[ -d $vsock_trace_event ]] || fail "no $vsock_trace_event in this kernel"; }

vsock_trace_on() {
  echo 0 >"$vsock_trace_dir/tracing_on"
  : >"$vsock_trace_dir/trace"
  echo 1 >"$vsock_trace_event/enable"
  echo 1 >"$vsock_trace_dir/tracing_on"
}

vsock_trace_off() {
  echo 0 2>/dev/null >"$vsock_trace_dir/tracing_on" || true
  echo 0 2>/dev/null >"$vsock_trace_event/enable" || true
}

vsock_trace_lens() {
  local from='[0-9]+:[0-9]+' to='[0-9]+:[0-9]+'
  while (($#)); do
    case $1 in
      --from) from=${2:?--from needs CID:PORT}; shift 2 ;;
      --to) to=${2:?--to needs CID:PORT}; shift 2 ;;
      *) fail "vsock_trace_lens: unknown argument $1" ;;
    esac
  done
  { grep -oE "(^|[^0-9])$from -> $to len=[0-9]+" "$vsock_trace_dir/trace" || true; } |
    awk -F'len=' '$2 > 0 { print $2 }'
}
