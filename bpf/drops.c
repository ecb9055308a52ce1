/* netdrop: every freed-with-a-reason skb, from the tracepoint skb:kfree_skb.
 *
 * One handler body, two entry points chosen at start-up (netdrop/bpf/session.py):
 * - HOOK_TP_BTF: `kfree_skb`, a BTF-typed tracepoint program (tp_btf) that reads kernel structs with plain loads;
 *   netdrop loads and attaches it itself (netdrop/kernel/tpbtf.py), bcc only compiles it;
 * - otherwise the raw tracepoint `raw_tracepoint__kfree_skb` with windowed bpf_probe_read_kernel() calls, which bcc
 *   loads and attaches.
 *
 * 1. exact counts in a per-CPU hash keyed by (netns, ifindex, reason, location, pkt_type [, dst MAC and address for
 *    OTHERHOST frames]), touched only when a CPU's key changes (see struct nd_state);
 * 2. within a per-CPU budget of events per second, a sampled event with the frame's first SNAPLEN bytes, reserved
 *    in a ring buffer without waking user space (it polls on a timer); reserve failures and budget refusals are
 *    counted, never silent.
 *
 * Compile-time parameters (all -D): the OFF_* offsets, ARG_REASON (index of the reason in the tracepoint's
 * arguments, or -1 on kernels without one), HOOK_TP_BTF (and, with it, KFUNC_RDONLY_CAST and BTF_ID_*, see
 * netdrop.h), EVENT_BUDGET (0 = no events) and EVENT_BUDGET_TICK (events per CPU per budget tick), RINGBUF_PAGES,
 * MAX_KEYS, and optional filters FILTER_NETNS, FILTER_IFINDEX, FILTER_REASON, FILTER_OTHERHOST, FILTER_L4PROTO,
 * FILTER_PORT, FILTER_HOST4, FILTER_MAC_HI/FILTER_MAC_LO, WITH_STACK.
 */
#include "netdrop.h"

/* BPF_TABLE rather than BPF_PERCPU_HASH/ARRAY: Debian 11's bcc 0.18 has no BPF_PERCPU_HASH macro */
BPF_TABLE("percpu_hash", struct drop_key, struct drop_val, counts, MAX_KEYS);
BPF_TABLE("percpu_array", int, struct nd_state, state, 1);
#if EVENT_BUDGET
BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
/* The budget's clock: user space bumps tick[0] every BUDGET_TICK_MS while it drains. A bpf_ktime_get_ns() per
 * drop cost ~45 ns here; an array lookup is inlined by the verifier. No draining, no new budget: the ring buffer
 * cannot fill up behind a stalled reader. */
BPF_ARRAY(tick, u64, 1);
#endif
#ifdef WITH_STACK
BPF_STACK_TRACE(stacks, 2048);
#endif

#if EVENT_BUDGET
static __always_inline int within_budget(struct nd_state *st)
{
	int zero = 0;
	u64 *gen = tick.lookup(&zero);
	if (!gen)
		return 0;
	if (st->gen != *gen) {
		st->gen = *gen;
		st->used = 0;
	}
	if (st->used >= EVENT_BUDGET_TICK)
		return 0;
	st->used += 1;
	return 1;
}
#endif

/* Read L3 protocol fields the filters need. Returns 0 when the frame does not pass. */
static __always_inline int pass_l3_filters(struct nd_hdrs *h, u16 proto)
{
#if defined(FILTER_L4PROTO) || defined(FILTER_PORT) || defined(FILTER_HOST4)
	void *nh = h->head + h->net;
	u8 l4 = 0, ihl = 0;
	if (h->net == ND_MAC_UNSET)
		return 0;
	if (proto == bpf_htons(ND_ETH_P_IP)) {
		ND_READ(ihl, nh, 0);
		ND_READ(l4, nh, ND_IPV4_PROTO);
#ifdef FILTER_HOST4
		u32 s = 0, d = 0;
		ND_READ(s, nh, ND_IPV4_SADDR);
		ND_READ(d, nh, ND_IPV4_DADDR);
		if (s != FILTER_HOST4 && d != FILTER_HOST4)
			return 0;
#endif
		ihl = (ihl & 0xf) * 4;
	} else if (proto == bpf_htons(ND_ETH_P_IPV6)) {
#ifdef FILTER_HOST4
		return 0;
#endif
		ND_READ(l4, nh, ND_IPV6_NEXTHDR);
		ihl = ND_IPV6_HLEN;
	} else {
		return 0;
	}
#ifdef FILTER_L4PROTO
	if (l4 != FILTER_L4PROTO)
		return 0;
#endif
#ifdef FILTER_PORT
	u16 sp = 0, dp = 0;
	if (l4 != ND_IPPROTO_TCP && l4 != ND_IPPROTO_UDP && l4 != ND_IPPROTO_SCTP)
		return 0;
	ND_READ(sp, nh, ihl);
	ND_READ(dp, nh, ihl + 2);
	if (sp != bpf_htons(FILTER_PORT) && dp != bpf_htons(FILTER_PORT))
		return 0;
#endif
#endif
	return 1;
}

#ifdef ND_PACKET_LOADS
/* Destination MAC and address of an OTHERHOST frame, with plain loads through bpf_rdonly_cast (see netdrop.h). */
static __always_inline void otherhost_dst(struct drop_key *k, struct nd_hdrs *h, u16 proto)
{
	if (h->mac == ND_MAC_UNSET)
		return;
	void *eth = nd_rdonly_cast(h->head + h->mac, BTF_ID_ETHHDR);
	u32 mac_hi = ND_LOAD(u32, eth, 0);
	u16 mac_lo = ND_LOAD(u16, eth, 4);
	__builtin_memcpy(k->dst_mac, &mac_hi, 4); /* dst_mac is not 4-byte aligned: byte stores */
	__builtin_memcpy(k->dst_mac + 4, &mac_lo, 2);
	if (h->net == ND_MAC_UNSET)
		return;
	if (proto == bpf_htons(ND_ETH_P_IP)) {
		k->family = 4;
		void *ip = nd_rdonly_cast(h->head + h->net, BTF_ID_IPHDR);
		*(u32 *)k->daddr = ND_LOAD(u32, ip, ND_IPV4_DADDR);
	} else if (proto == bpf_htons(ND_ETH_P_IPV6)) {
		k->family = 6;
		void *ip6 = nd_rdonly_cast(h->head + h->net, BTF_ID_IPV6HDR);
		*(u64 *)k->daddr = ND_LOAD(u64, ip6, ND_IPV6_DADDR);
		*(u64 *)(k->daddr + 8) = ND_LOAD(u64, ip6, ND_IPV6_DADDR + 8);
	}
}
#else
/* Destination MAC and address of an OTHERHOST frame: one read when the IP header follows a plain Ethernet header
 * (the common case), separate reads otherwise (VLAN tags, odd layouts). */
static __always_inline void otherhost_dst(struct drop_key *k, struct nd_hdrs *h, u16 proto)
{
	if (h->mac == ND_MAC_UNSET)
		return;
	if (h->net == h->mac + ND_ETH_HLEN) {
		u64 w[7]; /* Ethernet (14) + IPv6 header up to the end of daddr (40) = 54 bytes */
		if (bpf_probe_read_kernel(w, sizeof(w), h->head + h->mac))
			return;
		__builtin_memcpy(k->dst_mac, (u8 *)w, 6);
		if (proto == bpf_htons(ND_ETH_P_IP)) {
			k->family = 4;
			__builtin_memcpy(k->daddr, (u8 *)w + ND_ETH_HLEN + ND_IPV4_DADDR, 4);
		} else if (proto == bpf_htons(ND_ETH_P_IPV6)) {
			k->family = 6;
			__builtin_memcpy(k->daddr, (u8 *)w + ND_ETH_HLEN + ND_IPV6_DADDR, 16);
		}
		return;
	}
	bpf_probe_read_kernel(k->dst_mac, 6, h->head + h->mac);
	if (h->net == ND_MAC_UNSET)
		return;
	if (proto == bpf_htons(ND_ETH_P_IP)) {
		k->family = 4;
		bpf_probe_read_kernel(k->daddr, 4, h->head + h->net + ND_IPV4_DADDR);
	} else if (proto == bpf_htons(ND_ETH_P_IPV6)) {
		k->family = 6;
		bpf_probe_read_kernel(k->daddr, 16, h->head + h->net + ND_IPV6_DADDR);
	}
}

#endif /* ND_PACKET_LOADS */

/* Count the drop under `k`: in the CPU's pending slot while the key repeats, in the hash when it changes. */
static __always_inline void count_drop(struct nd_state *st, struct drop_key *k)
{
	u64 *a = (u64 *)k, *b = (u64 *)&st->last;
	if (st->pending && a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	    a[5] == b[5]) {
		st->pending += 1;
		return;
	}
	if (st->pending) {
		st->seq += 1;
		struct drop_val *v = counts.lookup(&st->last);
		if (!v) {
			struct drop_val zero = {};
			counts.insert(&st->last, &zero);
			v = counts.lookup(&st->last);
		}
		if (v)
			v->count += st->pending;
		else
			st->stat[STAT_MAP_FULL] += st->pending;
		st->seq += 1;
	}
	__builtin_memcpy(&st->last, k, sizeof(*k));
	st->pending = 1;
}

#if EVENT_BUDGET
/* This key's count on this CPU, this drop included, right after count_drop(st, k) (st->last is k): exact while it
 * is at most ND_FIRST_PER_KEY (all the sampling needs), a lower bound above. The hash is looked up only while the
 * CPU's run of this key is short. */
static __always_inline u64 key_nth(struct nd_state *st, struct drop_key *k)
{
	if (st->pending > ND_FIRST_PER_KEY)
		return st->pending;
	struct drop_val *v = counts.lookup(k);
	return st->pending + (v ? v->count : 0);
}
#endif

/* Filter: fill the key and the header offsets; 0 when a --netns/--iface/--reason/... filter refuses the drop. */
static __always_inline int filter_drop(void *skb, struct drop_key *k, struct nd_skb *s, struct nd_hdrs *h)
{
#ifdef FILTER_REASON
	if (k->reason != FILTER_REASON)
		return 0;
#endif
	if (nd_read_skb(skb, s))
		return 0;
	nd_dev_ids_win(s->dev, &k->netns, &k->ifindex);
#ifdef FILTER_NETNS
	if (k->netns != FILTER_NETNS)
		return 0;
#endif
#ifdef FILTER_IFINDEX
	if (k->ifindex != FILTER_IFINDEX)
		return 0;
#endif
	k->pkt_type = s->pkt_type;
#ifdef FILTER_OTHERHOST
	if (k->pkt_type != ND_PACKET_OTHERHOST)
		return 0;
#endif
	h->head = s->head;
	h->mac = s->mac;
	h->net = s->net;
	if (!pass_l3_filters(h, s->protocol))
		return 0;
#if defined(FILTER_MAC_HI)
	{
		u8 m[12] = {};
		if (h->mac == ND_MAC_UNSET)
			return 0;
		bpf_probe_read_kernel(m, 12, h->head + h->mac);
		u16 hi = ((u16)m[0] << 8) | m[1];
		u32 lo = ((u32)m[2] << 24) | ((u32)m[3] << 16) | ((u32)m[4] << 8) | m[5];
		u16 shi = ((u16)m[6] << 8) | m[7];
		u32 slo = ((u32)m[8] << 24) | ((u32)m[9] << 16) | ((u32)m[10] << 8) | m[11];
		if (!(hi == FILTER_MAC_HI && lo == FILTER_MAC_LO) && !(shi == FILTER_MAC_HI && slo == FILTER_MAC_LO))
			return 0;
	}
#endif
	if (k->pkt_type == ND_PACKET_OTHERHOST)
		otherhost_dst(k, h, s->protocol);
	return 1;
}

#if EVENT_BUDGET
/* Emit: a sampled event with the frame from its MAC header (or network header) on, up to SNAPLEN bytes of the
 * linear data, when the key is among its first ND_FIRST_PER_KEY drops or the budget allows. */
static __always_inline void emit_drop(void *ctx, struct nd_state *st, struct drop_key *k, struct nd_skb *s,
                                      struct nd_hdrs *h)
{
	/* The first few drops of every key are always sampled, outside the budget: a flood of one kind elsewhere on
	 * the host must not leave a rarer drop without the frame its explanation reads (addresses, ports). */
	if (key_nth(st, k) > ND_FIRST_PER_KEY && !within_budget(st)) {
		st->stat[STAT_SAMPLED] += 1;
		return;
	}
	struct drop_event *e = events.ringbuf_reserve(sizeof(struct drop_event));
	if (!e) {
		st->stat[STAT_LOST] += 1;
		return;
	}
	e->ts = bpf_ktime_get_ns();
	e->location = k->location;
	e->netns = k->netns;
	e->ifindex = k->ifindex;
	e->reason = k->reason;
	e->protocol = s->protocol;
	e->pkt_type = k->pkt_type;
	e->cpu = bpf_get_smp_processor_id();
#ifdef WITH_STACK
	e->stack_id = stacks.get_stackid(ctx, 0);
#else
	e->stack_id = -1;
#endif
	void *start = s->data;
	e->has_mac = 0;
	e->net_off = ND_MAC_UNSET;
	if (h->mac != ND_MAC_UNSET) {
		start = h->head + h->mac;
		e->has_mac = 1;
	} else if (h->net != ND_MAC_UNSET) {
		start = h->head + h->net;
	}
	if (h->net != ND_MAC_UNSET && h->head + h->net >= start)
		e->net_off = (u16)(h->head + h->net - start);
	long before = s->data - start; /* bytes of headers already pulled */
	e->frame_len = (u32)(s->len + before);
	long linear = (long)(s->len - s->data_len) + before;
	if (linear < 0)
		linear = 0;
	u32 n = linear > SNAPLEN ? SNAPLEN : (u32)linear;
	e->caplen = n;
	if (n > 0 && n <= SNAPLEN)
		bpf_probe_read_kernel(e->data, n, start);
	events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	st->stat[STAT_EVENTS] += 1;
}
#endif

static __always_inline int on_drop(void *ctx, void *skb, u64 location, u32 reason)
{
	struct drop_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.location = location;
	k.reason = reason;
	struct nd_skb s;
	struct nd_hdrs h;
	if (!filter_drop(skb, &k, &s, &h))
		return 0;
	int zero = 0;
	struct nd_state *st = state.lookup(&zero);
	if (!st)
		return 0;
	count_drop(st, &k);
#if EVENT_BUDGET
	emit_drop(ctx, st, &k, &s, &h);
#endif
	return 0;
}

#ifdef HOOK_TP_BTF
/* tp_btf: ctx[] holds the tracepoint's arguments as its TP_PROTO has them (skb, location[, reason[, rx_sk]]) */
int kfree_skb(u64 *ctx)
{
#if ARG_REASON >= 0
	return on_drop(ctx, (void *)ctx[0], ctx[1], (u32)ctx[ARG_REASON]);
#else
	return on_drop(ctx, (void *)ctx[0], ctx[1], 0);
#endif
}
#else
RAW_TRACEPOINT_PROBE(kfree_skb)
{
#if ARG_REASON >= 0
	return on_drop(ctx, (void *)ctx->args[0], ctx->args[1], (u32)ctx->args[ARG_REASON]);
#else
	return on_drop(ctx, (void *)ctx->args[0], ctx->args[1], 0);
#endif
}
#endif
