/* netdrop: the one place the records shared by the BPF programs and Python are declared.
 *
 * Kernel structs are never dereferenced through the (possibly mismatched) header tree: every field is read at an
 * offset the Python side resolved from the running kernel's BTF and passed as -D macros (OFF_*), either with
 * bpf_probe_read_kernel() or, in a tp_btf program (HOOK_TP_BTF), with a plain load the verifier checks against
 * BTF. netdrop/bpf/layout.py mirrors these structs for decoding; keep the two in step.
 */
#ifndef NETDROP_H
#define NETDROP_H

#define ND_PACKET_OTHERHOST 3
#define ND_MAC_UNSET 0xffff
#define ND_FIRST_PER_KEY 4 /* drops of each key (per CPU) sampled whatever the event budget */

/* Protocol numbers (netdrop/protocols.py holds the same; tests/unit/test_contract.py compares them) */
#define ND_ETH_P_IP 0x0800
#define ND_ETH_P_IPV6 0x86DD
#define ND_IPPROTO_TCP 6
#define ND_IPPROTO_UDP 17
#define ND_IPPROTO_SCTP 132
#define ND_ETH_HLEN 14   /* a plain Ethernet header */
#define ND_IPV4_DADDR 16 /* offset of the destination address in the IPv4 header */
#define ND_IPV4_SADDR 12
#define ND_IPV4_PROTO 9
#define ND_IPV6_HLEN 40
#define ND_IPV6_DADDR 24
#define ND_IPV6_NEXTHDR 6

#ifndef SNAPLEN
#define SNAPLEN 128
#endif


enum nd_stat {
	STAT_COUNTED = 0,    /* unused in the kernel: user space sums the counts map (+ STAT_MAP_FULL); a per-drop
	                       increment here cost ~30 ns */
	STAT_EVENTS = 1,     /* events submitted to the ring buffer */
	STAT_LOST = 2,       /* ring buffer full: event lost */
	STAT_SAMPLED = 3,    /* over the event budget: not sent, on purpose */
	STAT_MAP_FULL = 4,   /* counts map full: the drop is counted only here */
	STAT_CLASSIFIED = 5, /* classify.c: OTHERHOST frames seen leaving eth_type_trans */
	STAT_REACHED_IP = 6, /* classify.c: OTHERHOST frames seen entering ip_rcv_core */
	STAT_MAX = 8,
};

/* Exact in-kernel counts are keyed by this. The L2/L3 destination is filled only for OTHERHOST frames, so the
 * key space stays small for every other drop. */
struct drop_key {
	u32 netns; /* inode of the network namespace of skb->dev */
	u32 ifindex;
	u32 reason; /* 0 on kernels without drop reasons */
	u8 pkt_type;
	u8 family;     /* 4, 6 or 0 */
	u8 dst_mac[6]; /* OTHERHOST only */
	u64 location;
	u8 daddr[16]; /* OTHERHOST only: IPv4 in the first 4 bytes */
};

struct drop_val {
	u64 count;
};

/* Per-CPU state of drops.c, one map lookup per drop: the event budget's window, the event/loss counters, and the
 * count of the drops in a row that had the same key (`last`, `pending`): the counts hash is touched only when the
 * key changes. User space adds every CPU's pending count to the hash's, so counts stay exact; `seq` is odd while
 * `pending` is being moved into the hash, and changes with every move, so a reader can tell a torn snapshot. */
struct nd_state {
	u64 gen;  /* the budget window this CPU is in (user space advances `tick` every BUDGET_TICK_MS) */
	u64 used; /* events sent in this window */
	u64 stat[STAT_MAX];
	u64 seq;
	u64 pending;
	struct drop_key last;
};

/* One sampled drop, with the frame from its MAC header on. */
struct drop_event {
	u64 ts;
	u64 location;
	u32 netns;
	u32 ifindex;
	u32 reason;
	u32 frame_len; /* bytes from the MAC (or network) header to the end of the packet */
	u16 protocol;  /* skb->protocol, network byte order */
	u8 pkt_type;
	u8 has_mac;
	u16 caplen;
	u16 net_off; /* network header offset inside data[], ND_MAC_UNSET if unknown */
	s32 stack_id;
	u32 cpu;
	u8 data[SNAPLEN];
};

/* OTHERHOST classification counts (classify.c), keyed like the drops. */
struct class_key {
	u32 netns;
	u32 ifindex;
	u8 dst_mac[6];
	u8 src_mac[6];
	u32 hook; /* 1 = eth_type_trans returned OTHERHOST, 2 = reached ip_rcv_core as OTHERHOST */
};

/* ---- readers: every kernel field at a BTF offset (OFF_* / PKT_TYPE_* macros from netdrop/bpf/offsets.py) ---- */

#define ND_READ(dst, base, off) bpf_probe_read_kernel(&(dst), sizeof(dst), (void *)(base) + (off))

static __always_inline u8 nd_pkt_type(void *skb)
{
	u8 b = 0;
	ND_READ(b, skb, OFF_SKB_PKT_TYPE_BYTE);
	return (b >> PKT_TYPE_SHIFT) & PKT_TYPE_MASK;
}

/* netns inode and ifindex of a net_device (0, 0 for none) */
static __always_inline void nd_dev_ids(void *dev, u32 *netns, u32 *ifindex)
{
	void *net = 0;
	*netns = 0;
	*ifindex = 0;
	if (!dev)
		return;
	ND_READ(*ifindex, dev, OFF_DEV_IFINDEX);
	ND_READ(net, dev, OFF_DEV_ND_NET);
	if (net)
		ND_READ(*netns, net, OFF_NET_INUM);
}

/* Start of the frame (MAC header, else network header) and the headers' offsets. */
struct nd_hdrs {
	void *head;
	u16 mac;
	u16 net;
};

static __always_inline void nd_headers(void *skb, struct nd_hdrs *h)
{
	h->head = 0;
	h->mac = ND_MAC_UNSET;
	h->net = ND_MAC_UNSET;
	ND_READ(h->head, skb, OFF_SKB_HEAD);
	ND_READ(h->mac, skb, OFF_SKB_MAC_HEADER);
	ND_READ(h->net, skb, OFF_SKB_NETWORK_HEADER);
}

/* ---- readers for the per-drop path ----
 * tp_btf (HOOK_TP_BTF): the skb is a BTF-typed pointer, and every field of sk_buff, net_device and net is one plain
 * load (ND_LOAD; the verifier checks each against BTF and a fault reads 0). Packet bytes (skb->head is not a struct
 * pointer) still need bpf_probe_read_kernel(). */
#define ND_LOAD(type, base, off) (*(type *)((u8 *)(base) + (off)))

#if defined(HOOK_TP_BTF) && defined(KFUNC_RDONLY_CAST)
/* The kfunc bpf_rdonly_cast(obj, btf_id) (6.2+) makes any address a read-only BTF-typed pointer: the frame's
 * bytes become plain loads too (a fault reads 0). bcc 0.26 cannot declare a kfunc, so it is called as a helper with
 * the placeholder number KFUNC_RDONLY_CAST, which netdrop's loader rewrites into the kfunc call
 * (netdrop/kernel/tpbtf.py). BTF_ID_* name the header structs, from the running kernel's BTF. */
static void *(*nd_rdonly_cast)(void *obj, u32 btf_id) = (void *)KFUNC_RDONLY_CAST;
#define ND_PACKET_LOADS 1
#endif

/* raw tracepoint (the fallback): each bpf_probe_read_kernel() costs ~40-60 ns on the development VM whatever its
 * size up to a few hundred bytes, so the program reads the span of sk_buff holding every field it needs in ONE call
 * (SKB_WIN_START/LEN, 8-byte aligned, computed from BTF by offsets.py), and likewise for net_device (DEV_WIN_*). */
#define ND_AT(win, type, off, start) (*(type *)((u8 *)(win) + (off) - (start)))

struct nd_skb {
	void *dev;
	void *head;
	void *data;
	u32 len;
	u32 data_len;
	u16 protocol;
	u16 mac;
	u16 net;
	u8 pkt_type;
};

#ifdef HOOK_TP_BTF
static __always_inline int nd_read_skb(void *skb, struct nd_skb *s)
{
	s->dev = ND_LOAD(void *, skb, OFF_SKB_DEV);
	s->head = ND_LOAD(void *, skb, OFF_SKB_HEAD);
	s->data = ND_LOAD(void *, skb, OFF_SKB_DATA);
	s->len = ND_LOAD(u32, skb, OFF_SKB_LEN);
	s->data_len = ND_LOAD(u32, skb, OFF_SKB_DATA_LEN);
	s->protocol = ND_LOAD(u16, skb, OFF_SKB_PROTOCOL);
	s->mac = ND_LOAD(u16, skb, OFF_SKB_MAC_HEADER);
	s->net = ND_LOAD(u16, skb, OFF_SKB_NETWORK_HEADER);
	s->pkt_type = (ND_LOAD(u8, skb, OFF_SKB_PKT_TYPE_BYTE) >> PKT_TYPE_SHIFT) & PKT_TYPE_MASK;
	return 0;
}

static __always_inline void nd_dev_ids_win(void *dev, u32 *netns, u32 *ifindex)
{
	*netns = 0;
	*ifindex = 0;
	if (!dev)
		return;
	*ifindex = ND_LOAD(u32, dev, OFF_DEV_IFINDEX);
	void *net = ND_LOAD(void *, dev, OFF_DEV_ND_NET);
	if (net)
		*netns = ND_LOAD(u32, net, OFF_NET_INUM);
}
#else
static __always_inline int nd_read_skb(void *skb, struct nd_skb *s)
{
#if SKB_WIN_LEN == 0 /* fields too far apart for one read on this kernel */
	u8 b = 0;
	s->dev = 0;
	s->head = 0;
	s->data = 0;
	s->len = 0;
	s->data_len = 0;
	s->protocol = 0;
	s->mac = ND_MAC_UNSET;
	s->net = ND_MAC_UNSET;
	ND_READ(s->dev, skb, OFF_SKB_DEV);
	ND_READ(s->head, skb, OFF_SKB_HEAD);
	ND_READ(s->data, skb, OFF_SKB_DATA);
	ND_READ(s->len, skb, OFF_SKB_LEN);
	ND_READ(s->data_len, skb, OFF_SKB_DATA_LEN);
	ND_READ(s->protocol, skb, OFF_SKB_PROTOCOL);
	ND_READ(s->mac, skb, OFF_SKB_MAC_HEADER);
	ND_READ(s->net, skb, OFF_SKB_NETWORK_HEADER);
	ND_READ(b, skb, OFF_SKB_PKT_TYPE_BYTE);
	s->pkt_type = (b >> PKT_TYPE_SHIFT) & PKT_TYPE_MASK;
	return 0;
#else
	u64 w[SKB_WIN_LEN / 8];
	if (bpf_probe_read_kernel(w, sizeof(w), skb + SKB_WIN_START))
		return -1;
	s->dev = ND_AT(w, void *, OFF_SKB_DEV, SKB_WIN_START);
	s->head = ND_AT(w, void *, OFF_SKB_HEAD, SKB_WIN_START);
	s->data = ND_AT(w, void *, OFF_SKB_DATA, SKB_WIN_START);
	s->len = ND_AT(w, u32, OFF_SKB_LEN, SKB_WIN_START);
	s->data_len = ND_AT(w, u32, OFF_SKB_DATA_LEN, SKB_WIN_START);
	s->protocol = ND_AT(w, u16, OFF_SKB_PROTOCOL, SKB_WIN_START);
	s->mac = ND_AT(w, u16, OFF_SKB_MAC_HEADER, SKB_WIN_START);
	s->net = ND_AT(w, u16, OFF_SKB_NETWORK_HEADER, SKB_WIN_START);
	s->pkt_type = (ND_AT(w, u8, OFF_SKB_PKT_TYPE_BYTE, SKB_WIN_START) >> PKT_TYPE_SHIFT) & PKT_TYPE_MASK;
	return 0;
#endif
}

static __always_inline void nd_dev_ids_win(void *dev, u32 *netns, u32 *ifindex)
{
#if DEV_WIN_LEN == 0 /* ifindex and nd_net too far apart for one read on this kernel (6.1) */
	nd_dev_ids(dev, netns, ifindex);
#else
	u64 w[DEV_WIN_LEN / 8];
	*netns = 0;
	*ifindex = 0;
	if (!dev || bpf_probe_read_kernel(w, sizeof(w), dev + DEV_WIN_START))
		return;
	*ifindex = ND_AT(w, u32, OFF_DEV_IFINDEX, DEV_WIN_START);
	void *net = ND_AT(w, void *, OFF_DEV_ND_NET, DEV_WIN_START);
	if (net)
		ND_READ(*netns, net, OFF_NET_INUM);
#endif
}
#endif /* HOOK_TP_BTF */

#endif
