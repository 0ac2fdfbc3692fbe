/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A vhost-net device over guest memory in this process (the VMM's role),
 * its RX queue fed by a tap device in a network namespace of its own.
 * Frames sent out of the tap through a packet socket are what vhost's
 * worker copies into the RX buffers. Every function returns 0 or -errno.
 */
#ifndef KMIG_TEST_VHOST_NET_H
#define KMIG_TEST_VHOST_NET_H

#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

/* The RX queue's split ring, each part in guest memory. */
struct vnet_ring {
	unsigned int num;		/* entries, a power of two */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

struct vnet {
	int vhost;	/* /dev/vhost-net */
	int tap;	/* the tap's queue, vhost's RX backend */
	int pkt;	/* packet socket bound to the tap */
	int kick, call;	/* the RX queue's eventfds */
};

/*
 * Load vhost_net and tun if they are modules: 0, or -ENODEV with the
 * reason in @why when this kernel has no vhost-net or no tun.
 */
int vnet_available(char *why, size_t len);

/*
 * Open the tap (link up, MTU @mtu, no IPv6 chatter) and vhost-net, give
 * vhost the @size bytes at @mem as guest memory from guest address 0 and
 * start RX queue 0 on @ring. Close with vnet_close() also on failure.
 */
int vnet_open(struct vnet *v, void *mem, size_t size,
	      const struct vnet_ring *ring, unsigned int mtu);
void vnet_close(struct vnet *v);

/* Tell vhost the avail ring moved. */
int vnet_kick(struct vnet *v);
/* Send @len bytes (an Ethernet frame) out of the tap, to vhost. */
int vnet_send(struct vnet *v, const void *frame, size_t len);
/* Wait up to @ms for the used index to reach @idx: 0 or -ETIMEDOUT. */
int vnet_wait_used(struct vnet *v, const struct vnet_ring *ring,
		   uint16_t idx, int ms);

/* Guest address of @p in guest memory at @mem. */
static inline uint64_t vnet_gpa(const void *mem, const void *p)
{
	return (const char *)p - (const char *)mem;
}

#endif /* KMIG_TEST_VHOST_NET_H */
