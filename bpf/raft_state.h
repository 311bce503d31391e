/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raft_state.h — the state the user-space Raft node shares with the XDP
 * program (bpf/raft_xdp.c), one slot per local node, in a BPF_F_MMAPABLE
 * array that Node maps as an ArrayBuffer (src/offload/state.ts mirrors this
 * file in STATE_LAYOUT; test/offload/state_layout.test.ts compiles C against
 * it and compares every size, offset and constant).
 *
 * A slot has two halves with different writers, so neither ever needs a lock
 * held across both:
 *
 *  - struct raft_user: written by user space only, and only with state that
 *    is already durable (after the fsync of the Ready that produced it),
 *    under a seqlock: `seq` is odd while user space writes. The kernel reads
 *    seq, copies the fields it needs, reads seq again, and passes the packet
 *    up on an odd or changed value. alive_ns alone is written outside the
 *    seqlock (one aligned 64-bit store, so it is never torn).
 *
 *  - struct raft_kern: written by the kernel only, with atomics (adds,
 *    compare-and-swap maxima). Values that are only meaningful within one
 *    leadership or election carry the user-published `epoch` as a tag, so a
 *    value left over from an earlier term/role/campaign is recognisably
 *    stale without user space ever writing this half.
 *
 * Byte order: host order (these bytes never leave the machine). Every field
 * is naturally aligned; there is no padding the compiler adds (asserted).
 */
#ifndef RAFT_STATE_H
#define RAFT_STATE_H

#include "raft_wire.h" /* the __u* types, struct raft_wire_key */

/* 'RFST' — a slot whose magic differs is uninitialised: everything goes up. */
#define RAFT_STATE_MAGIC 0x52465354u
/* Bumped on any incompatible change of this layout. */
#define RAFT_STATE_VERSION 1

/* Slots in the map: local mode runs a few nodes on one interface (lo). */
#define RAFT_STATE_SLOTS 16
/* One slot is two pages, so every slot starts page-aligned in the mmap. */
#define RAFT_STATE_SLOT_SIZE 8192
/* Recent durable (index, term) pairs: index i lives at ring[i % RING]. */
#define RAFT_STATE_RING 256
#define RAFT_STATE_RING_MASK (RAFT_STATE_RING - 1)
/* Members (voters and learners) the kernel knows; larger clusters: all up. */
#define RAFT_STATE_MEMBERS 16
/* Counters per message type (0 = not parsed far enough to have one). */
#define RAFT_STATE_TYPES 9
#define RAFT_STATE_VERDICTS 32
/* Tagged 64-bit words: epoch (low 16 bits) << 48 | a 48-bit value. */
#define RAFT_TAG_SHIFT 48
#define RAFT_TAG_VALUE_MASK ((1ULL << RAFT_TAG_SHIFT) - 1)

/* role: what the node is in user space (soft state, published with the rest). */
enum raft_state_role {
	RAFT_ROLE_NONE = 0, /* not running Raft yet: answer nothing */
	RAFT_ROLE_FOLLOWER = 1,
	RAFT_ROLE_PRE_CANDIDATE = 2,
	RAFT_ROLE_CANDIDATE = 3,
	RAFT_ROLE_LEADER = 4,
};

/* flags */
#define RAFT_ST_F_ENABLED (1u << 0)       /* the off switch: clear → everything goes up */
#define RAFT_ST_F_CHECK_QUORUM (1u << 1)  /* cfg.checkQuorum: leases (inLease) exist */
#define RAFT_ST_F_HAS_KEY (1u << 2)       /* MACs are SipHash under key; else mac must be 0 */

/*
 * Verdicts: what the kernel did with a packet, and why when it passed it up.
 * Counted per (message type, verdict) and carried by every ring-buffer event.
 */
enum raft_verdict {
	RAFT_V_TX = 0,          /* answered in the kernel (ack or grant) */
	RAFT_V_TX_REJECT = 1,   /* answered in the kernel with a rejection */
	RAFT_V_COUNTED = 2,     /* consumed: recorded in raft_kern (ack, vote), not passed */
	RAFT_V_IGNORED = 3,     /* dropped: user space would ignore it (stale term, lease) */
	RAFT_P_BAD_LEN = 4,     /* UDP payload is not exactly RAFT_WIRE_SIZE bytes */
	RAFT_P_BAD_HDR = 5,     /* magic, version, type or flags */
	RAFT_P_NO_STATE = 6,    /* slot uninitialised, wrong version, or disabled */
	RAFT_P_TORN = 7,        /* the seqlock was odd or moved while we read */
	RAFT_P_STALE_USER = 8,  /* user-space liveness stamp too old */
	RAFT_P_BAD_CLUSTER = 9,
	RAFT_P_BAD_MAC = 10,
	RAFT_P_NOT_MEMBER = 11, /* sender not in the published membership */
	RAFT_P_MISADDRESSED = 12, /* to ≠ us (and ≠ 0), or from = us */
	RAFT_P_HIGHER_TERM = 13,
	RAFT_P_LOWER_TERM = 14,
	RAFT_P_ROLE = 15,       /* our role has no kernel rule for this type */
	RAFT_P_NOT_LEADER = 16, /* heartbeat from someone other than the known leader */
	RAFT_P_LOG_MISMATCH = 17, /* heartbeat prev (index, term) not known to match */
	RAFT_P_REJECT = 18,     /* a rejection: user space reacts to those */
	RAFT_P_GRANT = 19,      /* a vote to grant: user space persists it first */
	RAFT_P_LEASE_DOUBT = 20, /* too close to the election-timeout boundary to tell */
	RAFT_P_QUORUM = 21,     /* the ack / vote that moves the quorum: user space acts */
	RAFT_P_BEYOND_LOG = 22, /* ack beyond our durable log, or too large to tag */
	RAFT_P_TYPE = 23,       /* a type the kernel never answers (TimeoutNow) */
	RAFT_P_TX_ERR = 24,     /* the reply could not be written into the packet */
	RAFT_P_CONTENDED = 25,  /* a compare-and-swap kept failing */
	RAFT_VERDICT_COUNT = 26,
};
_Static_assert(RAFT_VERDICT_COUNT <= RAFT_STATE_VERDICTS, "verdict table too small");

/* Global (per-CPU) counters for packets that never reach a slot. */
enum raft_gstat {
	RAFT_G_NOT_UDP = 0, /* not IPv4/IPv6 UDP, an IPv4 fragment or options, IPv6 ext headers */
	RAFT_G_NO_SLOT = 1, /* UDP to a port with no slot */
	RAFT_G_NO_MAP = 2,  /* the slot index had no map value (cannot happen for an array) */
	RAFT_G_COUNT = 3,
};

struct raft_ring_ent {
	__u64 index; /* stored too, so a slot overwritten by index + RING is detected */
	__u64 term;
};

struct raft_user {
	__u32 seq;           /*   0: seqlock: odd while user space writes */
	__u32 magic;         /*   4: RAFT_STATE_MAGIC once initialised */
	__u16 version;       /*   8: RAFT_STATE_VERSION */
	__u16 flags;         /*  10: RAFT_ST_F_* */
	__u16 node_id;       /*  12 */
	__u16 port;          /*  14: UDP port of this node (host order) */
	__u32 cluster_id;    /*  16 */
	__u32 epoch;         /*  20: changes with term, role, membership, or a new campaign */
	__u8 role;           /*  24: enum raft_state_role */
	__u8 n_members;      /*  25: used entries of members[] */
	__u16 voter_mask;    /*  26: bit i set = members[i] is a voter (else a learner) */
	__u16 voted_for;     /*  28: durable vote in `term` (0 = none) */
	__u16 leader;        /*  30: known leader (0 = none) */
	struct raft_wire_key key; /* 32: SipHash key words (k0, k1), valid with F_HAS_KEY */
	__u64 term;          /*  48: durable current term */
	__u64 last_index;    /*  56: durable last log index */
	__u64 last_term;     /*  64: term of that entry */
	__u64 commit;        /*  72: durable commit index */
	__u64 term_start;    /*  80: leader: index of the first entry of its term (its no-op) */
	__u64 election_timeout_ns; /* 88: the minimum election timeout (electionTick × tick) */
	__u64 lease_margin_ns;     /* 96: |elapsed − timeout| below this → doubt → pass up */
	__u64 alive_ns;      /* 104: user-space liveness stamp, CLOCK_MONOTONIC (written alone) */
	__u64 alive_max_ns;  /* 112: answer only while now − alive_ns < this */
	__u64 contact_ns;    /* 120: user space last reset its election timer (leader message, vote grant) */
	__u64 quiet_until_ns; /* 128: after a restart with lease reads: in lease until then */
	__u16 members[RAFT_STATE_MEMBERS]; /* 136: node ids; self may be among them */
	__u8 reserved[88];   /* 168: room to grow without moving the ring */
	struct raft_ring_ent ring[RAFT_STATE_RING]; /* 256 */
};
#define RAFT_USER_SIZE (256 + 16 * RAFT_STATE_RING)

struct raft_peer {
	__u64 match;     /*  0: tagged: highest index this member acked (AppendResp success) */
	__u64 ack_ns;    /*  8: last heartbeat ack (not tagged: read with ack_epoch) */
	__u64 ack_ctx;   /* 16: tagged: highest heartbeat ctx (read round) acked */
	__u32 ack_epoch; /* 24: epoch of the ack at ack_ns */
	__u32 pad;       /* 28 */
};

struct raft_kern {
	__u64 contact_ns;     /*  0: last heartbeat answered here (monotonic max) */
	__u64 contact_term;   /*  8: its term */
	__u64 contact_prev;   /* 16: its prev index (what we acked) */
	__u64 commit_hint;    /* 24: max min(commit, prev) of matching heartbeats (safe to commit) */
	__u16 contact_leader; /* 32: its sender */
	__u16 pad0;           /* 34 */
	__u32 events_lost;    /* 36: ring buffer full: events not delivered */
	__u64 quorum_passed;  /* 40: tagged: highest quorum index an ack was passed up for */
	__u64 votes;          /* 48: epoch << 32 | bitset over members[] of granted votes */
	__u64 reserved;       /* 56 */
	struct raft_peer peers[RAFT_STATE_MEMBERS]; /* 64: parallel to raft_user.members */
	__u64 counters[RAFT_STATE_TYPES * RAFT_STATE_VERDICTS]; /* 576: [type][verdict] */
};
#define RAFT_KERN_SIZE (576 + 8 * RAFT_STATE_TYPES * RAFT_STATE_VERDICTS)

struct raft_slot {
	struct raft_user user; /* 0 */
	struct raft_kern kern; /* RAFT_USER_SIZE: its own cache lines */
	__u8 tail[RAFT_STATE_SLOT_SIZE - RAFT_USER_SIZE - RAFT_KERN_SIZE];
};

/* One ring-buffer record per message the kernel answered or consumed. */
struct raft_event {
	__u64 ns;       /*  0: bpf_ktime_get_ns() */
	__u64 term;     /*  8: the message's fields, so user space can replay it */
	__u64 index;    /* 16 */
	__u64 log_term; /* 24 */
	__u64 commit;   /* 32 */
	__u64 ctx;      /* 40 */
	__u64 hint;     /* 48 */
	__u16 from;     /* 56 */
	__u16 to;       /* 58 */
	__u8 type;      /* 60: raft_wire_type */
	__u8 verdict;   /* 61: enum raft_verdict */
	__u8 slot;      /* 62 */
	__u8 flags;     /* 63: the message's RAFT_WIRE_F_* */
	__u64 reply_term; /* 64: term of the reply sent (TX verdicts), else 0 */
};
#define RAFT_EVENT_SIZE 72

#define RAFT_STATE_CHECK(t, f, o) \
	_Static_assert(__builtin_offsetof(struct t, f) == (o), #t "." #f " offset")
_Static_assert(sizeof(struct raft_user) == RAFT_USER_SIZE, "raft_user size");
_Static_assert(sizeof(struct raft_kern) == RAFT_KERN_SIZE, "raft_kern size");
_Static_assert(sizeof(struct raft_slot) == RAFT_STATE_SLOT_SIZE, "raft_slot size");
_Static_assert(sizeof(struct raft_peer) == 32, "raft_peer size");
_Static_assert(sizeof(struct raft_event) == RAFT_EVENT_SIZE, "raft_event size");
RAFT_STATE_CHECK(raft_user, key, 32);
RAFT_STATE_CHECK(raft_user, quiet_until_ns, 128);
RAFT_STATE_CHECK(raft_user, members, 136);
RAFT_STATE_CHECK(raft_user, ring, 256);
RAFT_STATE_CHECK(raft_kern, peers, 64);
RAFT_STATE_CHECK(raft_kern, counters, 576);
RAFT_STATE_CHECK(raft_slot, kern, RAFT_USER_SIZE);
#undef RAFT_STATE_CHECK

#endif /* RAFT_STATE_H */
