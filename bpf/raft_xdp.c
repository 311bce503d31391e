// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * raft_xdp.c — the kernel fast path of raftkv's UDP control plane.
 *
 * The rule (docs: DESIGN §5): every packet this program sends is a reply the
 * user-space node would send right now from its durable state, as published
 * in its slot of raft_state; everything else is passed up (XDP_PASS) to the
 * same user-space handlers, unchanged. Each rule below names the function of
 * src/raft/raft.ts it mirrors. Besides answering, the program may consume
 * (drop) a message user space would ignore anyway, or one whose only effect
 * it records in the slot's kernel half for user space to pick up (acks,
 * votes) — those are also reported through the raft_events ring buffer so
 * user space can replay them into the Raft core.
 *
 * Built with: clang -O2 -g -target bpf -mcpu=v3 (v3: 32-bit jumps and the
 * fetch/compare-and-swap atomics used for the kernel-written counters).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "raft_state.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The shared state: one slot per local node, mmapped by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, RAFT_STATE_SLOTS);
	__type(key, __u32);
	__type(value, struct raft_slot);
} raft_state SEC(".maps");

/* UDP port (host order) → slot: in local mode several nodes share lo. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RAFT_STATE_SLOTS);
	__type(key, __u16);
	__type(value, __u32);
} raft_ports SEC(".maps");

/* Packets that never reach a slot; per-CPU because most traffic is not ours. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RAFT_G_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} raft_gstats SEC(".maps");

/* One struct raft_event per message answered or consumed here (the RPC log). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} raft_events SEC(".maps");

#define INLINE static __always_inline
/* A compiler barrier: keeps the seqlock reads in program order. On x86-64
 * (TSO) loads are not reordered with other loads, so that is all the seqlock
 * read side needs; a weakly ordered host would need load-acquire here. */
#define barrier() asm volatile("" ::: "memory")
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))

#define UDP_LEN (sizeof(struct udphdr) + RAFT_WIRE_SIZE)
/* CAS loops give up after this many lost races and pass the packet up. */
#define CAS_TRIES 8

/* Where the packet's headers are; the payload is bounds-checked for RAFT_WIRE_SIZE. */
struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip4;   /* exactly one of ip4 / ip6 is set */
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	void *payload;
	void *data_end;
};

/*
 * The user half of a slot, copied under the seqlock: every decision below is
 * a function of this copy and the message, never of the live map value, so a
 * concurrent publish cannot make one decision see two states.
 */
struct view {
	struct raft_wire_key key;
	__u64 term, last_index, last_term, commit, term_start;
	__u64 timeout, margin, alive, alive_max, ucontact, quiet;
	__u64 ring_index, ring_term; /* ring entry for the message's index */
	__u32 cluster, epoch;
	__u16 flags, node_id, voted_for, leader, voter_mask;
	__u8 role, n_members;
	/* Where the sender and we are in members[] (−1: absent), found under the
	 * seqlock so that they agree with voter_mask. */
	int midx, self_idx;
};

/* The message's fields in host order. */
struct msg {
	__u64 term, index, log_term, commit, ctx, hint;
	__u16 from, to, flags;
	__u8 type;
};

/* What to do besides the verdict: the side effect and the reply to send. */
enum action {
	ACT_NONE = 0,
	ACT_HB_ACK,      /* follower: stamp leader contact, note commit hint, reply */
	ACT_REPLY,       /* reply, no state change (vote answers) */
	ACT_APPEND_ACK,  /* leader: CAS-max match, pass only a quorum advance */
	ACT_HB_RESP,     /* leader: stamp peer ack time and read round */
	ACT_VOTE,        /* (pre-)candidate: set the voter's bit, pass only at quorum */
};

struct decision {
	__u32 verdict;
	__u32 action;
	__u8 reply_type;
	__u8 reply_reject;
	__u64 reply_term;
	__u32 self_votes; /* ACT_VOTE: 1 when our own vote counts */
};

INLINE void gstat(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&raft_gstats, &which);
	if (c)
		*c += 1; /* per-CPU: no atomics needed */
}

INLINE void count(struct raft_slot *s, __u32 type, __u32 verdict)
{
	__u32 i;
	if (type >= RAFT_STATE_TYPES)
		type = 0;
	if (verdict >= RAFT_STATE_VERDICTS)
		verdict = RAFT_STATE_VERDICTS - 1;
	i = type * RAFT_STATE_VERDICTS + verdict;
	if (i < RAFT_STATE_TYPES * RAFT_STATE_VERDICTS)
		__sync_fetch_and_add(&s->kern.counters[i], 1);
}

/* The RPC-log record; a full ring buffer is counted, never waited for. */
INLINE void emit(struct raft_slot *s, __u32 slot, const struct msg *m, __u32 verdict, __u64 reply_term, __u64 now)
{
	struct raft_event *e = bpf_ringbuf_reserve(&raft_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&s->kern.events_lost, 1);
		return;
	}
	e->ns = now;
	e->term = m->term;
	e->index = m->index;
	e->log_term = m->log_term;
	e->commit = m->commit;
	e->ctx = m->ctx;
	e->hint = m->hint;
	e->from = m->from;
	e->to = m->to;
	e->type = m->type;
	e->verdict = verdict;
	e->slot = slot;
	e->flags = m->flags;
	e->reply_term = reply_term;
	bpf_ringbuf_submit(e, 0);
}

/* Monotonic max of an untagged word; returns whether it moved. */
INLINE int atomic_max(__u64 *p, __u64 val)
{
	for (int i = 0; i < CAS_TRIES; i++) {
		__u64 old = READ_ONCE(*p);
		if (old >= val)
			return 0;
		if (__sync_val_compare_and_swap(p, old, val) == old)
			return 1;
	}
	return 0; /* others keep raising it: theirs is at least as recent */
}

INLINE __u64 tag_of(__u32 epoch)
{
	return (__u64)(epoch & 0xffff) << RAFT_TAG_SHIFT;
}

/* The value of a tagged word if it belongs to `epoch`, else 0 (stale). */
INLINE __u64 tagged_value(__u64 w, __u32 epoch)
{
	return (w & ~RAFT_TAG_VALUE_MASK) == tag_of(epoch) ? (w & RAFT_TAG_VALUE_MASK) : 0;
}

/*
 * Monotonic max of a tagged word within `epoch`; a word of another epoch is
 * simply replaced. Returns 1 if it moved, 0 if already ≥ val, -1 if contended.
 */
INLINE int tagged_max(__u64 *p, __u32 epoch, __u64 val)
{
	__u64 nv = tag_of(epoch) | val;
	for (int i = 0; i < CAS_TRIES; i++) {
		__u64 old = READ_ONCE(*p);
		if ((old & ~RAFT_TAG_VALUE_MASK) == tag_of(epoch) && (old & RAFT_TAG_VALUE_MASK) >= val)
			return 0;
		if (__sync_val_compare_and_swap(p, old, nv) == old)
			return 1;
	}
	return -1;
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* Finds IPv4/IPv6 UDP; returns 0 when the packet is not one we could answer. */
INLINE int parse(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return 0;
	p->eth = eth;
	p->data_end = end;
	p->ip4 = 0;
	p->ip6 = 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return 0;
		/* Options or fragments: legal, but never what our peers send; the
		 * fixed-size reply path assumes a 20-byte header and a whole datagram. */
		if (ip->ihl != 5 || ip->version != 4 || ip->protocol != IPPROTO_UDP)
			return 0;
		if (ip->frag_off & bpf_htons(0x3fff))
			return 0;
		p->ip4 = ip;
		p->udp = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return 0;
		/* Extension headers: not ours (peers never send them). */
		if (ip6->nexthdr != IPPROTO_UDP)
			return 0;
		p->ip6 = ip6;
		p->udp = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if ((void *)(p->udp + 1) > end)
		return 0;
	p->payload = (void *)(p->udp + 1);
	return 1;
}

/* The UDP and IP lengths say exactly one raft_wire_hdr, and the bytes are there. */
INLINE int exact_length(const struct pkt *p)
{
	if (p->udp->len != bpf_htons(UDP_LEN))
		return 0;
	if (p->ip4 && p->ip4->tot_len != bpf_htons(sizeof(struct iphdr) + UDP_LEN))
		return 0;
	if (p->ip6 && p->ip6->payload_len != bpf_htons(UDP_LEN))
		return 0;
	return p->payload + RAFT_WIRE_SIZE <= p->data_end;
}

/* ---- the seqlocked read of the user half -------------------------------------------------- */

/*
 * Loops whose iterations branch on data are run through bpf_loop(): the
 * callback is verified once, where an unrolled loop would make the verifier
 * walk every combination of branches (2^16 paths for 16 members).
 */
struct scan_ctx {
	struct raft_user *u;
	__u16 from, self;
	int midx, self_idx;
};

static long scan_member(__u32 i, void *c)
{
	struct scan_ctx *x = c;
	__u16 id;

	if (i >= RAFT_STATE_MEMBERS || i >= x->u->n_members)
		return 1;
	id = x->u->members[i];
	if (id == x->from)
		x->midx = i;
	if (id == x->self)
		x->self_idx = i;
	return 0;
}

/* Returns 0 on success or the pass-up verdict. */
INLINE __u32 read_view(struct raft_slot *s, __u64 msg_index, __u16 from, struct view *v)
{
	struct raft_user *u = &s->user;
	__u32 seq1, seq2;
	__u32 r = msg_index & RAFT_STATE_RING_MASK;

	seq1 = READ_ONCE(u->seq);
	barrier();
	if (READ_ONCE(u->magic) != RAFT_STATE_MAGIC || READ_ONCE(u->version) != RAFT_STATE_VERSION)
		return RAFT_P_NO_STATE;
	if (seq1 & 1)
		return RAFT_P_TORN;
	v->flags = u->flags;
	v->node_id = u->node_id;
	v->cluster = u->cluster_id;
	v->epoch = u->epoch;
	v->role = u->role;
	v->n_members = u->n_members;
	v->voter_mask = u->voter_mask;
	v->voted_for = u->voted_for;
	v->leader = u->leader;
	v->key.k0 = u->key.k0;
	v->key.k1 = u->key.k1;
	v->term = u->term;
	v->last_index = u->last_index;
	v->last_term = u->last_term;
	v->commit = u->commit;
	v->term_start = u->term_start;
	v->timeout = u->election_timeout_ns;
	v->margin = u->lease_margin_ns;
	v->alive_max = u->alive_max_ns;
	v->ucontact = u->contact_ns;
	v->quiet = u->quiet_until_ns;
	{
		struct scan_ctx sc = { .u = u, .from = from, .self = v->node_id, .midx = -1, .self_idx = -1 };
		bpf_loop(RAFT_STATE_MEMBERS, scan_member, &sc, 0);
		v->midx = sc.midx;
		v->self_idx = sc.self_idx;
	}
	v->ring_index = u->ring[r].index;
	v->ring_term = u->ring[r].term;
	barrier();
	seq2 = READ_ONCE(u->seq);
	if (seq1 != seq2)
		return RAFT_P_TORN;
	/* alive_ns is written outside the seqlock (a single aligned store). */
	v->alive = READ_ONCE(u->alive_ns);
	if (!(v->flags & RAFT_ST_F_ENABLED) || v->role == RAFT_ROLE_NONE)
		return RAFT_P_NO_STATE;
	if (v->n_members > RAFT_STATE_MEMBERS)
		return RAFT_P_NO_STATE;
	return 0;
}

/* ---- the rules ---------------------------------------------------------------------------- */

enum { LEASE_NO = 0, LEASE_YES = 1, LEASE_DOUBT = 2 };

/*
 * Raft.inLease(): checkQuorum, and either the post-restart quiet period or a
 * known leader heard within the minimum election timeout. User space counts
 * ticks, we count nanoseconds: within lease_margin_ns of the boundary we
 * cannot tell which side user space is on, so we say so (→ pass up).
 */
INLINE int lease(const struct view *v, const struct raft_slot *s, __u64 now)
{
	__u64 contact, elapsed;

	if (!(v->flags & RAFT_ST_F_CHECK_QUORUM))
		return LEASE_NO;
	if (v->quiet) {
		if (now + v->margin < v->quiet)
			return LEASE_YES;
		if (now < v->quiet + v->margin)
			return LEASE_DOUBT;
	}
	if (v->leader == 0)
		return LEASE_NO;
	/* A leader's electionElapsed restarts every electionTick: always in lease. */
	if (v->role == RAFT_ROLE_LEADER)
		return LEASE_YES;
	contact = v->ucontact;
	/* Our own heartbeat answers count only for the leader and term we publish. */
	if (READ_ONCE(s->kern.contact_term) == v->term && READ_ONCE(s->kern.contact_leader) == v->leader) {
		__u64 k = READ_ONCE(s->kern.contact_ns);
		if (k > contact)
			contact = k;
	}
	elapsed = now > contact ? now - contact : 0;
	if (elapsed + v->margin < v->timeout)
		return LEASE_YES;
	if (elapsed > v->timeout + v->margin)
		return LEASE_NO;
	return LEASE_DOUBT;
}

/* RaftLog.isUpToDate() against the durable last entry. */
INLINE int up_to_date(const struct view *v, const struct msg *m)
{
	return m->log_term > v->last_term || (m->log_term == v->last_term && m->index >= v->last_index);
}

INLINE int is_voter(const struct view *v, int i)
{
	return i >= 0 && i < RAFT_STATE_MEMBERS && (v->voter_mask >> i) & 1;
}

INLINE void reply(struct decision *d, __u32 verdict, __u8 type, __u64 term, int reject)
{
	d->verdict = verdict;
	d->action = d->action ? d->action : ACT_REPLY;
	d->reply_type = type;
	d->reply_term = term;
	d->reply_reject = reject;
}

/* Follower side of Heartbeat: Raft.step() term checks, stepFollower(), handleHeartbeat(). */
INLINE void rule_heartbeat(const struct view *v, const struct msg *m, struct decision *d)
{
	int matched;

	if (m->term > v->term) {
		d->verdict = RAFT_P_HIGHER_TERM; /* user space adopts the term first */
		return;
	}
	if (m->term < v->term) {
		d->verdict = RAFT_P_LOWER_TERM; /* user space answers a stale leader */
		return;
	}
	if (v->role != RAFT_ROLE_FOLLOWER) {
		d->verdict = RAFT_P_ROLE; /* a candidate steps down first */
		return;
	}
	if (v->leader == 0 || m->from != v->leader) {
		d->verdict = RAFT_P_NOT_LEADER; /* user space records the leader first */
		return;
	}
	/* handleHeartbeat: committed here, or the same (index, term) held durably. */
	matched = m->index <= v->commit ||
		  (m->index <= v->last_index && v->ring_index == m->index && v->ring_term == m->log_term);
	if (!matched) {
		d->verdict = RAFT_P_LOG_MISMATCH; /* user space rejects (or holds it in memory only) */
		return;
	}
	d->action = ACT_HB_ACK;
	reply(d, RAFT_V_TX, RAFT_WIRE_HEARTBEAT_RESP, v->term, 0);
}

/* PreVote: Raft.step() (lease, lower term) and handleVoteRequest(). Answered fully. */
INLINE void rule_prevote(const struct view *v, const struct raft_slot *s, const struct msg *m, __u64 now,
			 struct decision *d)
{
	if (m->term < v->term) {
		/* step(): a lower-term pre-vote is rejected with our term. */
		reply(d, RAFT_V_TX_REJECT, RAFT_WIRE_PRE_VOTE_RESP, v->term, 1);
		return;
	}
	if (m->term > v->term) {
		if (!(m->flags & RAFT_WIRE_F_TRANSFER)) {
			int l = lease(v, s, now);
			if (l == LEASE_YES) {
				d->verdict = RAFT_V_IGNORED; /* step(): ignored while in lease */
				return;
			}
			if (l == LEASE_DOUBT) {
				d->verdict = RAFT_P_LEASE_DOUBT;
				return;
			}
		}
		/* canVote holds for a pre-vote of a higher term. */
		if (up_to_date(v, m))
			reply(d, RAFT_V_TX, RAFT_WIRE_PRE_VOTE_RESP, m->term, 0);
		else
			reply(d, RAFT_V_TX_REJECT, RAFT_WIRE_PRE_VOTE_RESP, v->term, 1);
		return;
	}
	/* Same term: canVote = vote == from || (vote == NONE && lead == NONE). */
	if ((v->voted_for == m->from || (v->voted_for == 0 && v->leader == 0)) && up_to_date(v, m))
		reply(d, RAFT_V_TX, RAFT_WIRE_PRE_VOTE_RESP, m->term, 0);
	else
		reply(d, RAFT_V_TX_REJECT, RAFT_WIRE_PRE_VOTE_RESP, v->term, 1);
}

/* RequestVote: only rejections and ignores; a grant changes durable state (user space). */
INLINE void rule_vote(const struct view *v, const struct raft_slot *s, const struct msg *m, __u64 now,
		      struct decision *d)
{
	if (m->term < v->term) {
		d->verdict = RAFT_V_IGNORED; /* step(): lower-term votes get no answer */
		return;
	}
	if (m->term > v->term) {
		if (!(m->flags & RAFT_WIRE_F_TRANSFER)) {
			int l = lease(v, s, now);
			if (l == LEASE_YES) {
				d->verdict = RAFT_V_IGNORED; /* step(): disruptive candidate, ignored */
				return;
			}
			if (l == LEASE_DOUBT) {
				d->verdict = RAFT_P_LEASE_DOUBT;
				return;
			}
		}
		/* User space adopts the term (durably) before answering either way. */
		d->verdict = RAFT_P_HIGHER_TERM;
		return;
	}
	if ((v->voted_for == m->from || (v->voted_for == 0 && v->leader == 0)) && up_to_date(v, m)) {
		d->verdict = RAFT_P_GRANT;
		return;
	}
	reply(d, RAFT_V_TX_REJECT, RAFT_WIRE_VOTE_RESP, v->term, 1);
}

/* Leader side of AppendResp / HeartbeatResp: the common term and role checks of step(). */
INLINE int leader_resp_checks(const struct view *v, const struct msg *m, struct decision *d)
{
	if (m->term > v->term) {
		d->verdict = RAFT_P_HIGHER_TERM;
		return 0;
	}
	if (m->term < v->term) {
		d->verdict = RAFT_V_IGNORED; /* step(): stale responses are dropped */
		return 0;
	}
	if (v->role != RAFT_ROLE_LEADER) {
		d->verdict = RAFT_P_ROLE;
		return 0;
	}
	if (m->flags & RAFT_WIRE_F_REJECT) {
		d->verdict = RAFT_P_REJECT; /* probing and backing off are user space's */
		return 0;
	}
	return 1;
}

INLINE void rule_append_resp(const struct view *v, const struct msg *m, struct decision *d)
{
	if (!leader_resp_checks(v, m, d))
		return;
	/* handleAppendResp ignores acks beyond its log; ours may be longer in memory. */
	if (m->index > v->last_index || m->index > RAFT_TAG_VALUE_MASK) {
		d->verdict = RAFT_P_BEYOND_LOG;
		return;
	}
	d->action = ACT_APPEND_ACK;
	d->verdict = RAFT_V_COUNTED;
}

INLINE void rule_heartbeat_resp(const struct view *v, const struct msg *m, struct decision *d)
{
	if (!leader_resp_checks(v, m, d))
		return;
	if (m->ctx > RAFT_TAG_VALUE_MASK) {
		d->verdict = RAFT_P_BEYOND_LOG;
		return;
	}
	d->action = ACT_HB_RESP;
	d->verdict = RAFT_V_COUNTED;
}

/* Candidate side: handleVoteResponse() for VoteResp (candidate) and PreVoteResp (pre-candidate). */
INLINE void rule_vote_resp(const struct view *v, const struct msg *m, struct decision *d)
{
	int pre = m->type == RAFT_WIRE_PRE_VOTE_RESP;
	/* A granted pre-vote carries the term we would campaign in: term + 1. */
	__u64 want = pre ? v->term + 1 : v->term;
	if (m->flags & RAFT_WIRE_F_REJECT) {
		if (m->term > v->term)
			d->verdict = RAFT_P_HIGHER_TERM;
		else if (m->term < v->term)
			d->verdict = RAFT_V_IGNORED;
		else
			d->verdict = RAFT_P_REJECT; /* user space tallies a loss */
		return;
	}
	if (m->term < v->term) {
		d->verdict = RAFT_V_IGNORED;
		return;
	}
	if (m->term != want) {
		d->verdict = m->term > want ? RAFT_P_HIGHER_TERM : RAFT_P_LOWER_TERM;
		return;
	}
	if (v->role != (pre ? RAFT_ROLE_PRE_CANDIDATE : RAFT_ROLE_CANDIDATE)) {
		d->verdict = RAFT_P_ROLE;
		return;
	}
	if (!is_voter(v, v->midx)) {
		d->verdict = RAFT_V_IGNORED; /* handleVoteResponse: only voters count */
		return;
	}
	/* Our own vote: a pre-candidate votes for itself at once; a candidate's
	 * vote counts once durable, and published state is durable. */
	d->self_votes = is_voter(v, v->self_idx) && (pre || v->voted_for == v->node_id);
	d->action = ACT_VOTE;
	d->verdict = RAFT_V_COUNTED;
}

/* ---- effects ------------------------------------------------------------------------------ */

INLINE __u32 popcount16(__u32 x)
{
	x = x - ((x >> 1) & 0x5555);
	x = (x & 0x3333) + ((x >> 2) & 0x3333);
	x = (x + (x >> 4)) & 0x0f0f;
	return (x + (x >> 8)) & 0x1f;
}

/* The voters' bits of members[] that are in use. */
INLINE __u32 voter_bits(const struct view *v)
{
	__u32 used = v->n_members >= 16 ? 0xffff : ((1u << v->n_members) - 1);
	return v->voter_mask & used;
}

/*
 * Does a quorum of voters hold more than `above` (majorityIndex() > above)?
 * Returns 0 if not; else a lower bound of the new quorum index that is still
 * above `above`: the smallest match among the voters above it (at least q of
 * them are, so the q-th largest match is ≥ that smallest one). One pass over
 * ≤16 members; a lower bound rather than the exact q-th largest only means
 * that a later ack may be passed up once more, which is always safe.
 */
struct quorum_ctx {
	struct raft_slot *s;
	__u64 above, low, self_val;
	__u32 voters, n, epoch;
	int self_idx;
};

static long quorum_member(__u32 i, void *c)
{
	struct quorum_ctx *x = c;
	__u64 val;

	if (i >= RAFT_STATE_MEMBERS)
		return 1;
	if (!((x->voters >> i) & 1))
		return 0;
	if ((int)i == x->self_idx)
		val = x->self_val; /* self counts its durable last index */
	else
		val = tagged_value(READ_ONCE(x->s->kern.peers[i].match), x->epoch);
	if (val > x->above) {
		x->n++;
		if (val < x->low)
			x->low = val;
	}
	return 0;
}

INLINE __u64 quorum_above(const struct view *v, struct raft_slot *s, __u64 above)
{
	__u32 voters = voter_bits(v);
	struct quorum_ctx x = {
		.s = s, .above = above, .low = ~0ULL, .self_val = v->last_index,
		.voters = voters, .n = 0, .epoch = v->epoch, .self_idx = v->self_idx,
	};

	if (!voters)
		return 0;
	bpf_loop(RAFT_STATE_MEMBERS, quorum_member, &x, 0);
	return x.n >= popcount16(voters) / 2 + 1 ? x.low : 0;
}

/* Returns the final verdict of an ACT_APPEND_ACK. */
INLINE __u32 append_ack(const struct view *v, struct raft_slot *s, const struct msg *m, int i)
{
	__u64 threshold, qi, passed;
	int r;

	if (i < 0 || i >= RAFT_STATE_MEMBERS)
		return RAFT_P_NOT_MEMBER;
	r = tagged_max(&s->kern.peers[i].match, v->epoch, m->index);
	if (r < 0)
		return RAFT_P_CONTENDED;
	/* maybeCommit(): an index commits when a quorum holds it and it is from
	 * this term, i.e. ≥ term_start; so only a quorum index above
	 * max(commit, term_start − 1) — and above what we already passed up —
	 * makes user space do anything. */
	threshold = v->commit;
	if (v->term_start > 0 && v->term_start - 1 > threshold)
		threshold = v->term_start - 1;
	passed = tagged_value(READ_ONCE(s->kern.quorum_passed), v->epoch);
	if (passed > threshold)
		threshold = passed;
	qi = quorum_above(v, s, threshold);
	if (qi == 0)
		return RAFT_V_COUNTED;
	/* Only the CPU that moves quorum_passed passes the packet up. */
	r = tagged_max(&s->kern.quorum_passed, v->epoch, qi);
	if (r < 0)
		return RAFT_P_CONTENDED;
	return r ? RAFT_P_QUORUM : RAFT_V_COUNTED;
}

INLINE __u32 heartbeat_resp(const struct view *v, struct raft_slot *s, const struct msg *m, int i, __u64 now)
{
	struct raft_peer *p;

	if (i < 0 || i >= RAFT_STATE_MEMBERS)
		return RAFT_P_NOT_MEMBER;
	p = &s->kern.peers[i];
	atomic_max(&p->ack_ns, now);
	p->ack_epoch = v->epoch;
	tagged_max(&p->ack_ctx, v->epoch, m->ctx);
	return RAFT_V_COUNTED;
}

/* Returns the final verdict of an ACT_VOTE: pass only the vote that reaches quorum. */
INLINE __u32 vote(const struct view *v, struct raft_slot *s, int i, __u32 self_votes)
{
	__u32 voters = voter_bits(v);
	__u32 q = popcount16(voters) / 2 + 1;
	__u64 tag = (__u64)v->epoch << 32;

	if (i < 0 || i >= RAFT_STATE_MEMBERS)
		return RAFT_P_NOT_MEMBER;
	for (int t = 0; t < CAS_TRIES; t++) {
		__u64 old = READ_ONCE(s->kern.votes);
		__u32 bits = (old & 0xffffffff00000000ULL) == tag ? (__u32)old & 0xffff : 0;
		__u32 nbits = bits | (1u << i);
		__u32 before, after;
		if (nbits == bits)
			return RAFT_V_COUNTED; /* a duplicate: already counted */
		if (__sync_val_compare_and_swap(&s->kern.votes, old, tag | nbits) != old)
			continue;
		before = popcount16(bits & voters) + self_votes;
		after = popcount16(nbits & voters) + self_votes;
		return before < q && after >= q ? RAFT_P_QUORUM : RAFT_V_COUNTED;
	}
	return RAFT_P_CONTENDED;
}

/* ---- the reply ----------------------------------------------------------------------------- */

INLINE __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Turns the packet (whose payload is already the reply) into the reply: the
 * headers with source and destination swapped. IPv4: a fresh TTL and header checksum, UDP
 * checksum 0 (optional for IPv4). IPv6: the UDP checksum is mandatory, so it
 * is computed over the pseudo-header and the whole (new) datagram.
 */
INLINE int write_reply(struct pkt *p)
{
	struct ethhdr *eth = p->eth;
	struct udphdr *udp = p->udp;
	__u8 mac[ETH_ALEN];
	__u16 port;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->check = 0;

	if (p->ip4) {
		struct iphdr *ip = p->ip4;
		__u32 a = ip->saddr;
		__u16 *w = (__u16 *)ip;
		__u32 sum = 0;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->ttl = 64;
		ip->check = 0;
#pragma unroll
		for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
			sum += w[i];
		ip->check = csum_fold(sum);
		return 1;
	}
	if (p->ip6) {
		struct ipv6hdr *ip6 = p->ip6;
		struct in6_addr a = ip6->saddr;
		__u16 *w;
		__u32 sum = 0;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->hop_limit = 64;
		/* Pseudo-header: both addresses, the UDP length, the next header. */
		w = (__u16 *)&ip6->saddr;
#pragma unroll
		for (int i = 0; i < 16; i++)
			sum += w[i];
		sum += bpf_htons(UDP_LEN) + bpf_htons(IPPROTO_UDP);
		w = (__u16 *)udp;
		if ((void *)udp + UDP_LEN > p->data_end)
			return 0;
#pragma unroll
		for (int i = 0; i < (int)(UDP_LEN / 2); i++)
			sum += w[i];
		udp->check = csum_fold(sum);
		if (udp->check == 0)
			udp->check = 0xffff; /* RFC 768: a computed 0 is sent as all ones */
		return 1;
	}
	return 0;
}

/* ---- the program --------------------------------------------------------------------------- */

SEC("xdp")
int raft_xdp(struct xdp_md *ctx)
{
	struct pkt p;
	struct raft_wire_hdr *h;
	struct view v;
	struct msg m;
	struct decision d = {};
	struct raft_slot *s;
	__u32 *slotp, slot, verdict;
	__u16 port;
	__u64 now;

	if (!parse(ctx, &p)) {
		gstat(RAFT_G_NOT_UDP);
		return XDP_PASS;
	}
	port = bpf_ntohs(p.udp->dest);
	slotp = bpf_map_lookup_elem(&raft_ports, &port);
	if (!slotp) {
		gstat(RAFT_G_NO_SLOT);
		return XDP_PASS;
	}
	slot = *slotp;
	s = bpf_map_lookup_elem(&raft_state, &slot);
	if (!s) {
		gstat(RAFT_G_NO_MAP);
		return XDP_PASS;
	}
	if (!exact_length(&p)) {
		count(s, 0, RAFT_P_BAD_LEN);
		return XDP_PASS;
	}
	/* The header is read in place (no 72-byte copy: the BPF stack is 512
	 * bytes); x86-64 and the JIT handle its unaligned 8-byte fields. */
	h = p.payload;
	if ((void *)(h + 1) > p.data_end)
		return XDP_PASS;
	if (h->magic != bpf_htonl(RAFT_WIRE_MAGIC) || h->version != RAFT_WIRE_VERSION ||
	    h->type < RAFT_WIRE_TYPE_MIN || h->type > RAFT_WIRE_TYPE_MAX ||
	    (bpf_ntohs(h->flags) & ~RAFT_WIRE_F_KNOWN)) {
		count(s, h->type >= RAFT_WIRE_TYPE_MIN && h->type <= RAFT_WIRE_TYPE_MAX ? h->type : 0, RAFT_P_BAD_HDR);
		return XDP_PASS;
	}
	m.type = h->type;
	m.flags = bpf_ntohs(h->flags);
	m.from = bpf_ntohs(h->from);
	m.to = bpf_ntohs(h->to);
	m.term = bpf_be64_to_cpu(h->term);
	m.index = bpf_be64_to_cpu(h->index);
	m.log_term = bpf_be64_to_cpu(h->log_term);
	m.commit = bpf_be64_to_cpu(h->commit);
	m.ctx = bpf_be64_to_cpu(h->ctx);
	m.hint = bpf_be64_to_cpu(h->hint);

	verdict = read_view(s, m.index, m.from, &v);
	if (verdict)
		goto pass;
	/* Authenticate before any value is trusted (as decodeControl does). */
	if (bpf_ntohl(h->cluster_id) != v.cluster) {
		verdict = RAFT_P_BAD_CLUSTER;
		goto pass;
	}
	if (v.flags & RAFT_ST_F_HAS_KEY) {
		if (raft_wire_mac(&v.key, h) != bpf_be64_to_cpu(h->mac)) {
			verdict = RAFT_P_BAD_MAC;
			goto pass;
		}
	} else if (h->mac != 0) {
		verdict = RAFT_P_BAD_MAC;
		goto pass;
	}
	/* A stalled or paused process must not look alive (DESIGN §5 guards). */
	now = bpf_ktime_get_ns();
	if (now - v.alive >= v.alive_max) {
		verdict = RAFT_P_STALE_USER;
		goto pass;
	}
	/* step(): misaddressed and self-sent messages are not for us to judge. */
	if ((m.to != 0 && m.to != v.node_id) || m.from == v.node_id || m.from == 0) {
		verdict = RAFT_P_MISADDRESSED;
		goto pass;
	}
	if (v.midx < 0) {
		verdict = RAFT_P_NOT_MEMBER;
		goto pass;
	}

	switch (m.type) {
	case RAFT_WIRE_HEARTBEAT:
		rule_heartbeat(&v, &m, &d);
		break;
	case RAFT_WIRE_PRE_VOTE:
		rule_prevote(&v, s, &m, now, &d);
		break;
	case RAFT_WIRE_VOTE:
		rule_vote(&v, s, &m, now, &d);
		break;
	case RAFT_WIRE_APPEND_RESP:
		rule_append_resp(&v, &m, &d);
		break;
	case RAFT_WIRE_HEARTBEAT_RESP:
		rule_heartbeat_resp(&v, &m, &d);
		break;
	case RAFT_WIRE_VOTE_RESP:
	case RAFT_WIRE_PRE_VOTE_RESP:
		rule_vote_resp(&v, &m, &d);
		break;
	default:
		d.verdict = RAFT_P_TYPE; /* TimeoutNow: user space campaigns */
		break;
	}
	verdict = d.verdict;

	switch (d.action) {
	case ACT_HB_ACK:
		/* Leader contact for the election timer and leases, then the commit
		 * the leader vouched for up to the matching prev (handleHeartbeat's
		 * commitTo(min(commit, index))). Term/leader first: readers match
		 * contact_ns against them. */
		s->kern.contact_term = m.term;
		s->kern.contact_leader = m.from;
		s->kern.contact_prev = m.index;
		atomic_max(&s->kern.contact_ns, now);
		atomic_max(&s->kern.commit_hint, m.commit < m.index ? m.commit : m.index);
		break;
	case ACT_APPEND_ACK:
		verdict = append_ack(&v, s, &m, v.midx);
		break;
	case ACT_HB_RESP:
		verdict = heartbeat_resp(&v, s, &m, v.midx, now);
		break;
	case ACT_VOTE:
		verdict = vote(&v, s, v.midx, d.self_votes);
		break;
	}

	if (verdict == RAFT_V_TX || verdict == RAFT_V_TX_REJECT) {
		/* The request's fields are all in m: overwrite it with the reply. */
		__builtin_memset(h, 0, sizeof(*h));
		h->magic = bpf_htonl(RAFT_WIRE_MAGIC);
		h->version = RAFT_WIRE_VERSION;
		h->type = d.reply_type;
		h->flags = bpf_htons(d.reply_reject ? RAFT_WIRE_F_REJECT : 0);
		h->cluster_id = bpf_htonl(v.cluster);
		h->from = bpf_htons(v.node_id);
		h->to = bpf_htons(m.from);
		h->term = bpf_cpu_to_be64(d.reply_term);
		if (d.reply_type == RAFT_WIRE_HEARTBEAT_RESP) {
			/* handleHeartbeat: index = the prev acknowledged, ctx echoed. */
			h->index = bpf_cpu_to_be64(m.index);
			h->ctx = bpf_cpu_to_be64(m.ctx);
		}
		h->mac = v.flags & RAFT_ST_F_HAS_KEY ? bpf_cpu_to_be64(raft_wire_mac(&v.key, h)) : 0;
		if (!write_reply(&p)) {
			/* Cannot happen after exact_length(); were it to, the payload is
			 * already the reply, so the packet must not go up: drop it. */
			count(s, m.type, RAFT_P_TX_ERR);
			return XDP_DROP;
		}
		count(s, m.type, verdict);
		emit(s, slot, &m, verdict, d.reply_term, now);
		return XDP_TX;
	}
	if (verdict == RAFT_V_COUNTED || verdict == RAFT_V_IGNORED) {
		count(s, m.type, verdict);
		emit(s, slot, &m, verdict, 0, now);
		return XDP_DROP;
	}
pass:
	count(s, m.type, verdict);
	return XDP_PASS;
}
