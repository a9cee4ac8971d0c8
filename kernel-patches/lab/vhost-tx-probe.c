/*
 * vhost-tx-probe: drive the kernel's vhost_vsock transmit path (guest -> host
 * packets) without a virtual machine.
 *
 * WHAT IT IS
 *   One process plays three parts on /dev/vhost-vsock:
 *     - the VMM: it owns the vhost device, gives it a memory table, two split
 *       virtqueues (0 = RX, host -> guest; 1 = TX, guest -> host) and a guest
 *       CID, and starts it;
 *     - the guest's virtio-vsock driver: it fills the RX queue with buffers,
 *       opens a stream connection to the host (OP_REQUEST), sends a
 *       deterministic byte stream as OP_RW packets of a chosen size on the TX
 *       queue, honours the host's credit, and closes (OP_SHUTDOWN);
 *     - the host application: an AF_VSOCK listener (in a thread) that accepts
 *       the connection and checks every byte it reads.
 *   Because the "guest memory" is this process's own memory, mapped with
 *   guest-physical == user-space addresses, descriptor addresses are plain
 *   pointers.
 *
 * WHY
 *   To show whether vhost_vsock loses a guest's TX packet when the host cannot
 *   allocate the buffer it copies that packet into.  On Debian's 6.1 kernel,
 *   vhost_vsock_handle_tx_kick() calls vhost_vsock_alloc_skb(), which asks for
 *   one linear sk_buff of the whole packet (44-byte header + payload: 65580
 *   bytes, an order-5 allocation, for a 64 KiB payload).  When that fails, as
 *   it can under memory fragmentation, the loop reports "Faulted on pkt"
 *   through vq_err() and moves on WITHOUT vhost_add_used(): the descriptor
 *   chain is consumed but never returned to the guest, its data never reaches
 *   the host socket, and the stream stalls.  A payload larger than 64 KiB
 *   (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE) takes the same exit, which makes the loss
 *   reproducible on demand (--pkt 65540) and proves the probe notices it.
 *   Every chain posted is recorded (head, stream offset, length, time), so a
 *   chain that never comes back is reported by name.  (Debian's 5.10 host
 *   copies the payload into a kvmalloc()ed pkt->buf instead; its loop drops a
 *   packet it cannot take in the same way, and --pkt 65540 shows it there too,
 *   but kvmalloc() falls back to vmalloc when the large allocation fails, so
 *   fragmentation alone does not make it drop one: fragmentation-repro's
 *   vhost-vmalloc mode.)
 *
 *   "Progress", for --stall, is a data chain coming back on the TX used ring,
 *   or a host packet that changes the connection's state or the host's credit
 *   (buf_alloc, fwd_cnt).  Returned control chains and credit replies that
 *   change nothing do not count, so the OP_CREDIT_REQUESTs sent once a second
 *   while waiting for credit cannot hide a stall.
 *
 * SAFETY
 *   It runs only when VSOCK_LAB=1 (set by the project's QEMU lab guest,
 *   tests/lab/run): it registers a guest CID with the running kernel.  The
 *   only AF_VSOCK socket it creates is a listener; it never connects anywhere.
 *   All memory it uses during traffic (rings, buffers, thread stack) is
 *   allocated and touched before the first packet, and locked with mlockall()
 *   when the kernel allows, so a test that fragments memory only affects the
 *   kernel's own allocations.
 *
 * USAGE
 *   VSOCK_LAB=1 vhost-tx-probe [--cid N] [--port N] [--src-port N]
 *       [--pkt BYTES] [--bytes BYTES] [--qsize N] [--split N]
 *       [--timeout S] [--stall S] [-v]
 *   Needs vhost_vsock loaded (tests/lab/run --load vhost_vsock) and root.
 *   Build: cc -static -O2 -Wall -Wextra -pthread -o vhost-tx-probe vhost-tx-probe.c
 *
 *   At the end it prints one line on stdout, e.g.
 *     probe: pkt=65536 sent=4194304 received=4194304 intact=1 chains_posted=64
 *            chains_returned=64 chains_lost=0 vring_errors=0 stalled=0 elapsed=1.23
 *   (one line in reality) and one "probe: lost chain head=H offset=O len=L"
 *   line per lost data chain (at most 10).
 *
 * EXIT STATUS
 *   0  the stream arrived intact, every chain came back, no vring error
 *   1  data lost or corrupted, a chain never returned, a vring error, a stall
 *      or the overall timeout
 *   2  usage or setup error (message names what failed), the host refused
 *      the connection, or VSOCK_LAB is not 1
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>

#define PROG "vhost-tx-probe"

enum { EXIT_PASS = 0, EXIT_LOSS = 1, EXIT_SETUP = 2 };

/* Every virtio-vsock packet starts with struct virtio_vsock_hdr, packed and
 * little-endian: src_cid(8) dst_cid(8) src_port(4) dst_port(4) len(4) type(2)
 * op(2) flags(4) buf_alloc(4) fwd_cnt(4) = 44 bytes. */
#define HDR_LEN 44
_Static_assert(sizeof(struct virtio_vsock_hdr) == HDR_LEN, "virtio_vsock_hdr must be 44 bytes");

/* vhost_vsock's own CID, where a guest's packets to "the host" go. */
#define HOST_CID VMADDR_CID_HOST /* 2 */

/* Receive buffers we give the host, one descriptor each.  4 KiB is what Linux
 * guests use; vhost splits larger packets across them (only headers are
 * expected here anyway). */
#define RX_BUF_LEN 4096

/* Our receive credit, advertised as buf_alloc in every packet we send: the
 * host may have at most this many payload bytes in flight to us.  256 KiB is
 * the Linux default socket buffer for vsock. */
#define OUR_BUF_ALLOC (256u * 1024)

/* Largest payload vhost accepts in one packet (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
 * We allow larger --pkt values on purpose: vhost drops them the same way as a
 * failed allocation. */
#define VHOST_MAX_PAYLOAD 65536u
#define MAX_PKT (1u << 20)
#define MAX_SPLIT 64u
#define MIN_QSIZE 8u
#define MAX_QSIZE 1024u /* keeps the RX buffers (qsize * 4 KiB) at 4 MiB at most */

/* TX descriptors kept free for header-only control packets (credit update,
 * credit request, shutdown, reset), so data chains can never starve them. */
#define CTRL_RESERVE 4u

/* Payload buffers: enough for about 1 MiB in flight, at least 4 and at most 64
 * chains (16 at the default 64 KiB), and never more than the ring holds. */
#define POOL_BYTES (1u << 20)
#define POOL_MIN 4u
#define POOL_MAX 64u

#define HDR_SLOT 64u          /* one header buffer per TX descriptor head */
#define READ_CHUNK (64u * 1024) /* listener read size */
#define POLL_MS 100           /* longest single wait; deadlines are checked this often */
#define CREDIT_REQ_INTERVAL 1.0 /* seconds between OP_CREDIT_REQUESTs while starved */
#define MAX_LOST_LINES 10

struct opts {
	uint32_t cid, port, src_port;
	uint32_t pkt;
	uint64_t bytes;
	unsigned qsize, split;
	double timeout, stall;
	bool verbose;
};

/* One split virtqueue as the driver (guest) sees it. */
struct ring {
	unsigned index; /* vhost queue index: 0 RX, 1 TX */
	unsigned num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx; /* next avail->idx to publish */
	uint16_t last_used; /* next used entry to consume */
	int kick_fd, call_fd, err_fd;
};

/* What we posted on the TX queue, indexed by the chain's head descriptor. */
struct chain {
	bool in_use;
	int slot;     /* payload buffer, -1 for a header-only control packet */
	uint16_t op;  /* VIRTIO_VSOCK_OP_* */
	uint16_t ndesc;
	uint16_t descs[1 + MAX_SPLIT];
	uint64_t offset; /* stream offset of the payload (tx bytes so far for control) */
	uint32_t len;    /* payload bytes */
	double posted;   /* CLOCK_MONOTONIC seconds */
};

/* The host application: accepts one connection and checks the stream. */
struct listener {
	int lfd;
	double deadline;
	unsigned char *buf, *want; /* READ_CHUNK each, allocated before traffic */
	atomic_bool stop, done;
	atomic_uint_fast64_t received;
	/* read by main only after pthread_join */
	int64_t mismatch; /* first bad stream offset, -1 if none */
	int err;          /* errno of a failed accept/read, 0 if none */
	bool accepted, eof;
};

enum phase { PH_CONNECTING, PH_DATA, PH_DRAIN, PH_CLOSING };

/* Control packets waiting for a TX descriptor. */
enum {
	PEND_REQUEST = 1u << 0,
	PEND_CREDIT_UPDATE = 1u << 1,
	PEND_CREDIT_REQUEST = 1u << 2,
	PEND_SHUTDOWN = 1u << 3,
	PEND_RST = 1u << 4,
};

struct probe {
	struct opts o;

	int vhost_fd;
	bool running;
	struct ring rx, tx;
	unsigned char *arena;
	size_t arena_len;
	unsigned char *rxbufs, *hdrs, *pool;
	size_t slot_len;
	unsigned npool;

	struct chain *chains;
	uint16_t *free_desc;
	unsigned nfree_desc;
	int *free_slot;
	unsigned nfree_slot;
	struct chain **lost; /* scratch for the report, qsize entries */

	enum phase phase;
	unsigned pend;
	uint64_t tx_off;   /* payload bytes posted (stream offset of the next byte) */
	uint32_t tx_cnt;   /* same, modulo 2^32, as the spec counts it */
	uint32_t fwd_cnt;  /* RW payload bytes we consumed from the host */
	uint32_t adv_fwd;  /* fwd_cnt we last told the host */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	bool have_credit;
	bool credit_starved;   /* the next packet waits for host credit */
	uint64_t credit_waits; /* how often that began */

	uint64_t data_posted, data_returned, ctrl_posted, ctrl_returned;
	unsigned data_inflight, ctrl_inflight;
	uint64_t vring_errors, bogus_used, stray_pkts, host_rw_bytes, host_pkts[8];
	bool host_closed, host_reset, refused, stalled, timed_out, packet_capped;
	double t0, last_progress, last_credit_req, close_deadline;
};

/* ------------------------------------------------------------------ utils */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t page_up(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

static const char *op_name(unsigned op)
{
	static const char *const names[] = {"INVALID", "REQUEST", "RESPONSE", "RST",
					    "SHUTDOWN", "RW", "CREDIT_UPDATE", "CREDIT_REQUEST"};
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "UNKNOWN";
}

/* The stream: byte i is byte (i % 8) of splitmix64(i / 8).  Any offset can be
 * regenerated independently, so the listener checks each byte where it lands. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fill_pattern(unsigned char *p, uint64_t off, size_t len)
{
	while (len > 0) {
		uint64_t w = splitmix64(off >> 3);
		unsigned k = (unsigned)(off & 7);
		size_t n = 8 - k;

		if (n > len)
			n = len;
		for (size_t j = 0; j < n; j++)
			p[j] = (unsigned char)(w >> (8 * (k + j)));
		p += n;
		off += n;
		len -= n;
	}
}

static void verbose(const struct probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void verbose(const struct probe *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->o.verbose)
		return;
	fprintf(stderr, "probe: [%7.3f] ", now_s() - p->t0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: VSOCK_LAB=1 " PROG " [options]\n"
		"\n"
		"Acts as VMM and guest virtio-vsock driver on /dev/vhost-vsock and sends a\n"
		"checked byte stream guest -> host through vhost_vsock's TX path to an\n"
		"in-process AF_VSOCK listener.  Reports lost descriptor chains and data.\n"
		"Runs only in the project's QEMU lab guest (VSOCK_LAB=1).\n"
		"\n"
		"options:\n"
		"  --cid N        guest CID to register (default 7; 3..4294967294)\n"
		"  --port N       host listener port (default 5700)\n"
		"  --src-port N   guest source port (default 1234)\n"
		"  --pkt BYTES    payload bytes per OP_RW packet (default 65536; 1..1M;\n"
		"                 above 65536 vhost drops the packet on purpose)\n"
		"  --bytes BYTES  total payload to send (default 4M; K/M/G suffixes)\n"
		"  --qsize N      entries per virtqueue, power of two 8..1024 (default 128)\n"
		"  --split N      payload descriptors per packet, 1..64 (default 1)\n"
		"  --timeout S    overall deadline in seconds (default 60)\n"
		"  --stall S      stop when nothing progresses for S seconds (default 5)\n"
		"  -v, --verbose  progress on stderr\n"
		"  -h, --help     this text\n"
		"\n"
		"stdout, last line:\n"
		"  probe: pkt=P sent=B received=B intact=0|1 chains_posted=N chains_returned=N\n"
		"         chains_lost=N vring_errors=N stalled=0|1 elapsed=SECONDS\n"
		"exit: 0 intact, nothing lost; 1 data or chain lost, vring error, stall,\n"
		"      timeout; 2 usage/setup error\n");
}

/* Unsigned decimal, optionally with a binary K/M/G suffix. */
static bool parse_u64(const char *s, bool suffix, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (suffix && *end) {
		switch (*end) {
		case 'k': case 'K': mul = 1ull << 10; break;
		case 'm': case 'M': mul = 1ull << 20; break;
		case 'g': case 'G': mul = 1ull << 30; break;
		default: return false;
		}
		end++;
	}
	if (*end)
		return false;
	if (v > UINT64_MAX / mul)
		return false;
	v *= mul;
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_secs(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 3600)
		return false;
	*out = v;
	return true;
}

static int bad_value(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, PROG ": %s '%s': expected %s\n", opt, val, want);
	return EXIT_SETUP;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_CID = 256, O_PORT, O_SRC_PORT, O_PKT, O_BYTES, O_QSIZE, O_SPLIT, O_TIMEOUT, O_STALL };
	static const struct option longopts[] = {
		{"cid", required_argument, NULL, O_CID},
		{"port", required_argument, NULL, O_PORT},
		{"src-port", required_argument, NULL, O_SRC_PORT},
		{"pkt", required_argument, NULL, O_PKT},
		{"bytes", required_argument, NULL, O_BYTES},
		{"qsize", required_argument, NULL, O_QSIZE},
		{"split", required_argument, NULL, O_SPLIT},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"stall", required_argument, NULL, O_STALL},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	*o = (struct opts){
		.cid = 7, .port = 5700, .src_port = 1234, .pkt = 65536,
		.bytes = 4ull << 20, .qsize = 128, .split = 1, .timeout = 60, .stall = 5,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		const char *a = optarg;

		switch (c) {
		case O_CID: /* 0-2 are reserved (hypervisor, local, host); U32_MAX is "any" */
			if (!parse_u64(a, false, 3, UINT32_MAX - 1, &v))
				return bad_value("--cid", a, "an integer 3..4294967294");
			o->cid = (uint32_t)v;
			break;
		case O_PORT:
		case O_SRC_PORT: /* U32_MAX is VMADDR_PORT_ANY */
			if (!parse_u64(a, false, 1, UINT32_MAX - 1, &v))
				return bad_value(c == O_PORT ? "--port" : "--src-port", a,
						 "an integer 1..4294967294");
			if (c == O_PORT)
				o->port = (uint32_t)v;
			else
				o->src_port = (uint32_t)v;
			break;
		case O_PKT:
			if (!parse_u64(a, true, 1, MAX_PKT, &v))
				return bad_value("--pkt", a, "a size 1..1M (K/M suffixes)");
			o->pkt = (uint32_t)v;
			break;
		case O_BYTES:
			if (!parse_u64(a, true, 1, 64ull << 30, &v))
				return bad_value("--bytes", a, "a size 1..64G (K/M/G suffixes)");
			o->bytes = v;
			break;
		case O_QSIZE:
			if (!parse_u64(a, false, MIN_QSIZE, MAX_QSIZE, &v) || (v & (v - 1)))
				return bad_value("--qsize", a, "a power of two 8..1024");
			o->qsize = (unsigned)v;
			break;
		case O_SPLIT:
			if (!parse_u64(a, false, 1, MAX_SPLIT, &v))
				return bad_value("--split", a, "an integer 1..64");
			o->split = (unsigned)v;
			break;
		case O_TIMEOUT:
			if (!parse_secs(a, &o->timeout))
				return bad_value("--timeout", a, "seconds, 0 < S <= 3600");
			break;
		case O_STALL:
			if (!parse_secs(a, &o->stall))
				return bad_value("--stall", a, "seconds, 0 < S <= 3600");
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_PASS;
		case ':':
			fprintf(stderr, PROG ": %s needs a value (see --help)\n", argv[optind - 1]);
			return EXIT_SETUP;
		default:
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", argv[optind - 1]);
			return EXIT_SETUP;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return EXIT_SETUP;
	}
	if (o->split > o->pkt) {
		fprintf(stderr, PROG ": --split %u is more than --pkt %u bytes\n", o->split, o->pkt);
		return EXIT_SETUP;
	}
	if (o->qsize < CTRL_RESERVE + 1 + o->split) {
		fprintf(stderr, PROG ": --qsize %u cannot hold a %u-descriptor chain plus %u "
			"descriptors for control packets\n", o->qsize, 1 + o->split, CTRL_RESERVE);
		return EXIT_SETUP;
	}
	if (o->stall > o->timeout) {
		fprintf(stderr, PROG ": --stall %g is longer than --timeout %g\n", o->stall, o->timeout);
		return EXIT_SETUP;
	}
	return -1;
}

/* --------------------------------------------------------------- listener */

static void *listener_main(void *arg)
{
	struct listener *L = arg;
	uint64_t off = 0;
	int cfd = -1;

	/* Accept one connection, checking stop and the deadline every POLL_MS. */
	while (!atomic_load(&L->stop) && now_s() < L->deadline) {
		struct pollfd pf = {.fd = L->lfd, .events = POLLIN};
		int r = poll(&pf, 1, POLL_MS);

		if (r < 0 && errno != EINTR) {
			L->err = errno;
			goto out;
		}
		if (r <= 0)
			continue;
		cfd = accept4(L->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd >= 0)
			break;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED) {
			L->err = errno;
			goto out;
		}
	}
	if (cfd < 0)
		goto out;
	L->accepted = true;

	/* Read to EOF; each chunk is compared with the stream at its offset. */
	while (!atomic_load(&L->stop) && now_s() < L->deadline) {
		struct pollfd pf = {.fd = cfd, .events = POLLIN};
		int r = poll(&pf, 1, POLL_MS);
		ssize_t n;

		if (r < 0 && errno != EINTR) {
			L->err = errno;
			break;
		}
		if (r <= 0)
			continue;
		n = read(cfd, L->buf, READ_CHUNK);
		if (n == 0) {
			L->eof = true;
			break;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			L->err = errno;
			break;
		}
		if (L->mismatch < 0) {
			fill_pattern(L->want, off, (size_t)n);
			if (memcmp(L->buf, L->want, (size_t)n) != 0) {
				size_t j = 0;

				while (L->buf[j] == L->want[j])
					j++;
				L->mismatch = (int64_t)(off + j);
			}
		}
		off += (uint64_t)n;
		atomic_store(&L->received, off);
	}
	close(cfd);
out:
	atomic_store(&L->done, true);
	return NULL;
}

static int listener_socket(uint32_t port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		fprintf(stderr, PROG ": socket(AF_VSOCK): %s\n", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, PROG ": bind(AF_VSOCK, CID_ANY, port %" PRIu32 "): %s\n", port,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, 1) < 0) {
		fprintf(stderr, PROG ": listen(AF_VSOCK port %" PRIu32 "): %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* -------------------------------------------------------------- vhost/VMM */

static int vhost_ioctl(struct probe *p, unsigned long req, const char *name, void *arg)
{
	if (ioctl(p->vhost_fd, req, arg) < 0) {
		fprintf(stderr, PROG ": ioctl(/dev/vhost-vsock, %s): %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}
#define VIOCTL(p, req, arg) vhost_ioctl((p), (req), #req, (arg))

/* Carve rings and buffers out of one arena.  Each ring part starts on its own
 * page, which also satisfies the split-ring alignment (desc 16, avail 2,
 * used 4). */
static int layout_arena(struct probe *p)
{
	unsigned q = p->o.qsize;
	size_t desc_len = page_up(sizeof(struct vring_desc) * q);
	size_t avail_len = page_up(4 + 2 * (size_t)q + 2);   /* flags, idx, ring[q], used_event */
	size_t used_len = page_up(4 + 8 * (size_t)q + 2);    /* flags, idx, ring[q], avail_event */
	size_t ring_len = desc_len + avail_len + used_len;
	size_t rx_len = (size_t)q * RX_BUF_LEN;
	size_t hdr_len = page_up((size_t)q * HDR_SLOT);
	unsigned by_ring = (q - CTRL_RESERVE) / (1 + p->o.split);
	unsigned by_bytes = POOL_BYTES / p->o.pkt;
	size_t off = 0;

	p->npool = by_bytes < POOL_MIN ? POOL_MIN : by_bytes > POOL_MAX ? POOL_MAX : by_bytes;
	if (p->npool > by_ring)
		p->npool = by_ring;
	p->slot_len = page_up(p->o.pkt);
	p->arena_len = 2 * ring_len + rx_len + hdr_len + (size_t)p->npool * p->slot_len;

	p->arena = mmap(NULL, p->arena_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p->arena == MAP_FAILED) {
		p->arena = NULL;
		fprintf(stderr, PROG ": mmap(%zu bytes): %s\n", p->arena_len, strerror(errno));
		return -1;
	}
	memset(p->arena, 0, p->arena_len); /* touch every page now, not during traffic */

	struct ring *rings[2] = {&p->rx, &p->tx};
	for (int i = 0; i < 2; i++) {
		struct ring *r = rings[i];

		r->index = (unsigned)i; /* 0 = RX, 1 = TX, as vhost_vsock numbers them */
		r->num = q;
		r->desc = (struct vring_desc *)(p->arena + off);
		r->avail = (struct vring_avail *)(p->arena + off + desc_len);
		r->used = (struct vring_used *)(p->arena + off + desc_len + avail_len);
		off += ring_len;
	}
	p->rxbufs = p->arena + off;
	off += rx_len;
	p->hdrs = p->arena + off;
	off += hdr_len;
	p->pool = p->arena + off;

	/* Bookkeeping, also allocated before traffic. */
	p->chains = calloc(q, sizeof(*p->chains));
	p->free_desc = calloc(q, sizeof(*p->free_desc));
	p->free_slot = calloc(p->npool, sizeof(*p->free_slot));
	p->lost = calloc(q, sizeof(*p->lost));
	if (!p->chains || !p->free_desc || !p->free_slot || !p->lost) {
		fprintf(stderr, PROG ": out of memory for bookkeeping\n");
		return -1;
	}
	for (unsigned i = 0; i < q; i++)
		p->free_desc[p->nfree_desc++] = (uint16_t)(q - 1 - i);
	for (unsigned i = 0; i < p->npool; i++)
		p->free_slot[p->nfree_slot++] = (int)(p->npool - 1 - i);
	return 0;
}

static int make_eventfd(int *fd, const char *what)
{
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0) {
		fprintf(stderr, PROG ": eventfd (%s): %s\n", what, strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_ring(struct probe *p, struct ring *r)
{
	struct vhost_vring_state num = {.index = r->index, .num = r->num};
	struct vhost_vring_state base = {.index = r->index, .num = 0};
	struct vhost_vring_addr addr = {
		.index = r->index,
		.flags = 0, /* no dirty logging */
		.desc_user_addr = (uintptr_t)r->desc,
		.used_user_addr = (uintptr_t)r->used,
		.avail_user_addr = (uintptr_t)r->avail,
		.log_guest_addr = 0,
	};
	struct vhost_vring_file kick, call, err;

	if (make_eventfd(&r->kick_fd, "kick") || make_eventfd(&r->call_fd, "call") ||
	    make_eventfd(&r->err_fd, "err"))
		return -1;
	kick = (struct vhost_vring_file){.index = r->index, .fd = r->kick_fd};
	call = (struct vhost_vring_file){.index = r->index, .fd = r->call_fd};
	err = (struct vhost_vring_file){.index = r->index, .fd = r->err_fd};
	if (VIOCTL(p, VHOST_SET_VRING_NUM, &num) || VIOCTL(p, VHOST_SET_VRING_BASE, &base) ||
	    VIOCTL(p, VHOST_SET_VRING_ADDR, &addr) || VIOCTL(p, VHOST_SET_VRING_KICK, &kick) ||
	    VIOCTL(p, VHOST_SET_VRING_CALL, &call) || VIOCTL(p, VHOST_SET_VRING_ERR, &err))
		return -1;
	return 0;
}

static void kick(struct ring *r)
{
	uint64_t one = 1;

	/* The write is a syscall, so the avail->idx store is visible first. */
	if (write(r->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror(PROG ": write(kick eventfd)");
}

/* Make descriptor chain `head` available to the device. */
static void publish(struct ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx & (r->num - 1)] = htole16(head);
	r->avail_idx++;
	/* Release: the descriptors and ring entry are written before the index. */
	__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
}

static void post_rx(struct probe *p, uint16_t id)
{
	struct vring_desc *d = &p->rx.desc[id];

	d->addr = htole64((uintptr_t)(p->rxbufs + (size_t)id * RX_BUF_LEN));
	d->len = htole32(RX_BUF_LEN);
	d->flags = htole16(VRING_DESC_F_WRITE); /* device-writable, single descriptor */
	d->next = 0;
	publish(&p->rx, id);
}

static int setup_vhost(struct probe *p)
{
	uint64_t features, want, cid = p->o.cid;
	int running = 1;
	struct vhost_memory *mem;
	int rc;

	p->vhost_fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	if (p->vhost_fd < 0) {
		fprintf(stderr, PROG ": open(/dev/vhost-vsock): %s%s\n", strerror(errno),
			errno == ENOENT ? " (is vhost_vsock loaded? tests/lab/run --load vhost_vsock)" : "");
		return -1;
	}
	if (VIOCTL(p, VHOST_SET_OWNER, NULL) || VIOCTL(p, VHOST_GET_FEATURES, &features))
		return -1;
	/* Only VERSION_1 (little-endian rings and headers).  No EVENT_IDX: the
	 * device then signals every used batch and reads every kick; no indirect
	 * descriptors: chains are plain linked descriptors. */
	want = features & (1ull << VIRTIO_F_VERSION_1);
	verbose(p, "vhost features offered 0x%" PRIx64 ", acking 0x%" PRIx64, features, want);
	if (VIOCTL(p, VHOST_SET_FEATURES, &want))
		return -1;

	/* One region, guest-physical address == our virtual address. */
	mem = calloc(1, sizeof(*mem) + sizeof(mem->regions[0]));
	if (!mem) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	mem->nregions = 1;
	mem->regions[0].guest_phys_addr = (uintptr_t)p->arena;
	mem->regions[0].memory_size = p->arena_len;
	mem->regions[0].userspace_addr = (uintptr_t)p->arena;
	rc = VIOCTL(p, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	if (rc)
		return -1;

	if (setup_ring(p, &p->rx) || setup_ring(p, &p->tx))
		return -1;
	if (VIOCTL(p, VHOST_VSOCK_SET_GUEST_CID, &cid))
		return -1;

	/* Fill the RX ring before starting, so host packets always have room. */
	for (unsigned i = 0; i < p->rx.num; i++)
		post_rx(p, (uint16_t)i);

	if (VIOCTL(p, VHOST_VSOCK_SET_RUNNING, &running))
		return -1;
	p->running = true;
	kick(&p->rx);
	return 0;
}

/* ------------------------------------------------------ guest driver: TX */

static uint32_t peer_credit(const struct probe *p)
{
	/* Spec: the sender may have buf_alloc - (tx_cnt - fwd_cnt) bytes
	 * outstanding; the counters wrap at 2^32, hence uint32_t.  This matters
	 * here: the host drops RW data beyond its buffer (after returning the
	 * chain), which would look like corruption rather than a lost chain. */
	uint32_t outstanding = p->tx_cnt - p->peer_fwd_cnt;

	if (!p->have_credit || outstanding >= p->peer_buf_alloc)
		return 0;
	return p->peer_buf_alloc - outstanding;
}

/* Post one packet.  slot < 0: header only.  Returns false when there are not
 * enough free descriptors (nothing is changed then). */
static bool post_tx(struct probe *p, uint16_t op, uint32_t flags, int slot, uint32_t len)
{
	unsigned pieces = slot < 0 ? 0 : (p->o.split < len ? p->o.split : len);
	unsigned need = 1 + pieces;
	struct virtio_vsock_hdr h;
	struct chain *c;
	uint16_t head;

	if (p->nfree_desc < need)
		return false;
	head = p->free_desc[--p->nfree_desc];
	c = &p->chains[head];
	*c = (struct chain){.in_use = true, .slot = slot, .op = op, .ndesc = (uint16_t)need,
			    .offset = p->tx_off, .len = len, .posted = now_s()};
	c->descs[0] = head;
	for (unsigned i = 1; i < need; i++)
		c->descs[i] = p->free_desc[--p->nfree_desc];

	memset(&h, 0, sizeof(h));
	h.src_cid = htole64(p->o.cid);
	h.dst_cid = htole64(HOST_CID);
	h.src_port = htole32(p->o.src_port);
	h.dst_port = htole32(p->o.port);
	h.len = htole32(len);
	h.type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h.op = htole16(op);
	h.flags = htole32(flags);
	h.buf_alloc = htole32(OUR_BUF_ALLOC);
	h.fwd_cnt = htole32(p->fwd_cnt);
	p->adv_fwd = p->fwd_cnt;
	memcpy(p->hdrs + (size_t)head * HDR_SLOT, &h, HDR_LEN);

	/* Descriptor 0: the 44-byte header; then the payload in `pieces` parts. */
	struct vring_desc *d = &p->tx.desc[head];
	d->addr = htole64((uintptr_t)(p->hdrs + (size_t)head * HDR_SLOT));
	d->len = htole32(HDR_LEN);
	d->flags = htole16(pieces ? VRING_DESC_F_NEXT : 0);
	d->next = htole16(pieces ? c->descs[1] : 0);
	if (pieces) {
		unsigned char *buf = p->pool + (size_t)slot * p->slot_len;
		uint32_t base = len / pieces, done = 0;

		fill_pattern(buf, p->tx_off, len);
		for (unsigned i = 1; i < need; i++) {
			uint32_t l = i == need - 1 ? len - done : base;

			d = &p->tx.desc[c->descs[i]];
			d->addr = htole64((uintptr_t)(buf + done));
			d->len = htole32(l);
			d->flags = htole16(i < need - 1 ? VRING_DESC_F_NEXT : 0);
			d->next = htole16(i < need - 1 ? c->descs[i + 1] : 0);
			done += l;
		}
	}
	publish(&p->tx, head);

	if (slot >= 0) {
		p->data_posted++;
		p->data_inflight++;
		p->tx_off += len;
		p->tx_cnt += len;
	} else {
		p->ctrl_posted++;
		p->ctrl_inflight++;
	}
	return true;
}

/* Send what is pending and then data; returns whether anything was posted. */
static bool fill_tx(struct probe *p)
{
	static const struct { unsigned bit; uint16_t op; uint32_t flags; } ctrl[] = {
		{PEND_REQUEST, VIRTIO_VSOCK_OP_REQUEST, 0},
		{PEND_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0},
		{PEND_CREDIT_REQUEST, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0},
		{PEND_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN,
		 VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND},
		{PEND_RST, VIRTIO_VSOCK_OP_RST, 0}, /* last: nothing may follow a reset */
	};
	bool posted = false;

	for (size_t i = 0; i < sizeof(ctrl) / sizeof(ctrl[0]); i++) {
		if (!(p->pend & ctrl[i].bit))
			continue;
		if (!post_tx(p, ctrl[i].op, ctrl[i].flags, -1, 0))
			return posted;
		p->pend &= ~ctrl[i].bit;
		posted = true;
		verbose(p, "sent OP_%s", op_name(ctrl[i].op));
	}

	/* Data, as long as a payload buffer, descriptors and credit allow; at
	 * most npool chains per call. */
	while (p->phase == PH_DATA && p->tx_off < p->o.bytes && p->nfree_slot > 0) {
		uint64_t left = p->o.bytes - p->tx_off;
		uint32_t len = left < p->o.pkt ? (uint32_t)left : p->o.pkt;

		/* A host window smaller than one packet would block forever. */
		if (p->have_credit && p->peer_buf_alloc > 0 && len > p->peer_buf_alloc) {
			len = p->peer_buf_alloc;
			p->packet_capped = true;
		}
		if (peer_credit(p) < len) {
			if (!p->credit_starved && p->credit_waits++ == 0)
				verbose(p, "first wait for credit (host buf_alloc %" PRIu32 ", tx_cnt %"
					PRIu32 ", host fwd_cnt %" PRIu32 ")", p->peer_buf_alloc,
					p->tx_cnt, p->peer_fwd_cnt);
			p->credit_starved = true;
			break;
		}
		p->credit_starved = false;
		if (!post_tx(p, VIRTIO_VSOCK_OP_RW, 0, p->free_slot[p->nfree_slot - 1], len))
			break;
		p->nfree_slot--;
		posted = true;
	}
	return posted;
}

/* Collect chains vhost has returned on the TX used ring. */
static int reap_tx(struct probe *p)
{
	struct ring *r = &p->tx;
	uint16_t idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));
	uint16_t pending = (uint16_t)(idx - r->last_used);

	if (pending > r->num) {
		fprintf(stderr, PROG ": TX used->idx jumped from %u to %u\n", r->last_used, idx);
		return -1;
	}
	for (; r->last_used != idx; r->last_used++) {
		uint32_t id = le32toh(r->used->ring[r->last_used & (r->num - 1)].id);
		struct chain *c;

		if (id >= r->num || !p->chains[id].in_use) {
			p->bogus_used++;
			continue;
		}
		c = &p->chains[id];
		for (unsigned i = c->ndesc; i > 0; i--)
			p->free_desc[p->nfree_desc++] = c->descs[i - 1];
		if (c->slot >= 0) {
			p->free_slot[p->nfree_slot++] = c->slot;
			p->data_returned++;
			p->data_inflight--;
			p->last_progress = now_s();
		} else {
			p->ctrl_returned++;
			p->ctrl_inflight--;
		}
		c->in_use = false;
	}
	return 0;
}

/* ------------------------------------------------------ guest driver: RX */

static void enter_closing(struct probe *p, bool send_shutdown)
{
	if (p->phase == PH_CLOSING)
		return;
	p->phase = PH_CLOSING;
	if (send_shutdown)
		p->pend |= PEND_SHUTDOWN;
	p->close_deadline = now_s() + p->o.stall;
}

static void handle_host_pkt(struct probe *p, const unsigned char *buf, uint32_t used_len)
{
	struct virtio_vsock_hdr h;
	uint32_t ba, fc, len;
	uint16_t op;

	if (used_len < HDR_LEN) {
		p->stray_pkts++;
		return;
	}
	memcpy(&h, buf, HDR_LEN);
	if (le64toh(h.src_cid) != HOST_CID || le64toh(h.dst_cid) != p->o.cid ||
	    le32toh(h.src_port) != p->o.port || le32toh(h.dst_port) != p->o.src_port ||
	    le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM) {
		p->stray_pkts++;
		verbose(p, "ignored packet op %u from %" PRIu64 ":%" PRIu32 " to %" PRIu64 ":%" PRIu32,
			le16toh(h.op), (uint64_t)le64toh(h.src_cid), le32toh(h.src_port),
			(uint64_t)le64toh(h.dst_cid), le32toh(h.dst_port));
		return;
	}
	op = le16toh(h.op);
	len = le32toh(h.len);
	p->host_pkts[op < 8 ? op : 0]++;

	/* Every host packet carries its credit: buffer size and bytes consumed. */
	ba = le32toh(h.buf_alloc);
	fc = le32toh(h.fwd_cnt);
	if (op != VIRTIO_VSOCK_OP_RST) {
		if (!p->have_credit || ba != p->peer_buf_alloc || fc != p->peer_fwd_cnt)
			p->last_progress = now_s();
		p->peer_buf_alloc = ba;
		p->peer_fwd_cnt = fc;
		p->have_credit = true;
	}

	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (p->phase == PH_CONNECTING) {
			p->phase = PH_DATA;
			p->last_progress = now_s();
			verbose(p, "connected; host buf_alloc %" PRIu32 " fwd_cnt %" PRIu32, ba, fc);
		}
		break;
	case VIRTIO_VSOCK_OP_RST:
		p->last_progress = now_s();
		p->host_closed = true;
		if (p->phase == PH_CONNECTING) {
			p->refused = true;
			verbose(p, "host answered OP_REQUEST with OP_RST");
		} else if (p->phase != PH_CLOSING) {
			p->host_reset = true;
			verbose(p, "host reset the connection");
		} else {
			verbose(p, "host sent OP_RST");
		}
		p->pend = 0; /* the connection is gone; nothing more to say */
		enter_closing(p, false);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		p->last_progress = now_s();
		verbose(p, "host sent OP_SHUTDOWN flags %" PRIu32, le32toh(h.flags));
		if (p->phase != PH_CLOSING) {
			p->host_reset = true; /* the host went away before we were done */
			enter_closing(p, false);
		}
		/* The host has shut down (and so have we, or we give up now): end
		 * the connection with a reset, as a Linux guest would. */
		p->pend = (p->pend & PEND_SHUTDOWN) | PEND_RST;
		p->host_closed = true;
		break;
	case VIRTIO_VSOCK_OP_RW:
		/* Not expected (the listener never writes), but consume it and
		 * credit it back so the host is never blocked by us. */
		p->host_rw_bytes += len;
		p->fwd_cnt += len;
		if (p->fwd_cnt - p->adv_fwd >= OUR_BUF_ALLOC / 2)
			p->pend |= PEND_CREDIT_UPDATE;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		p->pend |= PEND_CREDIT_UPDATE;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* credit already taken above */
	default:
		verbose(p, "unexpected host op %u", op);
		break;
	}
}

static int reap_rx(struct probe *p)
{
	struct ring *r = &p->rx;
	uint16_t idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));
	uint16_t pending = (uint16_t)(idx - r->last_used);
	bool reposted = false;

	if (pending > r->num) {
		fprintf(stderr, PROG ": RX used->idx jumped from %u to %u\n", r->last_used, idx);
		return -1;
	}
	for (; r->last_used != idx; r->last_used++) {
		const vring_used_elem_t *e = &r->used->ring[r->last_used & (r->num - 1)];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);

		if (id >= r->num) {
			p->bogus_used++;
			continue;
		}
		if (len > RX_BUF_LEN)
			len = RX_BUF_LEN;
		handle_host_pkt(p, p->rxbufs + (size_t)id * RX_BUF_LEN, len);
		post_rx(p, (uint16_t)id); /* give the buffer straight back */
		reposted = true;
	}
	if (reposted)
		kick(r);
	return 0;
}

static uint64_t drain_eventfd(int fd)
{
	uint64_t v = 0;

	if (fd >= 0 && read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		v = 0;
	return v;
}

/* --------------------------------------------------------------- the run */

static void progress_line(const struct probe *p, const struct listener *L)
{
	static const char *const phases[] = {"connecting", "data", "drain", "closing"};

	verbose(p, "%s: sent %" PRIu64 " chains %" PRIu64 "/%" PRIu64 " returned, in flight %u,"
		" credit %" PRIu32 ", listener %" PRIu64 ", vring errors %" PRIu64,
		phases[p->phase], p->tx_off, p->data_returned, p->data_posted, p->data_inflight,
		peer_credit(p), (uint64_t)atomic_load(&L->received), p->vring_errors);
}

/* The event loop: returns -1 on an internal error, else 0 (results in p). */
static int run(struct probe *p, struct listener *L)
{
	double deadline = p->t0 + p->o.timeout, next_report = 0;
	struct pollfd pf[4] = {
		{.fd = p->tx.call_fd, .events = POLLIN},
		{.fd = p->rx.call_fd, .events = POLLIN},
		{.fd = p->tx.err_fd, .events = POLLIN},
		{.fd = p->rx.err_fd, .events = POLLIN},
	};

	p->phase = PH_CONNECTING;
	p->pend = PEND_REQUEST;
	p->last_progress = now_s();

	/* Bounded: every pass waits up to POLL_MS and the deadline ends it. */
	for (;;) {
		double t = now_s();
		int ms;

		if (t >= deadline) {
			p->timed_out = true;
			verbose(p, "overall timeout (%g s)", p->o.timeout);
			break;
		}
		if (p->phase == PH_CLOSING) {
			bool quiet = p->ctrl_inflight == 0 && (p->data_inflight == 0 || p->stalled);

			if (p->host_closed && atomic_load(&L->done) && quiet && !p->pend)
				break;
			if (t >= p->close_deadline) {
				verbose(p, "close did not complete within %g s (host closed %d, listener done %d)",
					p->o.stall, p->host_closed, (int)atomic_load(&L->done));
				break;
			}
		} else if (t - p->last_progress >= p->o.stall) {
			p->stalled = true;
			verbose(p, "stalled: no progress for %g s", p->o.stall);
			/* Before the connection exists there is nothing to shut down. */
			if (p->phase == PH_CONNECTING)
				p->pend = PEND_RST;
			enter_closing(p, p->phase != PH_CONNECTING);
		}
		if (p->phase == PH_DATA && p->tx_off >= p->o.bytes)
			p->phase = PH_DRAIN;
		if (p->phase == PH_DRAIN && p->data_inflight == 0)
			enter_closing(p, true);

		if (p->phase == PH_DATA && p->credit_starved &&
		    t - p->last_credit_req >= CREDIT_REQ_INTERVAL) {
			p->pend |= PEND_CREDIT_REQUEST;
			p->last_credit_req = t;
		}
		if (fill_tx(p))
			kick(&p->tx);

		if (p->o.verbose && t >= next_report) {
			progress_line(p, L);
			next_report = t + 1.0;
		}

		ms = (int)((deadline - t) * 1000) + 1;
		if (ms > POLL_MS)
			ms = POLL_MS;
		if (poll(pf, 4, ms) < 0 && errno != EINTR) {
			perror(PROG ": poll");
			return -1;
		}
		/* Clear the notifications first, then look at the rings, so a
		 * signal that arrives meanwhile is not lost. */
		drain_eventfd(p->tx.call_fd);
		drain_eventfd(p->rx.call_fd);
		p->vring_errors += drain_eventfd(p->tx.err_fd) + drain_eventfd(p->rx.err_fd);
		if (reap_tx(p) || reap_rx(p))
			return -1;
	}
	return 0;
}

static int cmp_offset(const void *a, const void *b)
{
	const struct chain *x = *(struct chain *const *)a, *y = *(struct chain *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Print the result lines; returns the exit status. */
static int report(struct probe *p, const struct listener *L, double elapsed)
{
	uint64_t received = atomic_load(&L->received);
	bool intact = received == p->o.bytes && L->mismatch < 0;
	uint64_t lost = p->data_posted - p->data_returned;
	unsigned nlost = 0, nctrl_lost = 0;

	for (unsigned i = 0; i < p->o.qsize; i++) {
		struct chain *c = &p->chains[i];

		if (!c->in_use)
			continue;
		if (c->slot >= 0)
			p->lost[nlost++] = c;
		else if (nctrl_lost++ < MAX_LOST_LINES)
			printf("probe: lost control chain head=%u op=%s\n", i, op_name(c->op));
	}
	qsort(p->lost, nlost, sizeof(p->lost[0]), cmp_offset);
	for (unsigned i = 0; i < nlost && i < MAX_LOST_LINES; i++) {
		struct chain *c = p->lost[i];

		printf("probe: lost chain head=%u offset=%" PRIu64 " len=%" PRIu32 "\n",
		       c->descs[0], c->offset, c->len);
		verbose(p, "lost chain head=%u posted at %.3f s, %u descriptors", c->descs[0],
			c->posted - p->t0, c->ndesc);
	}
	if (p->refused)
		fprintf(stderr, PROG ": the host refused the connection (OP_RST): is anything "
			"wrong with the listener on port %" PRIu32 "?\n", p->o.port);
	if (p->timed_out)
		fprintf(stderr, PROG ": overall timeout (%g s) reached\n", p->o.timeout);
	if (p->host_reset)
		fprintf(stderr, PROG ": the host closed the connection before the stream ended\n");
	if (L->mismatch >= 0)
		fprintf(stderr, PROG ": first corrupt byte at stream offset %" PRId64 "\n", L->mismatch);
	if (L->err)
		fprintf(stderr, PROG ": listener: %s\n", strerror(L->err));
	if (!L->accepted)
		fprintf(stderr, PROG ": listener never accepted a connection\n");
	if (p->packet_capped)
		fprintf(stderr, PROG ": packets were capped to the host's buf_alloc %" PRIu32 "\n",
			p->peer_buf_alloc);
	verbose(p, "host packets: RESPONSE %" PRIu64 " RST %" PRIu64 " SHUTDOWN %" PRIu64
		" RW %" PRIu64 " CREDIT_UPDATE %" PRIu64 " CREDIT_REQUEST %" PRIu64
		"; stray %" PRIu64 ", bogus used %" PRIu64 ", control chains %" PRIu64 "/%" PRIu64
		", credit waits %" PRIu64 ", listener eof %d",
		p->host_pkts[VIRTIO_VSOCK_OP_RESPONSE], p->host_pkts[VIRTIO_VSOCK_OP_RST],
		p->host_pkts[VIRTIO_VSOCK_OP_SHUTDOWN], p->host_pkts[VIRTIO_VSOCK_OP_RW],
		p->host_pkts[VIRTIO_VSOCK_OP_CREDIT_UPDATE], p->host_pkts[VIRTIO_VSOCK_OP_CREDIT_REQUEST],
		p->stray_pkts, p->bogus_used, p->ctrl_returned, p->ctrl_posted, p->credit_waits,
		(int)L->eof);

	printf("probe: pkt=%" PRIu32 " sent=%" PRIu64 " received=%" PRIu64 " intact=%d"
	       " chains_posted=%" PRIu64 " chains_returned=%" PRIu64 " chains_lost=%" PRIu64
	       " vring_errors=%" PRIu64 " stalled=%d elapsed=%.2f\n",
	       p->o.pkt, p->tx_off, received, intact, p->data_posted, p->data_returned, lost,
	       p->vring_errors, p->stalled, elapsed);
	fflush(stdout);

	if (p->refused)
		return EXIT_SETUP;
	if (intact && lost == 0 && nctrl_lost == 0 && p->vring_errors == 0 && !p->stalled &&
		 !p->timed_out)
		return EXIT_PASS;
	return EXIT_LOSS;

}

int main(int argc, char **argv)
{
	struct probe P = {.vhost_fd = -1};
	struct probe *p = &P;
	struct listener L = {.lfd = -1, .mismatch = -1};
	pthread_t thread;
	pthread_attr_t attr;
	bool thread_started = false;
	const char *lab = getenv("VSOCK_LAB");
	int status = EXIT_SETUP, rc, stop_running = 0;
	double t_start, elapsed = 0;

	P.rx.kick_fd = P.rx.call_fd = P.rx.err_fd = -1;
	P.tx.kick_fd = P.tx.call_fd = P.tx.err_fd = -1;

	rc = parse_args(argc, argv, &P.o);
	if (rc >= 0)
		return rc;
	if (!lab || strcmp(lab, "1") != 0) {
		fprintf(stderr, PROG ": refusing to run: VSOCK_LAB=1 is not set.  This program "
			"registers a guest CID with the running kernel's vhost_vsock and must run "
			"only inside the project's QEMU lab guest (tests/lab/run).\n");
		return EXIT_SETUP;
	}
	P.t0 = now_s();

	/* Everything is allocated and touched here, before any packet. */
	if (layout_arena(p))
		goto out;
	L.buf = malloc(READ_CHUNK);
	L.want = malloc(READ_CHUNK);
	if (!L.buf || !L.want) {
		fprintf(stderr, PROG ": out of memory for listener buffers\n");
		goto out;
	}
	memset(L.buf, 0, READ_CHUNK);
	memset(L.want, 0, READ_CHUNK);
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		verbose(p, "mlockall: %s (continuing unlocked)", strerror(errno));
	verbose(p, "arena %zu bytes: %u-entry rings, %u payload buffers of %zu bytes, pkt %" PRIu32
		" split %u", P.arena_len, P.o.qsize, P.npool, P.slot_len, P.o.pkt, P.o.split);
	if (P.o.pkt > VHOST_MAX_PAYLOAD)
		verbose(p, "pkt %" PRIu32 " exceeds vhost's %u-byte maximum: expect every data chain lost",
			P.o.pkt, VHOST_MAX_PAYLOAD);

	L.lfd = listener_socket(P.o.port);
	if (L.lfd < 0)
		goto out;
	L.deadline = P.t0 + P.o.timeout;
	atomic_init(&L.stop, false);
	atomic_init(&L.done, false);
	atomic_init(&L.received, 0);
	if ((rc = pthread_attr_init(&attr)) == 0) {
		pthread_attr_setstacksize(&attr, 256 * 1024); /* small, so mlockall locks little */
		rc = pthread_create(&thread, &attr, listener_main, &L);
		pthread_attr_destroy(&attr);
	}
	if (rc) {
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(rc));
		goto out;
	}
	thread_started = true;

	if (setup_vhost(p))
		goto out;
	verbose(p, "vhost running: guest CID %" PRIu32 ", sending %" PRIu64 " bytes to port %" PRIu32,
		P.o.cid, P.o.bytes, P.o.port);

	t_start = now_s();
	if (run(p, &L))
		goto out;
	elapsed = now_s() - t_start;

	atomic_store(&L.stop, true);
	pthread_join(thread, NULL);
	thread_started = false;

	if (VIOCTL(p, VHOST_VSOCK_SET_RUNNING, &stop_running) == 0)
		P.running = false;
	P.vring_errors += drain_eventfd(P.tx.err_fd) + drain_eventfd(P.rx.err_fd);

	status = report(p, &L, elapsed);

out:
	if (thread_started) {
		atomic_store(&L.stop, true);
		pthread_join(thread, NULL);
	}
	if (P.running) {
		int zero = 0;

		ioctl(P.vhost_fd, VHOST_VSOCK_SET_RUNNING, &zero);
	}
	close_fd(&P.vhost_fd); /* before unmapping: vhost may still read the rings */
	close_fd(&P.rx.kick_fd);
	close_fd(&P.rx.call_fd);
	close_fd(&P.rx.err_fd);
	close_fd(&P.tx.kick_fd);
	close_fd(&P.tx.call_fd);
	close_fd(&P.tx.err_fd);
	close_fd(&L.lfd);
	if (P.arena)
		munmap(P.arena, P.arena_len);
	free(P.chains);
	free(P.free_desc);
	free(P.free_slot);
	free(P.lost);
	free(L.buf);
	free(L.want);
	return status;
}
