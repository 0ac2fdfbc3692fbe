// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net over this process's memory, fed by a tap: see vhost_net.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>

#include "vhost_net.h"

#define TAP_NAME	"kmig-vhost"

/* Open @dev, loading @mod first if needed; -ENODEV when it has none. */
static int dev_load(const char *dev, const char *mod, char *why, size_t len)
{
	struct utsname u = { .release = "?" };
	char cmd[64];
	int fd, st;

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return close(fd);
	snprintf(cmd, sizeof(cmd), "modprobe -q %s", mod);
	st = system(cmd);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return close(fd);
	uname(&u);
	if (st) {
		snprintf(why, len, "%s: %s, and modprobe %s on kernel %s exited %d",
			 dev, strerror(errno), mod, u.release,
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -ENODEV;
	}
	snprintf(why, len, "%s: %s, with %s loaded", dev, strerror(errno), mod);
	return -errno;
}

int vnet_available(char *why, size_t len)
{
	int ret = dev_load("/dev/net/tun", "tun", why, len);

	return ret ? ret : dev_load("/dev/vhost-net", "vhost_net", why, len);
}

/* An interface ioctl on @s for the tap, its result in *@ifr. */
static int tap_ioctl(int s, unsigned long cmd, struct ifreq *ifr)
{
	strcpy(ifr->ifr_name, TAP_NAME);
	return ioctl(s, cmd, ifr) ? -errno : 0;
}

/* No IPv6 on links made from now on in this namespace: no DAD, no MLD. */
static int ipv6_off(void)
{
	int fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6",
		      O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (write(fd, "1", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

/* The tap, up with MTU @mtu, and a packet socket sending out of it. */
static int tap_open(struct vnet *v, unsigned int mtu)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int s, ret;

	ret = ipv6_off();
	if (ret)
		return ret;
	v->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (v->tap < 0)
		return -errno;
	ret = tap_ioctl(v->tap, TUNSETIFF, &ifr);
	if (ret)
		return ret;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	ifr.ifr_mtu = mtu;
	ret = tap_ioctl(s, SIOCSIFMTU, &ifr);
	if (!ret)
		ret = tap_ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!ret)
		ret = tap_ioctl(s, SIOCSIFFLAGS, &ifr);
	if (!ret)
		ret = tap_ioctl(s, SIOCGIFINDEX, &ifr);
	close(s);
	if (ret)
		return ret;
	v->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (v->pkt < 0)
		return -errno;
	ll.sll_ifindex = ifr.ifr_ifindex;
	return bind(v->pkt, (struct sockaddr *)&ll, sizeof(ll)) ? -errno : 0;
}

/* tap_open() in a network namespace of its own; this thread stays. */
static int tap_open_netns(struct vnet *v, unsigned int mtu)
{
	int here, ret;

	here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (here < 0)
		return -errno;
	ret = unshare(CLONE_NEWNET) ? -errno : tap_open(v, mtu);
	if (setns(here, CLONE_NEWNET) && !ret)
		ret = -errno;
	close(here);
	return ret;
}

static int vhost_set_mem(int fd, void *mem, size_t size)
{
	struct vhost_memory *m;
	int ret;

	m = calloc(1, sizeof(*m) + sizeof(m->regions[0]));
	if (!m)
		return -ENOMEM;
	m->nregions = 1;
	m->regions[0] = (struct vhost_memory_region) {
		.guest_phys_addr = 0,
		.memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};
	ret = ioctl(fd, VHOST_SET_MEM_TABLE, m) ? -errno : 0;
	free(m);
	return ret;
}

/* RX is queue 0 of vhost-net. */
static int vhost_start_rx(struct vnet *v, const struct vnet_ring *r)
{
	struct vhost_vring_state num = { .index = 0, .num = r->num };
	struct vhost_vring_state base = { .index = 0, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = 0,
		.desc_user_addr = (uintptr_t)r->desc,
		.avail_user_addr = (uintptr_t)r->avail,
		.used_user_addr = (uintptr_t)r->used,
	};
	struct vhost_vring_file kick = { .index = 0, .fd = v->kick };
	struct vhost_vring_file call = { .index = 0, .fd = v->call };
	struct vhost_vring_file backend = { .index = 0, .fd = v->tap };

	if (ioctl(v->vhost, VHOST_SET_VRING_NUM, &num) ||
	    ioctl(v->vhost, VHOST_SET_VRING_BASE, &base) ||
	    ioctl(v->vhost, VHOST_SET_VRING_ADDR, &addr) ||
	    ioctl(v->vhost, VHOST_SET_VRING_KICK, &kick) ||
	    ioctl(v->vhost, VHOST_SET_VRING_CALL, &call) ||
	    ioctl(v->vhost, VHOST_NET_SET_BACKEND, &backend))
		return -errno;
	return 0;
}

int vnet_open(struct vnet *v, void *mem, size_t size,
	      const struct vnet_ring *ring, unsigned int mtu)
{
	int ret;

	*v = (struct vnet) { -1, -1, -1, -1, -1 };
	ret = tap_open_netns(v, mtu);
	if (ret)
		return ret;
	v->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->vhost = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->kick < 0 || v->call < 0 || v->vhost < 0)
		return -errno;
	if (ioctl(v->vhost, VHOST_SET_OWNER))
		return -errno;
	ret = vhost_set_mem(v->vhost, mem, size);
	return ret ? ret : vhost_start_rx(v, ring);
}

void vnet_close(struct vnet *v)
{
	int *fds[] = { &v->vhost, &v->tap, &v->pkt, &v->kick, &v->call };

	for (unsigned int i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int vnet_kick(struct vnet *v)
{
	uint64_t one = 1;

	return write(v->kick, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

int vnet_send(struct vnet *v, const void *frame, size_t len)
{
	ssize_t n = send(v->pkt, frame, len, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static int ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int vnet_wait_used(struct vnet *v, const struct vnet_ring *ring,
		   uint16_t idx, int ms)
{
	struct pollfd p = { .fd = v->call, .events = POLLIN };
	struct timespec t0;
	uint64_t n;
	int left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (__atomic_load_n(&ring->used->idx, __ATOMIC_ACQUIRE) != idx) {
		left = ms - ms_since(&t0);
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, left) > 0 &&
		    read(v->call, &n, sizeof(n)) < 0 && errno != EAGAIN)
			return -errno;
	}
	return 0;
}
