/*
 * Prints the layout and constants of bpf/raft_state.h as "name value" lines, for
 * state_layout.test.ts to compare with STATE_LAYOUT and the constants in src/offload/state.ts.
 */
#include <stddef.h>
#include <stdio.h>

#include "raft_state.h"

#define F(s, prefix, f) \
	printf("%s.%s.offset %zu\n%s.%s.size %zu\n", prefix, #f, offsetof(struct s, f), prefix, #f, sizeof(((struct s *)0)->f))
#define C(name) printf("const.%s %llu\n", #name, (unsigned long long)(name))
#define V(prefix, name, value) printf("%s.%s %d\n", prefix, name, (int)(value))

int main(void)
{
	printf("size.user %zu\nsize.kern %zu\nsize.slot %zu\nsize.peer %zu\nsize.event %zu\nsize.ring_ent %zu\n",
	       sizeof(struct raft_user), sizeof(struct raft_kern), sizeof(struct raft_slot), sizeof(struct raft_peer),
	       sizeof(struct raft_event), sizeof(struct raft_ring_ent));
	printf("offset.kern %zu\n", offsetof(struct raft_slot, kern));
	F(raft_user, "user", seq); F(raft_user, "user", magic); F(raft_user, "user", version);
	F(raft_user, "user", flags); F(raft_user, "user", node_id); F(raft_user, "user", port);
	F(raft_user, "user", cluster_id); F(raft_user, "user", epoch); F(raft_user, "user", role);
	F(raft_user, "user", n_members); F(raft_user, "user", voter_mask); F(raft_user, "user", voted_for);
	F(raft_user, "user", leader); F(raft_user, "user", key); F(raft_user, "user", term);
	F(raft_user, "user", last_index); F(raft_user, "user", last_term); F(raft_user, "user", commit);
	F(raft_user, "user", term_start); F(raft_user, "user", election_timeout_ns);
	F(raft_user, "user", lease_margin_ns); F(raft_user, "user", alive_ns); F(raft_user, "user", alive_max_ns);
	F(raft_user, "user", contact_ns); F(raft_user, "user", quiet_until_ns); F(raft_user, "user", members);
	F(raft_user, "user", reserved); F(raft_user, "user", ring);
	F(raft_kern, "kern", contact_ns); F(raft_kern, "kern", contact_term); F(raft_kern, "kern", contact_prev);
	F(raft_kern, "kern", commit_hint); F(raft_kern, "kern", contact_leader); F(raft_kern, "kern", pad0);
	F(raft_kern, "kern", events_lost); F(raft_kern, "kern", quorum_passed); F(raft_kern, "kern", votes);
	F(raft_kern, "kern", reserved); F(raft_kern, "kern", peers); F(raft_kern, "kern", counters);
	F(raft_peer, "peer", match); F(raft_peer, "peer", ack_ns); F(raft_peer, "peer", ack_ctx);
	F(raft_peer, "peer", ack_epoch); F(raft_peer, "peer", pad);
	F(raft_event, "event", ns); F(raft_event, "event", term); F(raft_event, "event", index);
	F(raft_event, "event", log_term); F(raft_event, "event", commit); F(raft_event, "event", ctx);
	F(raft_event, "event", hint); F(raft_event, "event", from); F(raft_event, "event", to);
	F(raft_event, "event", type); F(raft_event, "event", verdict); F(raft_event, "event", slot);
	F(raft_event, "event", flags); F(raft_event, "event", reply_term);
	C(RAFT_STATE_MAGIC); C(RAFT_STATE_VERSION); C(RAFT_STATE_SLOTS); C(RAFT_STATE_SLOT_SIZE);
	C(RAFT_STATE_RING); C(RAFT_STATE_MEMBERS); C(RAFT_STATE_TYPES); C(RAFT_STATE_VERDICTS);
	C(RAFT_TAG_SHIFT); C(RAFT_VERDICT_COUNT); C(RAFT_G_COUNT);
	V("role", "none", RAFT_ROLE_NONE); V("role", "follower", RAFT_ROLE_FOLLOWER);
	V("role", "pre-candidate", RAFT_ROLE_PRE_CANDIDATE); V("role", "candidate", RAFT_ROLE_CANDIDATE);
	V("role", "leader", RAFT_ROLE_LEADER);
	V("flag", "Enabled", RAFT_ST_F_ENABLED); V("flag", "CheckQuorum", RAFT_ST_F_CHECK_QUORUM);
	V("flag", "HasKey", RAFT_ST_F_HAS_KEY);
	V("gstat", "NotUdp", RAFT_G_NOT_UDP); V("gstat", "NoSlot", RAFT_G_NO_SLOT); V("gstat", "NoMap", RAFT_G_NO_MAP);
	V("verdict", "Tx", RAFT_V_TX); V("verdict", "TxReject", RAFT_V_TX_REJECT); V("verdict", "Counted", RAFT_V_COUNTED);
	V("verdict", "Ignored", RAFT_V_IGNORED); V("verdict", "BadLen", RAFT_P_BAD_LEN); V("verdict", "BadHdr", RAFT_P_BAD_HDR);
	V("verdict", "NoState", RAFT_P_NO_STATE); V("verdict", "Torn", RAFT_P_TORN); V("verdict", "StaleUser", RAFT_P_STALE_USER);
	V("verdict", "BadCluster", RAFT_P_BAD_CLUSTER); V("verdict", "BadMac", RAFT_P_BAD_MAC);
	V("verdict", "NotMember", RAFT_P_NOT_MEMBER); V("verdict", "Misaddressed", RAFT_P_MISADDRESSED);
	V("verdict", "HigherTerm", RAFT_P_HIGHER_TERM); V("verdict", "LowerTerm", RAFT_P_LOWER_TERM);
	V("verdict", "Role", RAFT_P_ROLE); V("verdict", "NotLeader", RAFT_P_NOT_LEADER);
	V("verdict", "LogMismatch", RAFT_P_LOG_MISMATCH); V("verdict", "Reject", RAFT_P_REJECT);
	V("verdict", "Grant", RAFT_P_GRANT); V("verdict", "LeaseDoubt", RAFT_P_LEASE_DOUBT);
	V("verdict", "Quorum", RAFT_P_QUORUM); V("verdict", "BeyondLog", RAFT_P_BEYOND_LOG);
	V("verdict", "Type", RAFT_P_TYPE); V("verdict", "TxErr", RAFT_P_TX_ERR); V("verdict", "Contended", RAFT_P_CONTENDED);
	return 0;
}
