/*
 * vde_blast.c -- the frame generator and counter of bench/api_load.ts: keeps a VDE switch busy
 * forwarding 64-byte frames, without drops, at as little CPU per frame as unix datagrams allow.
 *
 * Usage:  vde_blast SWITCH_DIR [WINDOW]
 *
 * Attaches twice to the VDE switch in SWITCH_DIR with libvdeplug (`vde:///DIR`, the vde_switch
 * ctl protocol that weft serves): a sink, which announces 02:00:00:00:00:02 with one broadcast
 * frame (so the switch learns its port) and then counts the frames addressed to it, and a sender,
 * which sends 64-byte frames 02:00:00:00:00:01 -> 02:00:00:00:00:02 (ethertype 0x88b5, IEEE
 * local experimental) as fast as they come back. It prints "ready" on stdout once both are
 * attached, then answers every line read on stdin with "SENT RECEIVED LOST MONOTONIC_NS": the
 * counts so far and CLOCK_MONOTONIC when they were read, so a window bracketed by two such
 * lines has an exact rate whatever the caller's own scheduling delay. It exits on EOF of stdin
 * (the caller is gone) or SIGTERM.
 *
 * Why a window: the sender's blocking send gives no flow control. libvdeplug's data socket is
 * connected to the switch's port socket and that one back to it, and Linux applies
 * net.unix.max_dgram_qlen only when the receiver is not connected back to the sender
 * (net/unix/af_unix.c, unix_dgram_sendmsg), so a send waits only for the sender's own SO_SNDBUF
 * -- and a switch that reads eagerly and drops on a full output queue (as weft's does: 1,024
 * frames per port, `queueFull`) never lets it fill. Measured open-loop: 850 k frames/s offered,
 * 142 k/s forwarded, the rest dropped, a rate that depends on how much CPU the sender gets. So
 * the sender keeps at most WINDOW frames between its send and the sink's receive (default 768:
 * weft's per-port output queue holds 1,024 frames but may refuse one when more than 3/4 of it is
 * in use, cable/frame_queue.ts), so the switch always has input and never has to drop, and the
 * rate is its lossless forwarding rate (the "throughput" of RFC 2544 section 26.1). Each frame
 * carries a sequence number (bytes 14-21), so a frame the switch drops anyway is known as lost
 * as soon as a later one arrives (LOST) and does not hold the window; only if nothing at all
 * comes back for a second is everything in flight written off (and counted as lost).
 *
 * Priority: bench/api_load.ts makes it SCHED_FIFO (chrt) where it does not share a CPU with the
 * switch, so that it is not what waits; it only ever sleeps in blocking calls, never spins, so
 * that costs the others just the CPU it really uses.
 *
 * Cost: one thread does both ends (a frame coming back and the next batch going out cost no
 * thread switch), with sendmmsg / recvmmsg of up to 64 frames on the connected descriptors of
 * vde_datafd(); what remains is the kernel's own cost of a unix datagram -- skb allocation, copy,
 * wake-up of the switch -- 1.3 to 2 us per forwarded frame on this VM, about what the switch
 * spends (perf: all of it in the kernel). A second thread for the sink cost 15 % more.
 *
 * Build:  cc -O2 -o vde_blast vde_blast.c -lvdeplug -lpthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libvdeplug.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME_BYTES 64
#define SEQ_AT 14
#define RX_BYTES 2048
#define DEFAULT_WINDOW 768
#define WRITE_OFF_NS 1000000000ll

static const unsigned char SENDER_MAC[6] = {2, 0, 0, 0, 0, 1};
static const unsigned char SINK_MAC[6] = {2, 0, 0, 0, 0, 2};

/* Written by the data loop, read by the control thread: frames sent and received, one past the
 * highest sequence number received (every frame below it has arrived or is lost), and the
 * sequence number below which everything was written off after a stall. */
static uint64_t sent, received, passed, written_off;

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t load(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void store(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

/* Answers each stdin line with the counts; EOF means the caller is gone, so the process ends. */
static void *control(void *arg)
{
	(void)arg;
	char line[256];
	while (fgets(line, sizeof line, stdin) != NULL) {
		uint64_t s = load(&sent), r = load(&received), p = load(&passed);
		uint64_t w = load(&written_off);
		uint64_t done = p > w ? p : w;
		printf("%llu %llu %llu %llu\n", (unsigned long long)s, (unsigned long long)r,
		       (unsigned long long)(done > r ? done - r : 0), (unsigned long long)monotonic_ns());
		fflush(stdout);
	}
	_exit(0);
	return NULL;
}

static int gone(int err)
{
	return err == ECONNREFUSED || err == ECONNRESET || err == ENOTCONN || err == EPIPE;
}

static void init_rx(struct mmsghdr *msgs, struct iovec *iov, unsigned char (*rx)[RX_BYTES])
{
	memset(msgs, 0, sizeof(struct mmsghdr) * BATCH);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = rx[i];
		iov[i].iov_len = RX_BYTES;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
}

/* A frame the sink counts: to it, from the sender, long enough to carry a sequence number. */
static int ours(const unsigned char *f, unsigned int len)
{
	return len >= SEQ_AT + 8 && memcmp(f, SINK_MAC, 6) == 0 && memcmp(f + 6, SENDER_MAC, 6) == 0;
}

/*
 * Sender and sink in one thread, so that a frame coming back and the next batch going out cost
 * no thread switch: fill the window with sendmmsg, then take what came back with recvmmsg --
 * sleeping in it only when nothing more may or can be sent (window full, or the sender's socket
 * full), which is never for long since frames are then in flight. SO_RCVTIMEO (10 ms) wakes the
 * loop to notice a stall.
 */
static int blast(int tx, int rx, uint64_t window)
{
	static unsigned char frames[BATCH][FRAME_BYTES];
	static unsigned char rxbuf[BATCH][RX_BYTES];
	struct mmsghdr tx_msgs[BATCH], rx_msgs[BATCH];
	struct iovec tx_iov[BATCH], rx_iov[BATCH];
	uint64_t s = 0, got = 0, pass = 0, off = 0, stalled_since = 0;

	memset(tx_msgs, 0, sizeof tx_msgs);
	for (int i = 0; i < BATCH; i++) {
		memcpy(frames[i], SINK_MAC, 6);
		memcpy(frames[i] + 6, SENDER_MAC, 6);
		frames[i][12] = 0x88;
		frames[i][13] = 0xb5;
		tx_iov[i].iov_base = frames[i];
		tx_iov[i].iov_len = FRAME_BYTES;
		tx_msgs[i].msg_hdr.msg_iov = &tx_iov[i];
		tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	init_rx(rx_msgs, rx_iov, rxbuf);
	struct timeval tick = {0, 10000};
	if (setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick) < 0) {
		perror("vde_blast: SO_RCVTIMEO");
		return 1;
	}
	for (unsigned long round = 0;; round++) {
		int full = 0;
		while (s - (pass > off ? pass : off) + BATCH <= window) {
			for (int i = 0; i < BATCH; i++) {
				uint64_t seq = s + (uint64_t)i;
				memcpy(frames[i] + SEQ_AT, &seq, 8);
			}
			int n = sendmmsg(tx, tx_msgs, BATCH, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					full = 1;
					break;
				}
				if (errno == EINTR) continue;
				if (gone(errno)) return 0;
				perror("vde_blast: sendmmsg");
				return 1;
			}
			s += (uint64_t)n;
			store(&sent, s);
		}
		int wait = full || s - (pass > off ? pass : off) + BATCH > window;
		int n = recvmmsg(rx, rx_msgs, BATCH, wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				if (gone(errno)) return 0;
				perror("vde_blast: recvmmsg");
				return 1;
			}
			n = 0;
		}
		uint64_t before = pass;
		for (int i = 0; i < n; i++) {
			if (!ours(rxbuf[i], rx_msgs[i].msg_len)) continue;
			uint64_t seq;
			memcpy(&seq, rxbuf[i] + SEQ_AT, 8);
			got++;
			if (seq >= pass) pass = seq + 1;
		}
		store(&received, got);
		store(&passed, pass);
		if (pass != before || !wait) {
			stalled_since = 0;
		} else {
			uint64_t now = monotonic_ns();
			if (stalled_since == 0) {
				stalled_since = now;
			} else if ((int64_t)(now - stalled_since) > WRITE_OFF_NS) {
				/* Nothing came back for a second: all in flight was dropped somewhere. */
				off = s;
				store(&written_off, off);
				stalled_since = 0;
			}
		}
		/* Whatever the switch floods to the sender (the sink's hello, frames to unknown MACs) is
		 * read and dropped now and then, so it does not pile up in the switch's queue. */
		if ((round & 255) == 0) {
			while (recvmmsg(tx, rx_msgs, BATCH, MSG_DONTWAIT, NULL) == BATCH) {
			}
		}
	}
}

static VDECONN *attach(const char *dir, char *descr)
{
	char url[4096];
	snprintf(url, sizeof url, "vde://%s", dir);
	VDECONN *conn = vde_open(url, descr, NULL);
	if (conn == NULL) {
		fprintf(stderr, "vde_blast: cannot attach to %s: %s\n", url, strerror(errno));
		exit(1);
	}
	return conn;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: vde_blast SWITCH_DIR [WINDOW]\n");
		return 2;
	}
	uint64_t window = DEFAULT_WINDOW;
	if (argc == 3) {
		char *end;
		long w = strtol(argv[2], &end, 10);
		if (*end != 0 || w < BATCH || w > 1 << 20) {
			fprintf(stderr, "vde_blast: WINDOW must be %d..%d frames, not \"%s\"\n", BATCH,
			        1 << 20, argv[2]);
			return 2;
		}
		window = (uint64_t)w;
	}
	signal(SIGPIPE, SIG_IGN);
	VDECONN *rx_conn = attach(argv[1], "vde_blast sink");
	int rx_fd = vde_datafd(rx_conn);
	unsigned char hello[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	memcpy(hello + 6, SINK_MAC, 6);
	hello[12] = 0x88;
	hello[13] = 0xb5;
	if (send(rx_fd, hello, sizeof hello, 0) < 0) {
		perror("vde_blast: sink hello");
		return 1;
	}
	VDECONN *tx_conn = attach(argv[1], "vde_blast send");
	/* "ready" goes out before the control thread exists, so the two never interleave. */
	printf("ready\n");
	fflush(stdout);
	pthread_t t;
	if (pthread_create(&t, NULL, control, NULL) != 0) {
		fprintf(stderr, "vde_blast: cannot start a thread\n");
		return 1;
	}
	int rc = blast(vde_datafd(tx_conn), rx_fd, window);
	vde_close(tx_conn);
	vde_close(rx_conn);
	return rc;
}
