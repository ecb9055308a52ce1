/* netdrop: where a frame became OTHERHOST, and whether it reached IP. Per-packet hooks (unlike drops.c, which runs
 * per drop), so each returns at once unless the frame is OTHERHOST.
 *
 * HOOK_FENTRY: fexit on eth_type_trans, fentry on ip_rcv_core (BTF trampolines, cheapest).
 * HOOK_KPROBE: kprobe + kretprobe on eth_type_trans (the skb pointer is parked per CPU between the two: the
 *              function runs with bottom halves off and does not nest), kprobe on ip_rcv_core.
 * Counts: per-CPU hash keyed by struct class_key (hook 1 = classified OTHERHOST, 2 = reached ip_rcv_core).
 */
#include "netdrop.h"

BPF_TABLE("percpu_hash", struct class_key, u64, classified, 4096);

static __always_inline void count_otherhost(void *skb, u32 hook)
{
	if (nd_pkt_type(skb) != ND_PACKET_OTHERHOST)
		return;
	struct class_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.hook = hook;
	void *dev = 0;
	ND_READ(dev, skb, OFF_SKB_DEV);
	nd_dev_ids(dev, &k.netns, &k.ifindex);
	struct nd_hdrs h;
	nd_headers(skb, &h);
	if (h.mac != ND_MAC_UNSET) {
		bpf_probe_read_kernel(k.dst_mac, 6, h.head + h.mac);
		bpf_probe_read_kernel(k.src_mac, 6, h.head + h.mac + 6);
	}
	u64 *v = classified.lookup(&k);
	if (!v) {
		u64 zero = 0;
		classified.insert(&k, &zero);
		v = classified.lookup(&k);
	}
	if (v)
		*v += 1;
}

#ifdef HOOK_FENTRY
/* one more macro level so that IP_RCV_CORE (-D, the symbol's name on this kernel) expands before bcc pastes it */
#define ND_KFUNC_PROBE(event, ...) KFUNC_PROBE(event, __VA_ARGS__)

KRETFUNC_PROBE(eth_type_trans, void *skb, void *dev, u16 ret)
{
	count_otherhost(skb, 1);
	return 0;
}

ND_KFUNC_PROBE(IP_RCV_CORE, void *skb, void *net)
{
	count_otherhost(skb, 2);
	return 0;
}
#endif

#ifdef HOOK_KPROBE
#include <uapi/linux/ptrace.h> /* struct pt_regs: its layout is ABI, the header tree may be any kernel's */
BPF_TABLE("percpu_array", int, u64, parked, 1);

int eth_entry(struct pt_regs *ctx)
{
	int zero = 0;
	u64 *slot = parked.lookup(&zero);
	if (slot)
		*slot = PT_REGS_PARM1(ctx);
	return 0;
}

int eth_return(struct pt_regs *ctx)
{
	int zero = 0;
	u64 *slot = parked.lookup(&zero);
	if (slot && *slot) {
		count_otherhost((void *)*slot, 1);
		*slot = 0;
	}
	return 0;
}

int iprcv_entry(struct pt_regs *ctx)
{
	count_otherhost((void *)PT_REGS_PARM1(ctx), 2);
	return 0;
}
#endif
