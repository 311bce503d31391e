/*
 * Prints the layout and constants of bpf/raft_wire.h as "name value" lines, for
 * wire_layout.test.ts to compare with WIRE_LAYOUT in src/transport/wire.ts.
 * With the argument "mac" it instead reads "<key hex 32> <packet hex 144>" lines on stdin
 * and prints raft_wire_mac() of each packet (16 hex digits), so the test can check the
 * C MAC (the one the XDP programs use) against the TypeScript one.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "raft_wire.h"

#define FIELD(f)                                                                          \
	printf("field.%s.offset %zu\nfield.%s.size %zu\n", #f, offsetof(struct raft_wire_hdr, f), \
	       #f, sizeof(((struct raft_wire_hdr *)0)->f))

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static __u64 le64(const unsigned char *p)
{
	__u64 v = 0;
	for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
	return v;
}

static int mac_mode(void)
{
	char line[512];
	while (fgets(line, sizeof line, stdin)) {
		unsigned char k[16];
		/* 8-byte aligned storage, as the struct requires; the packet is copied in. */
		union { struct raft_wire_hdr h; __u64 align; } pkt;
		if (strlen(line) < 32 + 1 + 2 * RAFT_WIRE_SIZE || unhex(line, k, 16) ||
		    unhex(line + 33, (unsigned char *)&pkt, RAFT_WIRE_SIZE)) {
			fprintf(stderr, "bad input line\n");
			return 1;
		}
		struct raft_wire_key key = { le64(k), le64(k + 8) };
		printf("%016llx\n", (unsigned long long)raft_wire_mac(&key, &pkt.h));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "mac") == 0) return mac_mode();
	printf("size %zu\n", sizeof(struct raft_wire_hdr));
	printf("align %zu\n", _Alignof(struct raft_wire_hdr));
	FIELD(magic); FIELD(version); FIELD(type); FIELD(flags); FIELD(cluster_id);
	FIELD(from); FIELD(to); FIELD(term); FIELD(index); FIELD(log_term);
	FIELD(commit); FIELD(ctx); FIELD(hint); FIELD(mac);
	printf("const.RAFT_WIRE_SIZE %d\n", RAFT_WIRE_SIZE);
	printf("const.RAFT_WIRE_MAC_OFFSET %d\n", RAFT_WIRE_MAC_OFFSET);
	printf("const.RAFT_WIRE_MAGIC %u\n", (unsigned)RAFT_WIRE_MAGIC);
	printf("const.RAFT_WIRE_VERSION %d\n", RAFT_WIRE_VERSION);
	printf("const.RAFT_WIRE_TYPE_MIN %d\n", RAFT_WIRE_TYPE_MIN);
	printf("const.RAFT_WIRE_TYPE_MAX %d\n", RAFT_WIRE_TYPE_MAX);
	printf("type.Heartbeat %d\n", RAFT_WIRE_HEARTBEAT);
	printf("type.HeartbeatResp %d\n", RAFT_WIRE_HEARTBEAT_RESP);
	printf("type.AppendResp %d\n", RAFT_WIRE_APPEND_RESP);
	printf("type.Vote %d\n", RAFT_WIRE_VOTE);
	printf("type.PreVote %d\n", RAFT_WIRE_PRE_VOTE);
	printf("type.VoteResp %d\n", RAFT_WIRE_VOTE_RESP);
	printf("type.PreVoteResp %d\n", RAFT_WIRE_PRE_VOTE_RESP);
	printf("type.TimeoutNow %d\n", RAFT_WIRE_TIMEOUT_NOW);
	printf("flag.Reject %u\n", RAFT_WIRE_F_REJECT);
	printf("flag.Transfer %u\n", RAFT_WIRE_F_TRANSFER);
	printf("flag.KNOWN %u\n", RAFT_WIRE_F_KNOWN);
	return 0;
}
