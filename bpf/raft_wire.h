/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raft_wire.h — the UDP control-plane wire format of raftkv.
 *
 * This file is the single source of the layout. The TypeScript codec
 * (src/transport/wire.ts) mirrors it in WIRE_LAYOUT, and
 * test/transport/wire_layout.test.ts compiles test/transport/wire_layout.c
 * against this header and compares every size, offset and constant, so the
 * two cannot drift apart silently.
 *
 * One control message = one UDP datagram whose payload is exactly one
 * struct raft_wire_hdr (RAFT_WIRE_SIZE bytes). Anything shorter or longer is
 * dropped (user space) or passed up (XDP), never parsed.
 *
 * Every multi-byte field is big-endian (network byte order), including mac.
 * Fields are naturally aligned relative to the start of the payload, so no
 * packing attribute is needed and the struct has no padding (asserted below).
 * NB: in a packet the payload starts at offset 42 (Ethernet 14 + IPv4 20 +
 * UDP 8), so a BPF program must not assume 8-byte alignment of the packet
 * pointer itself; x86 and the BPF JIT handle unaligned loads.
 *
 * Usable from BPF C (after vmlinux.h or <linux/types.h>) and from plain
 * user-space C (includes <linux/types.h>, or <stdint.h> where that is absent).
 */
#ifndef RAFT_WIRE_H
#define RAFT_WIRE_H

#if defined(__VMLINUX_H__)
/* vmlinux.h already defines __u8 … __be64; including linux/types.h too would clash. */
#elif defined(__has_include)
#if __has_include(<linux/types.h>)
#include <linux/types.h>
#else
#define RAFT_WIRE_STDINT 1
#endif
#else
#include <linux/types.h>
#endif

#ifdef RAFT_WIRE_STDINT
/* Non-Linux user space (e.g. a macOS test build): the same widths from stdint. */
#include <stdint.h>
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef uint16_t __be16;
typedef uint32_t __be32;
typedef uint64_t __be64;
#endif

/* 'RFKV' read as a big-endian u32: the first four payload bytes spell RFKV. */
#define RAFT_WIRE_MAGIC 0x52464b56u
/* Bumped on any incompatible layout change; receivers drop other versions. */
#define RAFT_WIRE_VERSION 1

/*
 * Message types. They equal MsgType in src/raft/types.ts (1–15 are control
 * types that fit this fixed header; 16+ travel on the TCP data plane).
 * Field use per type, mirroring the Message doc comment in types.ts
 * (core field → wire field is 1:1: index, logTerm → log_term, commit, ctx,
 * hint, reject → F_REJECT, transfer → F_TRANSFER); unused fields are 0:
 *
 *  HEARTBEAT      leader → follower. index, log_term = previous entry (the
 *                 leader's view of the follower's match); commit = leader
 *                 commit; ctx = read round (ReadIndex quorum check).
 *  HEARTBEAT_RESP index = the prev index acknowledged; F_REJECT when the
 *                 follower's log does not match at (index, log_term);
 *                 ctx = echoed read round.
 *  APPEND_RESP    success: index = last matching index. F_REJECT: index =
 *                 the rejected prev index, hint = the follower's best guess
 *                 of a matching index, log_term = term of the entry at hint.
 *                 (Appends themselves carry entries and go over TCP.)
 *  VOTE, PRE_VOTE index, log_term = the candidate's last entry; F_TRANSFER =
 *                 campaign ordered by TimeoutNow (ignore leader lease).
 *                 PRE_VOTE term is the term the candidate would campaign in.
 *  VOTE_RESP,
 *  PRE_VOTE_RESP  F_REJECT = not granted.
 *  TIMEOUT_NOW    leader → transfer target: campaign now; header only.
 */
enum raft_wire_type {
	RAFT_WIRE_HEARTBEAT = 1,
	RAFT_WIRE_HEARTBEAT_RESP = 2,
	RAFT_WIRE_APPEND_RESP = 3,
	RAFT_WIRE_VOTE = 4,
	RAFT_WIRE_PRE_VOTE = 5,
	RAFT_WIRE_VOTE_RESP = 6,
	RAFT_WIRE_PRE_VOTE_RESP = 7,
	RAFT_WIRE_TIMEOUT_NOW = 8,
};
/* The control types form one contiguous range, so "known" is a range check. */
#define RAFT_WIRE_TYPE_MIN 1
#define RAFT_WIRE_TYPE_MAX 8

/* flags bits. Any other bit set → the receiver drops the packet (user space
 * counts it as badFlags; XDP passes it up), so new bits need a new version. */
#define RAFT_WIRE_F_REJECT (1u << 0)
#define RAFT_WIRE_F_TRANSFER (1u << 1)
#define RAFT_WIRE_F_KNOWN (RAFT_WIRE_F_REJECT | RAFT_WIRE_F_TRANSFER)

struct raft_wire_hdr {
	__be32 magic;      /*  0: RAFT_WIRE_MAGIC */
	__u8 version;      /*  4: RAFT_WIRE_VERSION */
	__u8 type;         /*  5: enum raft_wire_type */
	__be16 flags;      /*  6: RAFT_WIRE_F_* */
	__be32 cluster_id; /*  8: packets from another cluster are dropped / passed up */
	__be16 from;       /* 12: sender node id (StatefulSet ordinal + 1; 0 = none) */
	__be16 to;         /* 14: receiver node id */
	__be64 term;       /* 16: sender's term */
	__be64 index;      /* 24: see the per-type table above */
	__be64 log_term;   /* 32 */
	__be64 commit;     /* 40 */
	__be64 ctx;        /* 48 */
	__be64 hint;       /* 56 */
	__be64 mac;        /* 64: SipHash-2-4 of bytes [0, 64), see raft_wire_mac() */
};

#define RAFT_WIRE_SIZE 72
/* The MAC covers every byte before it: exactly eight 64-bit SipHash words. */
#define RAFT_WIRE_MAC_OFFSET 64

#define RAFT_WIRE_CHECK_OFF(f, o) \
	_Static_assert(__builtin_offsetof(struct raft_wire_hdr, f) == (o), "raft_wire_hdr." #f " offset")
_Static_assert(sizeof(struct raft_wire_hdr) == RAFT_WIRE_SIZE, "raft_wire_hdr size");
RAFT_WIRE_CHECK_OFF(magic, 0);
RAFT_WIRE_CHECK_OFF(version, 4);
RAFT_WIRE_CHECK_OFF(type, 5);
RAFT_WIRE_CHECK_OFF(flags, 6);
RAFT_WIRE_CHECK_OFF(cluster_id, 8);
RAFT_WIRE_CHECK_OFF(from, 12);
RAFT_WIRE_CHECK_OFF(to, 14);
RAFT_WIRE_CHECK_OFF(term, 16);
RAFT_WIRE_CHECK_OFF(index, 24);
RAFT_WIRE_CHECK_OFF(log_term, 32);
RAFT_WIRE_CHECK_OFF(commit, 40);
RAFT_WIRE_CHECK_OFF(ctx, 48);
RAFT_WIRE_CHECK_OFF(hint, 56);
RAFT_WIRE_CHECK_OFF(mac, RAFT_WIRE_MAC_OFFSET);
#undef RAFT_WIRE_CHECK_OFF

/* ---- byte order helpers (no libc / libbpf dependency, so BPF can use them) ---- */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define raft_wire_be16(x) ((__u16)(x))
#define raft_wire_be32(x) ((__u32)(x))
#define raft_wire_be64(x) ((__u64)(x))
#define raft_wire_le64(x) __builtin_bswap64(x)
#else
#define raft_wire_be16(x) __builtin_bswap16(x)
#define raft_wire_be32(x) __builtin_bswap32(x)
#define raft_wire_be64(x) __builtin_bswap64(x)
#define raft_wire_le64(x) ((__u64)(x))
#endif

/* ---- the MAC: SipHash-2-4 over the first 64 bytes ---- */

/*
 * The 128-bit key as SipHash's two words: k0 = bytes 0..7 of the 16-byte
 * key read little-endian, k1 = bytes 8..15 (the key is deriveKey() in
 * src/transport/wire.ts: the first 16 bytes of SHA-256(cluster secret)).
 */
struct raft_wire_key {
	__u64 k0;
	__u64 k1;
};

#define RAFT_WIRE_INLINE static inline __attribute__((always_inline))
/* may_alias: reading the header as u64 words is legal whatever its declared type. */
typedef __u64 __attribute__((may_alias)) raft_wire_u64a;

#define RAFT_WIRE_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define RAFT_WIRE_SIPROUND                                                  \
	do {                                                                \
		v0 += v1; v1 = RAFT_WIRE_ROTL(v1, 13); v1 ^= v0;            \
		v0 = RAFT_WIRE_ROTL(v0, 32);                                \
		v2 += v3; v3 = RAFT_WIRE_ROTL(v3, 16); v3 ^= v2;            \
		v0 += v3; v3 = RAFT_WIRE_ROTL(v3, 21); v3 ^= v0;            \
		v2 += v1; v1 = RAFT_WIRE_ROTL(v1, 17); v1 ^= v2;            \
		v2 = RAFT_WIRE_ROTL(v2, 32);                                \
	} while (0)
/* One message word: compression with c = 2 rounds. */
#define RAFT_WIRE_SIPWORD(i)                                                \
	do {                                                                \
		__u64 m = raft_wire_le64(w[i]);                             \
		v3 ^= m; RAFT_WIRE_SIPROUND; RAFT_WIRE_SIPROUND; v0 ^= m;   \
	} while (0)

/*
 * SipHash-2-4 of the 64 bytes before mac, as a host-order u64. The sender
 * stores raft_wire_be64(result) in h->mac; a receiver with a key accepts
 * iff raft_wire_be64(h->mac) == raft_wire_mac(key, h). Without a cluster
 * secret the mac field is 0 and only 0 is accepted (no MAC computed).
 * Fully unrolled (no loops) so the BPF verifier sees straight-line code.
 * The caller must have bounds-checked RAFT_WIRE_SIZE bytes at h.
 */
RAFT_WIRE_INLINE __u64 raft_wire_mac(const struct raft_wire_key *key, const void *h)
{
	const raft_wire_u64a *w = (const raft_wire_u64a *)h;
	__u64 v0 = key->k0 ^ 0x736f6d6570736575ULL;
	__u64 v1 = key->k1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = key->k0 ^ 0x6c7967656e657261ULL;
	__u64 v3 = key->k1 ^ 0x7465646279746573ULL;
	__u64 b = (__u64)RAFT_WIRE_MAC_OFFSET << 56; /* final block: length 64, no tail bytes */

	RAFT_WIRE_SIPWORD(0); RAFT_WIRE_SIPWORD(1); RAFT_WIRE_SIPWORD(2); RAFT_WIRE_SIPWORD(3);
	RAFT_WIRE_SIPWORD(4); RAFT_WIRE_SIPWORD(5); RAFT_WIRE_SIPWORD(6); RAFT_WIRE_SIPWORD(7);
	v3 ^= b; RAFT_WIRE_SIPROUND; RAFT_WIRE_SIPROUND; v0 ^= b;
	v2 ^= 0xff;
	RAFT_WIRE_SIPROUND; RAFT_WIRE_SIPROUND; RAFT_WIRE_SIPROUND; RAFT_WIRE_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

#undef RAFT_WIRE_SIPWORD
#undef RAFT_WIRE_SIPROUND
#undef RAFT_WIRE_ROTL

#endif /* RAFT_WIRE_H */
