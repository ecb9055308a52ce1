// netdrop bench: send one prebuilt Ethernet frame as fast as possible on a raw packet socket (sendmmsg batches).
// Usage: flood IFNAME SECONDS HEXFRAME [THREADS]   -- prints the number of frames the kernel accepted.
// Built at bench time by bench/run.py; runs inside the lab's sender namespace only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static unsigned char frame[1514];
static size_t frame_len;
static int ifindex;
static double seconds;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *sender(void *arg)
{
	unsigned long long *sent = arg;
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	struct sockaddr_ll addr = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = ETH_ALEN};
	memcpy(addr.sll_addr, frame, ETH_ALEN);
	struct iovec iov = {.iov_base = frame, .iov_len = frame_len};
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &addr;
		msgs[i].msg_hdr.msg_namelen = sizeof(addr);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	double end = now() + seconds;
	while (now() < end) {
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			*sent += n;
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: flood IFNAME SECONDS HEXFRAME [THREADS]\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	seconds = atof(argv[2]);
	const char *hex = argv[3];
	int threads = argc > 4 ? atoi(argv[4]) : 1;
	if (!ifindex || seconds <= 0 || threads < 1 || threads > 16) {
		fprintf(stderr, "error: bad interface, duration or thread count\n");
		return 2;
	}
	frame_len = strlen(hex) / 2;
	if (frame_len < 14 || frame_len > sizeof(frame)) {
		fprintf(stderr, "error: bad frame\n");
		return 2;
	}
	for (size_t i = 0; i < frame_len; i++)
		sscanf(hex + 2 * i, "%2hhx", &frame[i]);
	pthread_t tid[16];
	unsigned long long sent[16] = {0}, total = 0;
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, sender, &sent[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		total += sent[i];
	}
	printf("%llu\n", total);
	return 0;
}
