/*
 * rtt_probe.c — the leader end of bench/heartbeat.ts: sends pre-built heartbeats (one per line of
 * work, alternating between targets as the payload file lists them) from a bound UDP socket and
 * waits for each ack before sending the next, timing every round trip with CLOCK_MONOTONIC.
 * Written in C, polling its socket, so that what is measured is the follower's answer, not an
 * event loop or a sleeping process waking up on this side.
 *
 * usage: rtt_probe BIND_IP BIND_PORT PAYLOADS OUT TYPE_OFF CTX_OFF ACK_TYPE GAP_US SPIN IP:PORT...
 *   SPIN:     1 polls the socket without sleeping (needs a spare core), 0 blocks in recvfrom
 *   GAP_US:   pause after each round trip (0: back to back; heartbeats are paced in a cluster)
 *   PAYLOADS: N records of [u8 target index][u16le length][payload]
 *   OUT:      N little-endian int64 round trips in ns (-1: no matching ack within 200 ms)
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 11) {
		fprintf(stderr, "usage: rtt_probe BIND_IP BIND_PORT PAYLOADS OUT TYPE_OFF CTX_OFF ACK_TYPE GAP_US SPIN IP:PORT...\n");
		return 2;
	}
	int ntargets = argc - 10;
	struct sockaddr_in targets[16];
	if (ntargets > 16)
		return 2;
	for (int i = 0; i < ntargets; i++)
		if (parse_addr(argv[10 + i], &targets[i]) != 0) {
			fprintf(stderr, "bad address %s\n", argv[10 + i]);
			return 2;
		}
	size_t type_off = (size_t)atoi(argv[5]), ctx_off = (size_t)atoi(argv[6]);
	int ack_type = atoi(argv[7]);
	long gap_us = atol(argv[8]);
	int spin = atoi(argv[9]);
	struct timespec gap = { .tv_sec = gap_us / 1000000, .tv_nsec = (gap_us % 1000000) * 1000 };

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in self;
	memset(&self, 0, sizeof(self));
	self.sin_family = AF_INET;
	self.sin_port = htons((uint16_t)atoi(argv[2]));
	if (fd < 0 || inet_pton(AF_INET, argv[1], &self.sin_addr) != 1 || bind(fd, (struct sockaddr *)&self, sizeof(self)) != 0) {
		perror("bind");
		return 1;
	}

	if (!spin) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	FILE *in = fopen(argv[3], "rb"), *out = fopen(argv[4], "wb");
	if (!in || !out) {
		perror("open");
		return 1;
	}
	unsigned char rec[3], payload[2048], reply[2048];
	while (fread(rec, 1, 3, in) == 3) {
		int t = rec[0];
		size_t len = rec[1] | (rec[2] << 8);
		if (t >= ntargets || len > sizeof(payload) || fread(payload, 1, len, in) != len || len < ctx_off + 8)
			return 3;
		int64_t rtt = -1;
		int64_t start = now_ns();
		if (sendto(fd, payload, len, 0, (struct sockaddr *)&targets[t], sizeof(targets[t])) == (ssize_t)len) {
			for (;;) {
				struct sockaddr_in from;
				socklen_t fl = sizeof(from);
				/* Spinning keeps this process's own wakeup (tens of µs) out of every sample of
				 * both paths, but only helps with a core to spare; blocking waits 200 ms at most. */
				ssize_t n = recvfrom(fd, reply, sizeof(reply), spin ? MSG_DONTWAIT : 0, (struct sockaddr *)&from, &fl);
				int64_t end = now_ns();
				if (n < 0) {
					if (end - start > 200000000)
						break; /* no ack: lost */
					continue;
				}
				/* Only the ack to this heartbeat counts: same peer, ack type, echoed ctx. A late
				 * ack to an earlier one, or any other message, is skipped. */
				if (from.sin_addr.s_addr == targets[t].sin_addr.s_addr && from.sin_port == targets[t].sin_port &&
				    (size_t)n > ctx_off + 8 && reply[type_off] == ack_type && memcmp(reply + ctx_off, payload + ctx_off, 8) == 0) {
					rtt = end - start;
					break;
				}
				if (end - start > 200000000)
					break;
			}
		}
		fwrite(&rtt, sizeof(rtt), 1, out);
		if (gap_us > 0)
			nanosleep(&gap, NULL);
	}
	fclose(out);
	return 0;
}
