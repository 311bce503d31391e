/* Compiled with `clang -target bpf` by wire_layout.test.ts (when clang exists) to prove that
 * bpf/raft_wire.h, including raft_wire_mac(), builds for the BPF target. Not loaded anywhere. */
#include "raft_wire.h"

__u64 raft_wire_check_mac(const struct raft_wire_key *key, const struct raft_wire_hdr *h);
__u64 raft_wire_check_mac(const struct raft_wire_key *key, const struct raft_wire_hdr *h)
{
	if (raft_wire_be64(h->mac) != raft_wire_mac(key, h)) return 0;
	return raft_wire_be64(h->term);
}
